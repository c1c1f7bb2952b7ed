package main

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// ConfigError is a problem with the config: an unknown key, a bad value, a
// syntax error, an unreadable file, or a value Validate refuses. Every verb
// exits with status 2 on it.
type ConfigError struct {
	File string // the config file as the user named it
	Line int    // 1-based line of the key in File; 0 when unknown or not in the file
	Key  string // dotted key, e.g. "scanner.frame_gap"; empty for file-level errors
	Msg  string // what is wrong, for a person
	Err  error  // the underlying error, if any (e.g. fs.ErrNotExist)
}

// Error formats the problem as "file:line: key: msg", leaving out the line
// or the key when there is none.
func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File == "" {
		b.WriteString("built-in defaults")
	}
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// maxReported is how many problems one error reports at most.
const maxReported = 10

// joinConfigErrors returns nil, the one error, or the first maxReported of
// errs in line order, joined; a last error counts those left out, and more
// besides.
func joinConfigErrors(errs []*ConfigError, more int) error {
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool {
		// Problems without a line (keys not in the file) go last.
		li, lj := errs[i].Line, errs[j].Line
		return li > 0 && (lj == 0 || li < lj)
	})
	if len(errs) > maxReported {
		more += len(errs) - maxReported
		errs = errs[:maxReported]
	}
	if more > 0 {
		errs = append(errs, &ConfigError{File: errs[0].File, Msg: fmt.Sprintf("and %d more problems", more)})
	}
	if len(errs) == 1 {
		return errs[0]
	}
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}

// locateDecodeError turns an error of the TOML decoder into *ConfigErrors
// naming line and key, and returns how many it left out.
//
// go-toml reports where it failed: unknown keys (StrictMissingError) and
// value errors (DecodeError with a Key) point into the key-value at fault,
// syntax errors (no Key) at where the parser noticed them. The index only
// adds what go-toml does not say: the full path of a member of an inline
// table, the line where a multi-line value's key is written, and what the
// value is, for the message.
func locateDecodeError(name string, idx *tomlIndex, err error) (errs []*ConfigError, more int) {
	var missing *toml.StrictMissingError
	if errors.As(err, &missing) {
		for i := range missing.Errors {
			if len(errs) == maxReported {
				return errs, len(missing.Errors) - i
			}
			de := &missing.Errors[i]
			line, col := de.Position()
			key, table := []string(de.Key()), false
			if e := idx.innermost(idx.offset(line, col), idx.entries); e != nil {
				key, table = e.key, !e.leaf
			}
			errs = append(errs, unknownKeyError(name, line, key, table))
		}
		return errs, 0
	}

	msg := strings.TrimPrefix(err.Error(), "toml: ")
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		// go-toml passes a TextUnmarshaler's error on a value that is not a
		// string (a float or boolean duration) back bare, with no position;
		// durationKinds reports those with their line.
		return []*ConfigError{{File: name, Msg: msg, Err: err}}, 0
	}
	line, col := de.Position()
	if len(de.Key()) == 0 {
		// The parser reports where it noticed the error, which for an
		// unterminated string or array can be far below where it starts.
		if start := idx.unparsedLine(); start < line {
			msg += fmt.Sprintf(" (in what starts on line %d)", start)
		}
		return []*ConfigError{{File: name, Line: line, Msg: "TOML syntax error: " + msg, Err: err}}, 0
	}
	ce := &ConfigError{File: name, Line: line, Key: formatKey(de.Key()), Msg: msg, Err: err}
	if e := idx.innermost(idx.offset(line, col), idx.entries); e != nil {
		ce.Line, ce.Key, ce.Msg = e.line, formatKey(e.key), valueMessage(e, msg)
	}
	return []*ConfigError{ce}, 0
}

// unknownKeyError describes a key (or a table, when table is set) that Config
// does not have, with a suggestion when a known one is close.
func unknownKeyError(name string, line int, key []string, table bool) *ConfigError {
	what := "unknown key"
	if table {
		what = "unknown table"
	}
	if s := suggestKey(key); s != "" {
		what += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return &ConfigError{File: name, Line: line, Key: formatKey(key), Msg: what}
}

// valueMessage words a decoding error for a person: type mismatches say what
// the key wants and what it got; other messages (a bad duration) stay.
func valueMessage(e *tomlEntry, msg string) string {
	if !strings.HasPrefix(msg, "cannot decode TOML") && !strings.HasPrefix(msg, "cannot store") {
		return msg
	}
	t, ok := knownKeys[formatKey(e.key)]
	if !ok {
		return msg
	}
	return fmt.Sprintf("want %s, got %s", describeType(t), e.kind)
}

// exactKeys reports keys that go-toml matched only case-insensitively
// ("Device" for "device"): the contract names keys exactly.
func exactKeys(name string, idx *tomlIndex) (errs []*ConfigError, more int) {
	for i := range idx.entries {
		e := &idx.entries[i]
		if _, ok := knownKeys[formatKey(e.key)]; ok {
			continue
		}
		if len(errs) == maxReported {
			more++
			continue
		}
		errs = append(errs, unknownKeyError(name, e.line, e.key, !e.leaf))
	}
	return errs, more
}

// durationKinds reports duration keys whose value is not a string: go-toml
// would store the integer 200 as 200ns, silently. The integer 0 is allowed,
// it means the same with or without a unit.
func durationKinds(name string, idx *tomlIndex) []*ConfigError {
	durationType := reflect.TypeFor[Duration]()
	var errs []*ConfigError
	for i := range idx.entries {
		e := &idx.entries[i]
		if !e.leaf || e.kind == kindString || knownKeys[formatKey(e.key)] != durationType {
			continue
		}
		if e.kind == kindInteger && strings.TrimLeft(string(idx.data[e.valStart:e.end]), "+-") == "0" {
			continue
		}
		msg := fmt.Sprintf("want %s, got %s", describeType(durationType), e.kind)
		if e.kind == kindInteger {
			msg += ": a bare number has no unit"
		}
		errs = append(errs, &ConfigError{File: name, Line: e.line, Key: formatKey(e.key), Msg: msg})
	}
	return errs
}

// suggestKey returns the known key closest to key (compared without case,
// at most two edits away), or the known key with the same last part in
// another table; "" when nothing is close.
func suggestKey(key []string) string {
	want := strings.ToLower(formatKey(key))
	if len(key) == 0 || len(want) > 64 {
		return ""
	}
	best, bestDist := "", 3
	for _, k := range knownKeyList {
		if strings.Count(k, ".") != len(key)-1 {
			continue
		}
		if d := editDistance(want, strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return best
	}
	last := strings.ToLower(key[len(key)-1])
	for _, k := range knownKeyList {
		if i := strings.LastIndexByte(k, '.'); i >= 0 && k[i+1:] == last {
			return k
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
