package main

import (
	"reflect"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// tomlIndex is where each key of a TOML document sits, built with go-toml's
// own parser so that it agrees with the decoder about every byte. It holds
// the keys parsed before the first syntax error, if any.
type tomlIndex struct {
	data       []byte
	lineStarts []int       // byte offset at which each line starts; [0] = 0
	entries    []tomlEntry // in document order; inline table members follow their table
	parsedEnd  int         // end of the last expression parsed
}

// tomlEntry is one key of the document: a [table] header, a key-value, or a
// key-value inside an inline table.
type tomlEntry struct {
	key        []string // full path from the root, e.g. ["scanner", "baud"]
	line       int      // 1-based line of the key's first part
	start, end int      // bytes of the header's key, or of the whole key-value
	valStart   int      // start of the value's text; key-values only
	leaf       bool     // a key-value whose value is not an inline table
	kind       string   // what the value is, for messages ("a string", "a table")
}

// indexTOML parses data as far as it is valid TOML.
func indexTOML(data []byte) *tomlIndex {
	idx := &tomlIndex{data: data, lineStarts: []int{0}}
	for i, c := range data {
		if c == '\n' {
			idx.lineStarts = append(idx.lineStarts, i+1)
		}
	}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		expr := p.Expression()
		switch expr.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, raws := keyParts(expr.Key())
			start := int(raws[0].Offset)
			last := raws[len(raws)-1]
			end := int(last.Offset + last.Length)
			table = parts
			idx.parsedEnd = end
			for idx.parsedEnd < len(data) && (data[idx.parsedEnd] == ']' || data[idx.parsedEnd] == ' ' || data[idx.parsedEnd] == '\t') {
				idx.parsedEnd++
			}
			kind := kindTable
			if expr.Kind == unstable.ArrayTable {
				kind = kindArrayTable
			}
			idx.entries = append(idx.entries, tomlEntry{
				key: parts, line: idx.line(start), start: start, end: end, kind: kind,
			})
		case unstable.KeyValue:
			idx.parsedEnd = int(expr.Raw.Offset + expr.Raw.Length)
			idx.addKeyValue(expr, table)
		}
	}
	return idx
}

// addKeyValue records a key-value under prefix, and the members of an inline
// table value under the key-value's own path.
func (idx *tomlIndex) addKeyValue(kv *unstable.Node, prefix []string) {
	parts, raws := keyParts(kv.Key())
	key := append(append([]string(nil), prefix...), parts...)
	start := int(kv.Raw.Offset)
	end := start + int(kv.Raw.Length)
	last := raws[len(raws)-1]
	val := int(last.Offset + last.Length)
	for val < end && (idx.data[val] == ' ' || idx.data[val] == '\t' || idx.data[val] == '=') {
		val++
	}
	value := kv.Value()
	idx.entries = append(idx.entries, tomlEntry{
		key: key, line: idx.line(int(raws[0].Offset)), start: start, end: end, valStart: val,
		leaf: value.Kind != unstable.InlineTable, kind: describeKind(value.Kind),
	})
	if value.Kind == unstable.InlineTable {
		it := value.Children()
		for it.Next() {
			if n := it.Node(); n.Kind == unstable.KeyValue {
				idx.addKeyValue(n, key)
			}
		}
	}
}

// keyParts returns the decoded parts of a (dotted) key and their raw ranges.
func keyParts(it unstable.Iterator) ([]string, []unstable.Range) {
	var parts []string
	var raws []unstable.Range
	for it.Next() {
		parts = append(parts, string(it.Node().Data))
		raws = append(raws, it.Node().Raw)
	}
	return parts, raws
}

// line returns the 1-based line of a byte offset.
func (idx *tomlIndex) line(offset int) int {
	return sort.Search(len(idx.lineStarts), func(i int) bool { return idx.lineStarts[i] > offset })
}

// offset returns the byte offset of a 1-based line and column, or -1.
func (idx *tomlIndex) offset(line, column int) int {
	if line < 1 || line > len(idx.lineStarts) || column < 1 {
		return -1
	}
	return idx.lineStarts[line-1] + column - 1
}

// innermost returns the smallest of entries whose bytes hold offset, or nil.
// entries is in document order, where two entries are either disjoint or
// one holds the other, so the innermost is the last one that starts at or
// before offset and holds it.
func (idx *tomlIndex) innermost(offset int, entries []tomlEntry) *tomlEntry {
	i := sort.Search(len(entries), func(i int) bool { return entries[i].start > offset })
	for i--; i >= 0; i-- {
		if e := &entries[i]; offset < e.end {
			return e
		}
	}
	return nil
}

// unparsedLine returns the line on which the first expression that did not
// parse starts: the first line after the parsed ones that holds more than
// blanks and comments.
func (idx *tomlIndex) unparsedLine() int {
	i := idx.parsedEnd
	for i < len(idx.data) {
		switch idx.data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		case '#':
			for i < len(idx.data) && idx.data[i] != '\n' {
				i++
			}
		default:
			return idx.line(i)
		}
	}
	return idx.line(i)
}

// lines maps the dotted path of every key to its line.
func (idx *tomlIndex) lines() map[string]int {
	m := make(map[string]int, len(idx.entries))
	for _, e := range idx.entries {
		k := formatKey(e.key)
		if _, ok := m[k]; !ok {
			m[k] = e.line
		}
	}
	return m
}

// isBareKey reports whether s can be written as a bare TOML key.
func isBareKey(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// formatKey writes a key path for people: bare parts as they are, others
// quoted, joined by dots ("scanner.baud", `a."b.c"`).
func formatKey(key []string) string {
	var b strings.Builder
	for i, k := range key {
		if i > 0 {
			b.WriteByte('.')
		}
		if isBareKey(k) {
			b.WriteString(k)
			continue
		}
		b.WriteByte('"')
		for j := 0; j < len(k); j++ {
			switch c := k[j]; {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < 0x20 || c == 0x7f:
				const hex = "0123456789ABCDEF"
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&15])
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
	}
	if b.Len() == 0 {
		return `""`
	}
	return b.String()
}

// What TOML values are, in messages; tomlEntry.kind holds one of these.
const (
	kindString     = "a string"
	kindInteger    = "an integer"
	kindTable      = "a table"
	kindArrayTable = "an array of tables"
)

// describeKind names a TOML value kind for messages.
func describeKind(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return kindString
	case unstable.Integer:
		return kindInteger
	case unstable.Float:
		return "a float"
	case unstable.Bool:
		return "a boolean"
	case unstable.Array:
		return "an array"
	case unstable.InlineTable:
		return kindTable
	default:
		return "a date/time"
	}
}

// describeType names what a Config field wants, for messages.
func describeType(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[Duration]():
		return `a duration string such as "15s"`
	case t.Kind() == reflect.Struct:
		return kindTable
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Int:
		return "an integer"
	default:
		return t.String()
	}
}

// knownKeys maps every dotted key of Config ("scanner", "scanner.baud") to
// its Go type; knownKeyList holds the same keys sorted.
var knownKeys, knownKeyList = configKeys()

func configKeys() (map[string]reflect.Type, []string) {
	m := map[string]reflect.Type{}
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if !f.IsExported() || tag == "" || tag == "-" {
				continue
			}
			key := prefix + tag
			m[key] = f.Type
			if f.Type.Kind() == reflect.Struct {
				walk(key+".", f.Type)
			}
		}
	}
	walk("", reflect.TypeFor[Config]())
	list := make([]string, 0, len(m))
	for k := range m {
		list = append(list, k)
	}
	sort.Strings(list)
	return m, list
}
