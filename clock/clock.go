// Package clock is the time source that checkout and queue take instead of
// calling time.Now, so tests can run days of retries in milliseconds.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and waits. Real is the wall clock; Fake is moved by
// hand in tests.
type Clock interface {
	// Now is the wall-clock time: it jumps when the system clock is set.
	Now() time.Time
	// Mono is the time elapsed since an arbitrary fixed origin, measured
	// monotonically: setting the wall clock never moves it.
	Mono() time.Duration
	// After is like time.After: the channel receives the time once d has
	// passed on this clock, measured monotonically.
	After(d time.Duration) <-chan time.Time
}

// Real is the wall clock.
type Real struct{}

// origin is Real's monotonic origin.
var origin = time.Now()

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Mono returns the monotonic time since the process started.
func (Real) Mono() time.Duration { return time.Since(origin) }

// After returns time.After(d).
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Steady returns a Clock whose Now is the wall time read once, now, plus
// the monotonic time elapsed since: schedules kept on it (deadlines,
// backoffs, ages) are immune to wall-clock steps while the process runs,
// like a cashier PC whose clock NTP corrects an hour after boot. Use it
// for "when is this due"; use the wall clock for timestamps a person reads.
func Steady(c Clock) Clock {
	c = Or(c)
	if s, ok := c.(*steady); ok {
		return s
	}
	return &steady{c: c, wall: c.Now(), mono: c.Mono()}
}

type steady struct {
	c    Clock
	wall time.Time
	mono time.Duration
}

func (s *steady) Now() time.Time {
	// Round(0) strips the monotonic reading, so comparisons use the sum.
	return s.wall.Round(0).Add(s.c.Mono() - s.mono)
}

func (s *steady) Mono() time.Duration                    { return s.c.Mono() }
func (s *steady) After(d time.Duration) <-chan time.Time { return s.c.After(d) }

// Or returns c, or Real when c is nil: the zero value of a Clock field means
// the wall clock.
func Or(c Clock) Clock {
	if c == nil {
		return Real{}
	}
	return c
}

// Fake is a Clock that moves only when told. Safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	mono    time.Duration
	waiters []waiter
	changed chan struct{}
}

type waiter struct {
	at time.Duration // on the monotonic reading
	ch chan time.Time
}

// NewFake returns a Fake clock reading start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Mono returns the fake monotonic time: the sum of every Advance.
func (f *Fake) Mono() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mono
}

// Step sets the wall clock d forward (or back, for d < 0) without time
// passing, as an administrator or NTP does: Now jumps, Mono and the After
// channels do not move.
func (f *Fake) Step(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	f.signal()
}

// After returns a channel that receives once the fake time reaches now+d.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- f.now
		return ch
	}
	f.waiters = append(f.waiters, waiter{at: f.mono + d, ch: ch})
	f.signal()
	return ch
}

// Advance lets d pass: it moves the wall and the monotonic clock forward by
// d and fires every waiter that is due,
// in time order.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	f.mono += d
	sort.SliceStable(f.waiters, func(i, j int) bool { return f.waiters[i].at < f.waiters[j].at })
	keep := f.waiters[:0]
	for _, w := range f.waiters {
		if w.at <= f.mono {
			w.ch <- f.now
			continue
		}
		keep = append(keep, w)
	}
	f.waiters = keep
	f.signal()
}

// Waiters returns how many After channels are pending.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// BlockUntil waits (in real time, up to timeout) until at least n After
// channels are pending, so a test can advance the clock only once the code
// under test is waiting on it. It reports whether that happened.
func (f *Fake) BlockUntil(n int, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		f.mu.Lock()
		if len(f.waiters) >= n {
			f.mu.Unlock()
			return true
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return false
		}
	}
}

// signal wakes BlockUntil callers; f.mu must be held.
func (f *Fake) signal() {
	close(f.changed)
	f.changed = make(chan struct{})
}
