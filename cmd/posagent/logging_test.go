package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// The terminal log shows durations with their unit; the JSON lines keep
// milliseconds (docs/LOGS.md).
func TestConsoleDurationsHaveAUnit(t *testing.T) {
	var console, jsonOut bytes.Buffer
	cw := consoleWriter(&console)
	cw.NoColor = true
	for _, w := range []zerolog.Logger{zerolog.New(cw), zerolog.New(&jsonOut)} {
		w.Info().Dur("took", 2597230*time.Nanosecond).Dur("drain", 10*time.Second).
			Dur("age", 90*time.Minute).Str("note", "2.5").Msg("x")
	}
	for _, want := range []string{"took=2.597ms", "drain=10s", "age=1h30m0s", "note=2.5"} {
		if !strings.Contains(console.String(), want) {
			t.Errorf("console line %q lacks %q", console.String(), want)
		}
	}
	if !strings.Contains(jsonOut.String(), `"took":2.59723`) {
		t.Errorf("JSON line changed: %s", jsonOut.String())
	}
}

func TestFormatMillis(t *testing.T) {
	for ms, want := range map[float64]string{0: "0s", 0.0123: "12µs", 2.59723: "2.597ms", 1500: "1.5s", 300000: "5m0s"} {
		if got := formatMillis(ms); got != want {
			t.Errorf("formatMillis(%v) = %q, want %q", ms, got, want)
		}
	}
}
