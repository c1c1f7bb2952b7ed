package main

import (
	"strings"
	"testing"
	"time"
)

// [data] retention parses as a duration, defaults to 400 days, and a value
// under a day is refused with file, line and key.
func TestDataRetention(t *testing.T) {
	dir := t.TempDir()
	cfg, err := LoadConfig(writeConfig(t, dir, "[data]\nretention = \"720h\"\n"))
	if err != nil || cfg.Data.Retention != Duration(720*time.Hour) || cfg.Validate() != nil {
		t.Fatalf("retention = %v, %v, %v", cfg.Data.Retention, err, cfg.Validate())
	}
	if d := DefaultConfig().Data.Retention; d != Duration(9600*time.Hour) {
		t.Fatalf("default retention = %s", d)
	}
	path := writeConfig(t, dir, "[terminal]\nterminal_id = \"T01\"\n\n[data]\nretention = \"1h\"\n")
	cfg, err = LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), path+":5: data.retention: must be at least 72h") {
		t.Fatalf("retention 1h: %v", err)
	}
}

// A decision_deadline error always names a line: the deadline's own, or,
// when only query_interval is in the file, the line that set it too long.
func TestDecisionDeadlineErrorHasALine(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ text, want string }{
		{"[checkout]\nquery_interval = \"3s\"\ndecision_deadline = \"1s\"\n", ":3: checkout.decision_deadline: must be longer than checkout.query_interval (3s), not 1s"},
		{"[checkout]\nquery_interval = \"90s\"\n", ":2: checkout.query_interval: must be shorter than checkout.decision_deadline (1m0s, its default), not 1m30s"},
		{"[checkout]\ndecision_deadline = \"2s\"\n", ":2: checkout.decision_deadline: must be longer than checkout.query_interval (3s), not 2s"},
	} {
		path := writeConfig(t, dir, tt.text)
		cfg, err := LoadConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), path+tt.want) {
			t.Errorf("%q: %v\nwant ...%s", tt.text, err, tt.want)
		}
	}
}
