// Package probe owns one answer: can a remote (the Alipay gateway, the
// merchant backend) be reached right now? A Probe keeps that state
// (online or offline, since when, the last error), learns "offline" from
// the real calls that found the remote unreachable (Unreachable) and
// "online" from its own harmless call (Options.Check), made at once when
// the remote goes offline and then every Interval until it answers.
//
// A Probe is not a job: a job's business answer (a refusal, a validation
// error) never tells it anything, so a job refused for good cannot keep a
// remote "offline". Package queue reads it to hold a remote's jobs while
// it is offline and to start them the moment it is back (Changed).
package probe

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"posagent/clock"
)

// Defaults and bounds of Options.Interval.
const (
	// DefaultInterval is how often an offline remote is checked.
	DefaultInterval = 5 * time.Second
	// MaxInterval is the contract's bound (SPEC §4): an unreachable gateway
	// is probed at least every 10 s.
	MaxInterval = 10 * time.Second
)

// Options configure a Probe. The zero value of every field but Check means
// its default.
type Options struct {
	// Name names the remote in logs and Status, e.g. "gateway". Default
	// "remote".
	Name string
	// Check makes one harmless call to the remote (for the gateway a signed
	// query, see GatewayCheck; for an HTTP backend a HEAD, see HTTPCheck).
	// It returns nil when the remote answered, whatever the answer, and an
	// error when it could not be reached. ctx ends after Timeout. Required.
	Check func(ctx context.Context) error
	// Interval is the time from the start of one check of an offline remote
	// to the start of the next. Default 5 s; at most MaxInterval (10 s).
	Interval time.Duration
	// Timeout bounds one Check (its ctx deadline). Default MaxInterval
	// (10 s). A check that outlasts Interval is followed by the next at
	// once, so a remote that swallows packets always has a check under
	// way, and a slow one that answers within Timeout is seen back.
	Timeout time.Duration
	// Clock times the checks (monotonic) and stamps Since (wall). Default
	// the wall clock.
	Clock clock.Clock
	// Logger receives a debug line per failed check (event probe_failed).
	// State changes are logged by the components that act on them (the
	// queue: queue_offline, queue_online). Default: no logging.
	Logger *zerolog.Logger
}

// Probe is the reachability state of one remote. Create it with New and
// call Run once; the other methods may be called from any goroutine at any
// time, before and after Run.
type Probe struct {
	name     string
	check    func(ctx context.Context) error
	interval time.Duration
	timeout  time.Duration
	clk      clock.Clock
	log      *zerolog.Logger

	wake chan struct{} // an online → offline change: check at once

	mu        sync.Mutex
	online    bool
	since     time.Time
	lastErr   string
	lastCheck time.Time
	changed   chan struct{} // closed and replaced on every change
}

// Status describes a Probe for status reports.
type Status struct {
	// Name is Options.Name.
	Name string `json:"name"`
	// Online is false from a call that found the remote unreachable until
	// a check (or a real call) gets an answer. A Probe starts online.
	Online bool `json:"online"`
	// Since is when the current state began (zero: online since start).
	Since time.Time `json:"since,omitzero"`
	// LastError is the latest error that found the remote unreachable
	// ("" when online).
	LastError string `json:"last_error,omitempty"`
	// LastCheck is when the latest Check started (zero if none yet).
	LastCheck time.Time `json:"last_check,omitzero"`
}

// New returns a Probe, online until told otherwise. Errors: no Check, a
// negative duration, Interval above MaxInterval.
func New(o Options) (*Probe, error) {
	if o.Check == nil {
		return nil, errors.New("probe: no Check")
	}
	if o.Name == "" {
		o.Name = "remote"
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Timeout == 0 {
		o.Timeout = MaxInterval
	}
	switch {
	case o.Interval < 0 || o.Timeout < 0:
		return nil, fmt.Errorf("probe %s: negative duration", o.Name)
	case o.Interval > MaxInterval:
		return nil, fmt.Errorf("probe %s: Interval %s exceeds %s", o.Name, o.Interval, MaxInterval)
	}
	if o.Logger == nil {
		nop := zerolog.Nop()
		o.Logger = &nop
	}
	return &Probe{
		name: o.Name, check: o.Check, interval: o.Interval, timeout: o.Timeout,
		clk: clock.Or(o.Clock), log: o.Logger,
		wake: make(chan struct{}, 1), online: true, changed: make(chan struct{}),
	}, nil
}

// Name returns Options.Name.
func (p *Probe) Name() string { return p.name }

// Interval returns the check interval in effect.
func (p *Probe) Interval() time.Duration { return p.interval }

// Online reports whether the remote is reachable as far as p knows.
func (p *Probe) Online() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.online
}

// Status returns p's state.
func (p *Probe) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Status{Name: p.name, Online: p.online, Since: p.since, LastError: p.lastErr, LastCheck: p.lastCheck}
}

// Changed returns a channel that is closed at the next change of Online.
// Take a new one after each change.
func (p *Probe) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// Unreachable reports that a real call could not reach the remote (no
// answer: connection refused, DNS, timeout); err says how. An online Probe
// goes offline and checks at once; an offline one keeps err as its
// LastError. Call it only for transport failures, never for an answer.
func (p *Probe) Unreachable(err error) {
	msg := "unreachable"
	if err != nil {
		msg = err.Error()
	}
	p.mu.Lock()
	p.lastErr = msg
	if !p.online {
		p.mu.Unlock()
		return
	}
	p.online, p.since = false, p.clk.Now()
	p.broadcast()
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Reachable reports that a call got an answer from the remote, of any
// kind: an offline Probe is online again.
func (p *Probe) Reachable() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.online {
		return
	}
	p.online, p.since, p.lastErr = true, p.clk.Now(), ""
	p.broadcast()
}

// broadcast wakes Changed waiters; p.mu must be held.
func (p *Probe) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Run checks the remote while it is offline — at once when it goes
// offline, then every Interval until a Check gets an answer — and returns
// nil once ctx is done. While Run is not running an offline Probe stays
// offline until Reachable is called.
func (p *Probe) Run(ctx context.Context) error {
	for {
		if p.Online() {
			select {
			case <-ctx.Done():
				return nil
			case <-p.wake:
			}
			continue
		}
		start := p.clk.Mono()
		err := p.checkOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			p.Reachable()
			continue
		}
		p.mu.Lock()
		if !p.online { // a real call may have got an answer meanwhile
			p.lastErr = err.Error()
		}
		p.mu.Unlock()
		p.log.Debug().Str("event", "probe_failed").Str("remote", p.name).Err(err).Msg("remote still unreachable")
		if wait := p.interval - (p.clk.Mono() - start); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-p.clk.After(wait):
			}
		}
	}
}

// checkOnce runs one Check within Timeout.
func (p *Probe) checkOnce(ctx context.Context) error {
	p.mu.Lock()
	p.lastCheck = p.clk.Now()
	p.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	return p.check(cctx)
}
