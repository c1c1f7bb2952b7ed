package main

import (
	"strings"
	"testing"
	"time"
)

func TestValidateReconcile(t *testing.T) {
	tests := []struct {
		name, text string
		line       int
		key, msg   string
	}{
		{"at not a time", "[reconcile]\nat = \"25:00\"\n", 2, "reconcile.at", `time of day such as "10:00"`},
		{"at with seconds", "[reconcile]\nat = \"10:00:00\"\n", 2, "reconcile.at", `not "10:00:00"`},
		{"at one digit hour", "[reconcile]\n\nat = \"9:30\"\n", 3, "reconcile.at", "HH:MM"},
		{"unknown zone", "[reconcile]\ntimezone = \"Mars/Olympus\"\n", 2, "reconcile.timezone", `IANA time zone such as "Asia/Shanghai"`},
		{"empty zone", "[reconcile]\ntimezone = \"\"\n", 2, "reconcile.timezone", `not ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, t.TempDir(), tt.text)
			cfg, err := LoadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			err = cfg.Validate()
			var found *ConfigError
			for _, e := range configErrors(t, err) {
				if e.Key == tt.key {
					found = e
				}
			}
			if found == nil {
				t.Fatalf("no error for %s in %v", tt.key, err)
			}
			if found.File != path || found.Line != tt.line || !strings.Contains(found.Msg, tt.msg) {
				t.Errorf("got  %s:%d %q\nwant %s:%d ...%q...", found.File, found.Line, found.Msg, path, tt.line, tt.msg)
			}
		})
	}

	for _, ok := range []string{"[reconcile]\nat = \"\"\n", "[reconcile]\nat = \"23:59\"\ntimezone = \"Europe/Berlin\"\n", "[reconcile]\ntimezone = \"UTC\"\n"} {
		cfg, err := LoadConfig(writeConfig(t, t.TempDir(), ok))
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	def := DefaultConfig().Reconcile
	loc, err := def.Location()
	if def.At != "10:00" || err != nil || time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).In(loc).Hour() != 8 {
		t.Fatalf("defaults %+v, %v, %v", def, loc, err)
	}
}
