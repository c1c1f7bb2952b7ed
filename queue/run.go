package queue

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// commitRetryDelay is how long a job whose outcome could not be committed
// (a disk error) is held back in memory before it runs again.
const commitRetryDelay = 5 * time.Second

// scheduler is the state of one Run: owned by Run's goroutine.
type scheduler struct {
	q        *Queue
	handlers map[string]handlerEntry
	remotes  []*remote // sorted by name
	conc     int

	running  int                  // job attempts in flight
	inflight map[uint64]bool      // their ids
	hold     map[uint64]time.Time // ids held back until then (commit failed)
	results  chan result
	wg       sync.WaitGroup
}

// result is what an attempt or a Probe call reports to the scheduler.
type result struct {
	id       uint64 // 0 for a Probe call
	kind     string
	key      string
	attempt  int
	remote   *remote
	gen      uint64 // remote.gen at dispatch
	probe    bool   // the remote was offline: this was its probe
	class    class
	err      error
	commitOK bool
}

// Run schedules due jobs on at most Concurrency goroutines until ctx is
// done, then cancels the ctx of running handlers and returns once all of
// them have returned (an attempt that still finished is recorded; one that
// was cut short records nothing and runs again next time). It returns nil
// after ctx is done, ErrRunning on a second call, or a bbolt error that
// stopped the scheduler.
func (q *Queue) Run(ctx context.Context) error {
	if !q.started.CompareAndSwap(false, true) {
		return ErrRunning
	}
	q.mu.Lock()
	s := &scheduler{
		q:        q,
		handlers: make(map[string]handlerEntry, len(q.handlers)),
		conc:     q.opts.Concurrency,
		inflight: make(map[uint64]bool),
		hold:     make(map[uint64]time.Time),
	}
	for k, h := range q.handlers {
		s.handlers[k] = h
	}
	for _, r := range q.remotes {
		s.remotes = append(s.remotes, r)
	}
	q.mu.Unlock()
	slices.SortFunc(s.remotes, func(a, b *remote) int { return cmp.Compare(a.name, b.name) })
	s.results = make(chan result, s.conc+len(s.remotes))
	// Counting 100,000 pending jobs takes milliseconds: not before the
	// first job starts.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.logStart()
	}()
	return s.run(ctx)
}

func (s *scheduler) run(ctx context.Context) error {
	var (
		timerC  <-chan time.Time
		timerAt time.Time
		ev      *result
	)
	for {
		now := s.q.clk.Now()
		if ev != nil {
			s.handle(*ev, now)
			ev = nil
		}
		var wake time.Time
		var err error
		if ctx.Err() == nil {
			wake, err = s.dispatch(ctx, now)
		}
		if err != nil {
			s.q.log.Error().Str("event", "queue_error").Err(err).Msg("scheduler stopped")
			s.wg.Wait()
			return err
		}
		if !wake.IsZero() && (timerC == nil || wake.Before(timerAt)) {
			timerC, timerAt = s.q.clk.After(wake.Sub(now)), wake
		}
		select {
		case <-ctx.Done():
			s.wg.Wait()
			s.q.log.Info().Str("event", "queue_stopped").Msg("queue stopped")
			return nil
		case <-s.q.notify:
		case <-timerC:
			timerC = nil
		case r := <-s.results:
			ev = &r
		}
	}
}

// handle applies one finished attempt or probe to the scheduler's state.
func (s *scheduler) handle(res result, now time.Time) {
	if res.id != 0 {
		delete(s.inflight, res.id)
		s.running--
		if !res.commitOK {
			s.hold[res.id] = now.Add(commitRetryDelay)
		}
	}
	r := res.remote
	if res.probe {
		r.probing = false
	}
	switch res.class {
	case classInterrupted:
	case classOffline:
		switch {
		case !r.offline && res.gen == r.gen:
			s.goOffline(r, now, res)
		case r.offline && res.probe:
			s.probeFailed(r, now, res)
		}
	default: // the remote answered
		if r.offline && res.probe {
			s.goOnline(r, now)
		}
	}
}

// candidate is a due job picked for dispatch.
type candidate struct {
	e     dueEntry
	r     *remote
	probe bool
}

