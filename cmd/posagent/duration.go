package main

import (
	"fmt"
	"time"
)

// Duration is a time.Duration that reads and writes itself in config files as
// a Go duration string: "200ms", "15s", "5m", "72h". "0" (or the TOML integer
// 0) is zero. Negative values parse; Validate rejects them where they make no
// sense.
type Duration time.Duration

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// String formats d the way time.Duration does ("1m30s").
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Go duration string. The error does not name the key
// or the line: LoadConfig adds both.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a Go duration such as \"200ms\", \"15s\", \"5m\" or \"72h\"", b)
	}
	*d = Duration(v)
	return nil
}
