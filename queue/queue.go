package queue

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/clock"
)

// Handler runs one attempt of a job. It returns the result to record
// (JSON-encoded; nil for none) or an error: Permanent(err) for a failure no
// retry can fix, an error wrapping ErrOffline (or a gateway error for which
// gateway.IsUnreachable holds) when the remote could not be reached, or any
// other error for a failed attempt, optionally wrapped by Retry to set a
// minimum delay. ctx ends at Options.JobTimeout or when Run stops. A handler must send
// job.Key to the remote side so that a repeat is harmless: a job runs at
// least once, and again after a crash that came before its outcome was
// committed.
type Handler func(ctx context.Context, job Job) (result any, err error)

// Queue is the durable job queue. Create it with Open, register handlers
// with Handle, then call Run once. Enqueue, Get, List, Retry, Drop, Depth
// and Online may be called from any goroutine at any time.
type Queue struct {
	db     *bolt.DB
	opts   Options
	clk    clock.Clock
	log    *zerolog.Logger
	commit committer

	notify  chan struct{}
	started atomic.Bool

	mu       sync.Mutex
	handlers map[string]handlerEntry
	remotes  map[string]*remote
}

type handlerEntry struct {
	h      Handler
	remote *remote
}

// Open prepares the queue in db, creating its buckets if they are missing.
// It reads no jobs, so it costs the same with 100,000 pending as with none.
// The caller keeps ownership of db and closes it after Run returned.
func Open(db *bolt.DB, opts Options) (*Queue, error) {
	if db == nil {
		return nil, fmt.Errorf("queue: nil DB")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	// A View first: on every start but the first, the buckets exist and
	// Open writes nothing (a write costs two fsyncs).
	exists := db.View(func(tx *bolt.Tx) error { _, err := open(tx); return err }) == nil
	if !exists {
		if err := db.Update(createBuckets); err != nil {
			return nil, err
		}
	}
	q := &Queue{
		db:       db,
		opts:     o,
		clk:      clock.Steady(o.Clock),
		log:      o.Logger,
		commit:   committer{db: db},
		notify:   make(chan struct{}, 1),
		handlers: make(map[string]handlerEntry),
		remotes:  make(map[string]*remote),
	}
	return q, nil
}

// Remotes a job kind can belong to.
const (
	// RemoteGateway is the Alipay gateway.
	RemoteGateway = "gateway"
	// RemoteReport is the merchant backend at [coupons] report_url.
	RemoteReport = "report"
)

// RemoteOf returns the remote that jobs of kind talk to: RemoteReport for
// coupon_report, RemoteGateway for every other kind.
func RemoteOf(kind string) string {
	if kind == KindCouponReport {
		return RemoteReport
	}
	return RemoteGateway
}

// Handle registers h for jobs of kind; their remote is RemoteOf(kind).
// It must be called before Run; it panics on a second handler for a kind,
// a nil handler, an invalid kind, or a call after Run started.
func (q *Queue) Handle(kind string, h Handler) {
	q.HandleRemote(kind, RemoteOf(kind), h)
}

// HandleRemote is Handle with the remote named explicitly. RemoteGateway
// and RemoteReport take their Prober from Options.Gateway and
// Options.Report, and their jobs go offline and come back together; a job
// of a remote without a Prober that finds it unreachable waits
// ProbeInterval alone.
func (q *Queue) HandleRemote(kind, remoteName string, h Handler) {
	if err := validKind(kind); err != nil {
		panic(err)
	}
	if h == nil || remoteName == "" {
		panic("queue: Handle " + kind + ": nil handler or empty remote")
	}
	if q.started.Load() {
		panic("queue: Handle " + kind + " after Run")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, dup := q.handlers[kind]; dup {
		panic("queue: second handler for " + kind)
	}
	r := q.remotes[remoteName]
	if r == nil {
		r = &remote{name: remoteName}
		switch remoteName {
		case RemoteGateway:
			r.prober = q.opts.Gateway
		case RemoteReport:
			r.prober = q.opts.Report
		}
		q.remotes[remoteName] = r
	}
	r.kinds = append(r.kinds, kind)
	sort.Strings(r.kinds)
	q.handlers[kind] = handlerEntry{h: h, remote: r}
}

// Notify wakes the scheduler, e.g. after the commit of a transaction that
// called EnqueueTx. It never blocks.
func (q *Queue) Notify() {
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// Online reports whether every remote with a registered handler is
// reachable as far as the queue knows: its Prober says so, or, for a
// remote without one, no attempt found it unreachable since it last
// answered.
func (q *Queue) Online() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range q.remotes {
		if !r.status().Online {
			return false
		}
	}
	return true
}

// RemoteStatus describes one remote for status reports.
type RemoteStatus struct {
	// Name is RemoteGateway, RemoteReport or a name given to HandleRemote.
	Name string `json:"name"`
	// Online is the remote's Prober state; without one, false from an
	// attempt that found it unreachable until an attempt gets an answer.
	Online bool `json:"online"`
	// Since is when the outage began (zero when online).
	Since time.Time `json:"since,omitzero"`
	// LastErr is the latest error that found the remote unreachable.
	LastErr string `json:"last_error,omitempty"`
}

// Remotes reports the state of every remote, sorted by name.
func (q *Queue) Remotes() []RemoteStatus {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]RemoteStatus, 0, len(q.remotes))
	for _, r := range q.remotes {
		out = append(out, r.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