// dispatch starts what is due at now and returns when something next
// becomes due (zero: nothing known; a finishing attempt or Notify wakes the
// scheduler).
func (s *scheduler) dispatch(ctx context.Context, now time.Time) (time.Time, error) {
	var wake time.Time
	soon := func(t time.Time) {
		if t.After(now) && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}
	for id, until := range s.hold {
		if !until.After(now) {
			delete(s.hold, id)
		} else {
			soon(until)
		}
	}
	for _, r := range s.remotes {
		if r.offline && r.probe != nil && !r.probing {
			if now.Before(r.nextProbe) {
				soon(r.nextProbe)
			} else {
				s.startProbe(ctx, r, now)
			}
		}
	}
	free := s.conc - s.running
	if free <= 0 {
		return wake, nil
	}
	var cands []candidate
	err := s.q.db.View(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		c := b.due.Cursor()
		// scan visits kind's due entries that may run, in order, until fn
		// returns false; the first entry not yet due ends it.
		scan := func(kind string, fn func(e dueEntry) bool) {
			for k, v := c.Seek(kindPrefix(kind)); k != nil; k, v = c.Next() {
				e, ok := parseDue(k, v)
				if !ok || e.kind != kind {
					return
				}
				if s.inflight[e.id] || !s.hold[e.id].IsZero() {
					continue
				}
				if !fn(e) {
					return
				}
			}
		}
		for _, r := range s.remotes {
			switch {
			case r.offline && (r.probe != nil || r.probing):
				// Probed by Probe, or a probe job is out: nothing else runs.
			case r.offline:
				// The earliest due job of r is the probe, once one is due.
				var first *dueEntry
				for _, kind := range r.kinds {
					scan(kind, func(e dueEntry) bool {
						if first == nil || e.next.Before(first.next) || e.next.Equal(first.next) && e.id < first.id {
							first = &e
						}
						return false
					})
				}
				switch {
				case first == nil:
				case first.next.After(now) || now.Before(r.nextProbe):
					soon(later(first.next, r.nextProbe))
				default:
					cands = append(cands, candidate{e: *first, r: r, probe: true})
				}
			default:
				for _, kind := range r.kinds {
					n := 0
					scan(kind, func(e dueEntry) bool {
						if e.next.After(now) {
							soon(e.next)
							return false
						}
						cands = append(cands, candidate{e: e, r: r})
						n++
						return n < free
					})
				}
			}
		}
		slices.SortFunc(cands, func(a, b candidate) int {
			if c := a.e.next.Compare(b.e.next); c != 0 {
				return c
			}
			return cmp.Compare(a.e.id, b.e.id)
		})
		if len(cands) > free {
			cands = cands[:free]
		}
		for i := range cands {
			j, err := b.get(cands[i].e.id)
			if err != nil {
				// An unreadable record must not stop every other job.
				s.q.log.Error().Str("event", "queue_error").Uint64("job_id", cands[i].e.id).Str("kind", cands[i].e.kind).
					Err(err).Msg("pending job unreadable; skipped for an hour")
				s.hold[cands[i].e.id] = now.Add(time.Hour)
				continue
			}
			s.start(ctx, j, cands[i], now)
		}
		return nil
	})
	return wake, err
}

// start runs one attempt of j on its own goroutine.
func (s *scheduler) start(ctx context.Context, j Job, c candidate, now time.Time) {
	h := s.handlers[j.Kind]
	s.inflight[j.ID] = true
	s.running++
	timeout := s.q.opts.JobTimeout
	if c.probe {
		c.r.probing = true
		c.r.nextProbe = now.Add(s.q.opts.ProbeInterval)
		// A probe must not outlast the probe interval: a remote that
		// swallows packets is then still probed every ProbeInterval.
		timeout = min(timeout, s.q.opts.ProbeInterval)
	}
	res := result{id: j.ID, kind: j.Kind, key: j.Key, attempt: j.Attempts + 1, remote: c.r, gen: c.r.gen, probe: c.probe}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.results <- s.q.attempt(ctx, j, h.h, timeout, res)
	}()
}

// startProbe calls r.probe on its own goroutine.
func (s *scheduler) startProbe(ctx context.Context, r *remote, now time.Time) {
	r.probing = true
	r.nextProbe = now.Add(s.q.opts.ProbeInterval)
	res := result{remote: r, gen: r.gen, probe: true}
	timeout := s.q.opts.ProbeInterval
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		pctx, cancel := context.WithTimeout(ctx, timeout)
		err := r.probe(pctx)
		cancel()
		res.err = err
		switch {
		case err == nil:
			res.class = classDone
		case ctx.Err() != nil:
			res.class = classInterrupted
		case IsOffline(err) || pctx.Err() != nil:
			res.class = classOffline
		default:
			res.class = classDone // it answered, with an error
		}
		s.results <- res
	}()
}

// logStart logs the queue's depth and the kinds that have pending jobs but
// no handler (they wait until a handler is registered).
func (s *scheduler) logStart() {
	st, err := s.q.Stats()
	if err != nil {
		s.q.log.Error().Str("event", "queue_error").Err(err).Msg("count jobs")
		return
	}
	var orphans []string
	_ = s.q.db.View(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		c := b.due.Cursor()
		for k, v := c.First(); k != nil; {
			e, ok := parseDue(k, v)
			if !ok {
				k, v = c.Next()
				continue
			}
			if _, ok := s.handlers[e.kind]; !ok {
				orphans = append(orphans, e.kind)
			}
			k, v = c.Seek(append([]byte(e.kind), 1)) // the next kind
		}
		return nil
	})
	s.q.log.Info().Str("event", "queue_start").Int("pending", st.Pending).Int("dead", st.Dead).
		Int("failed", st.Failed).Int("concurrency", s.conc).Msg("queue running")
	for _, kind := range orphans {
		s.q.log.Warn().Str("event", "queue_no_handler").Str("kind", kind).Msg("pending jobs of this kind wait: no handler registered")
	}
}
