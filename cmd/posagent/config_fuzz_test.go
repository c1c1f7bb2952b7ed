package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzLoadConfig feeds arbitrary bytes to the config parser: it must not
// panic, and it must return either a Config or *ConfigError(s) whose lines
// lie within the document.
func FuzzLoadConfig(f *testing.F) {
	if example, err := os.ReadFile("../../config.example.toml"); err == nil {
		f.Add(example)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseConfig("fuzz.toml", data)
		if err == nil {
			_ = cfg.Validate() // must not panic either
			return
		}
		text := bytes.Split(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), []byte("\n"))
		for _, e := range configErrors(t, err) {
			if e.File != "fuzz.toml" || e.Line < 0 || e.Line > len(text) || e.Msg == "" {
				t.Fatalf("bad error %#v for %q", e, data)
			}
			// A key is blamed on the line where it is written.
			last := e.Key[strings.LastIndexByte(e.Key, '.')+1:]
			if e.Line > 0 && isBareKey(last) && !bytes.Contains(text[e.Line-1], []byte(last)) {
				t.Fatalf("%s: line %d %q does not hold %q\n%q", err, e.Line, text[e.Line-1], last, data)
			}
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("not a *ConfigError: %v", err)
		}
	})
}
