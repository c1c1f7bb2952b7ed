//go:build linux

package testenv

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// LogLine is one JSON line of the daemon's log.
type LogLine map[string]any

// Str returns the string field k, or "".
func (l LogLine) Str(k string) string {
	s, _ := l[k].(string)
	return s
}

// Has reports whether field k is present.
func (l LogLine) Has(k string) bool {
	_, ok := l[k]
	return ok
}

// RawLog returns the bytes of the log file and its rotated backups.
func (e *Env) RawLog(tb testing.TB) []byte {
	tb.Helper()
	files, _ := filepath.Glob(strings.TrimSuffix(e.LogFile, ".log") + "*.log")
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// Log returns the daemon's log lines. A line that is not a JSON object
// fails the test: a store's log shipper could not read it.
func (e *Env) Log(tb testing.TB) []LogLine {
	tb.Helper()
	var lines []LogLine
	for i, raw := range bytes.Split(e.RawLog(tb), []byte("\n")) {
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		var l LogLine
		if err := json.Unmarshal(raw, &l); err != nil {
			tb.Errorf("log line %d is not JSON: %v: %q", i+1, err, raw)
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// Events returns the log lines with event ev.
func (e *Env) Events(tb testing.TB, ev string) []LogLine {
	tb.Helper()
	var out []LogLine
	for _, l := range e.Log(tb) {
		if l.Str("event") == ev {
			out = append(out, l)
		}
	}
	return out
}

// checkLogSecrets fails the test if a payment code the test scanned or
// handed over, or the API token, appears in the log or in a daemon's
// output (SPEC §4, §9: codes only masked, tokens never), or if the race
// detector (go test -race) reported a race in a daemon.
func (e *Env) checkLogSecrets(tb testing.TB) {
	secrets := map[string]string{} // secret → what it is
	for _, c := range append(e.Scanner.Codes(), e.handed()...) {
		secrets[c] = "payment code " + c
	}
	if tok, err := os.ReadFile(e.TokenFile); err == nil && len(bytes.TrimSpace(tok)) > 0 {
		secrets[string(bytes.TrimSpace(tok))] = "the API token"
	}
	sources := map[string][]byte{"log file": e.RawLog(tb)}
	outs, _ := filepath.Glob(filepath.Join(e.Dir, "run-*.out"))
	for _, f := range outs {
		b, _ := os.ReadFile(f)
		sources[filepath.Base(f)] = b
	}
	for name, data := range sources {
		if bytes.Contains(data, []byte("WARNING: DATA RACE")) {
			tb.Errorf("the race detector reported a data race in the daemon (%s):\n%s", name, data)
		}
		for s, what := range secrets {
			if len(s) >= 8 && bytes.Contains(data, []byte(s)) {
				tb.Errorf("%s appears in full in the daemon's %s", what, name)
			}
		}
	}
}

// Handed records a payment code given to the daemon other than by the
// scanner (auth_code, posagent pay --code), for the log checks.
func (e *Env) Handed(code string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.handedCodes = append(e.handedCodes, code)
}

func (e *Env) handed() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.handedCodes...)
}
