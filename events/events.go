// Package events is the daemon's change feed: every change of a checkout,
// refund or job is published here once, with an increasing id, and read by
// the Server-Sent Events route (GET /v1/events) and the status page. It
// keeps the most recent events in a ring so a client that reconnects with
// Last-Event-ID misses nothing that is still there, and it bounds memory:
// a fixed ring, a fixed buffer per subscriber, a cap on subscribers.
package events

import (
	"encoding/json"
	"errors"
	"sync"
	"time"
)

// Defaults for the zero values of Options.
const (
	DefaultHistory     = 1024
	DefaultBuffer      = 256
	DefaultSubscribers = 16
)

// ErrTooManySubscribers is returned by Subscribe when Options.Subscribers
// clients are connected already.
var ErrTooManySubscribers = errors.New("events: too many subscribers")

// Event is one change.
type Event struct {
	// ID increases by one per event. The first id of a run is the start
	// time in microseconds, so ids keep increasing across restarts.
	ID uint64
	// Kind is what changed: "checkout", "refund", "job", …
	Kind string
	// Data is the object as it is now, JSON-encoded.
	Data json.RawMessage
}

// Options configure a Broker; the zero value of each field means its
// default.
type Options struct {
	// History is how many recent events are kept for resuming clients.
	// Default 1024.
	History int
	// Buffer is how many events may wait for one slow subscriber before it
	// is cut off (it then reconnects and resumes). Default 256.
	Buffer int
	// Subscribers caps the connected clients. Default 16.
	Subscribers int
	// Start is the time the first id is taken from. Default time.Now().
	Start time.Time
}

// Broker fans events out to subscribers. Safe for concurrent use.
type Broker struct {
	opts Options

	mu   sync.Mutex
	next uint64
	ring []Event // the last opts.History events, oldest first once full
	head int     // index of the oldest event in ring when full
	subs map[*Subscription]struct{}
}

// New returns a Broker.
func New(o Options) *Broker {
	if o.History <= 0 {
		o.History = DefaultHistory
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.Subscribers <= 0 {
		o.Subscribers = DefaultSubscribers
	}
	if o.Start.IsZero() {
		o.Start = time.Now()
	}
	return &Broker{opts: o, next: uint64(o.Start.UnixMicro()), subs: make(map[*Subscription]struct{})}
}

// Publish records a change of kind whose current state is v. A value that
// cannot be encoded is dropped (it is a programming error, and a change
// feed must never block the commit that produced it). A nil Broker
// ignores the call, so components can publish unconditionally.
func (b *Broker) Publish(kind string, v any) {
	if b == nil {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ev := Event{ID: b.next, Kind: kind, Data: data}
	b.next++
	if len(b.ring) < b.opts.History {
		b.ring = append(b.ring, ev)
	} else {
		b.ring[b.head] = ev
		b.head = (b.head + 1) % len(b.ring)
	}
	for s := range b.subs {
		select {
		case s.ch <- ev:
		default:
			// Too slow: cut it off rather than hold memory or the
			// publisher. It resumes from the ring with Last-Event-ID.
			b.drop(s)
			s.Lagged = true
		}
	}
}

// Subscription is one client's feed. Read C until it is closed.
type Subscription struct {
	// C delivers the events after the backlog; it is closed when the
	// subscriber fell too far behind or Close was called.
	C <-chan Event
	// Lagged is set (before C is closed) when the subscriber was cut off
	// for falling behind.
	Lagged bool

	ch chan Event
	b  *Broker
}

// Subscribe starts a feed. lastID is the Last-Event-ID the client saw (0
// for none): the events after it that the ring still holds are returned
// as backlog, and gap is true when some were already gone (the client
// should reload everything). Errors: ErrTooManySubscribers.
func (b *Broker) Subscribe(lastID uint64) (s *Subscription, backlog []Event, gap bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.subs) >= b.opts.Subscribers {
		return nil, nil, false, ErrTooManySubscribers
	}
	ch := make(chan Event, b.opts.Buffer)
	s = &Subscription{C: ch, ch: ch, b: b}
	b.subs[s] = struct{}{}
	if lastID == 0 {
		return s, nil, false, nil
	}
	ordered := append(append([]Event(nil), b.ring[b.head:]...), b.ring[:b.head]...)
	switch {
	case lastID >= b.next:
		// From a later run whose clock ran ahead, or made up: reload.
		gap = true
	case len(ordered) == 0 || lastID+1 < ordered[0].ID:
		gap = lastID+1 < b.next
	}
	for _, ev := range ordered {
		if ev.ID > lastID {
			backlog = append(backlog, ev)
		}
	}
	return s, backlog, gap, nil
}

// Close ends the subscription and closes C. Safe to call twice.
func (s *Subscription) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.drop(s)
}

// drop removes s and closes its channel; b.mu is held.
func (b *Broker) drop(s *Subscription) {
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		close(s.ch)
	}
}

// Subscribers returns how many clients are connected.
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}
