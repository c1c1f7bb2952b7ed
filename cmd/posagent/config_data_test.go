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
	if err == nil || !strings.Contains(err.Error(), path+":5: data.retention: must be at least 24h") {
		t.Fatalf("retention 1h: %v", err)
	}
}
