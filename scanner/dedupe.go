package scanner

import "time"

// dedupe lets a code through once per window: a repeat within window of the
// last accepted scan of the same code is dropped. Scanners in presentation
// mode read a phone held under them several times a second.
type dedupe struct {
	window time.Duration // 0: every scan passes
	seen   map[string]time.Time
}

// admit reports whether code, scanned at at, counts as a new scan.
func (d *dedupe) admit(code string, at time.Time) bool {
	if d.window <= 0 {
		return true
	}
	if d.seen == nil {
		d.seen = make(map[string]time.Time)
	}
	for c, t := range d.seen {
		if at.Sub(t) >= d.window {
			delete(d.seen, c)
		}
	}
	if t, ok := d.seen[code]; ok && at.Sub(t) < d.window {
		return false
	}
	d.seen[code] = at
	return true
}
