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
	hold     map[uint64]time.Time // ids held back until then (commit failed, remote unreachable)
	results  chan result
	wg       sync.WaitGroup

	overdue     map[uint64]time.Time // overdue money-moving jobs → when last logged
	overdueNext time.Time            // when to look for overdue jobs next
}

// result is what an attempt reports to the scheduler.
type result struct {
	id       uint64
	kind     string
	key      string
	attempt  int
	remote   *remote
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
		overdue:  make(map[uint64]time.Time),
	}
	for k, h := range q.handlers {
		s.handlers[k] = h
	}
	for _, r := range q.remotes {
		s.remotes = append(s.remotes, r)
	}
	q.mu.Unlock()
	slices.SortFunc(s.remotes, func(a, b *remote) int { return cmp.Compare(a.name, b.name) })
	s.results = make(chan result, s.conc)
	for _, r := range s.remotes {
		if r.prober != nil {
			s.wg.Add(1)
			go s.watch(ctx, r.prober, r.prober.Changed())
		}
	}
	// Counting 100,000 pending jobs takes milliseconds: not before the
	// first job starts.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.logStart()
		s.capNextRuns()
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
		s.observe(now)
		var wake time.Time
		var err error
		if ctx.Err() == nil {
			wake, err = s.dispatch(ctx, now)
		}
		if err == nil && ctx.Err() == nil && !now.Before(s.overdueNext) {
			s.overdueNext, err = s.logOverdue(now)
		}
		if !s.overdueNext.IsZero() && (wake.IsZero() || s.overdueNext.Before(wake)) {
			wake = s.overdueNext
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

// handle applies one finished attempt to the scheduler's state.
func (s *scheduler) handle(res result, now time.Time) {
	delete(s.inflight, res.id)
	s.running--
	if !res.commitOK {
		s.hold[res.id] = now.Add(commitRetryDelay)
	}
	r := res.remote
	switch res.class {
	case classInterrupted:
	case classOffline:
		// Not counted. The job waits at least ProbeInterval, so a remote
		// its prober finds reachable but this job cannot reach costs one
		// attempt per interval, not a busy loop.
		s.hold[res.id] = later(s.hold[res.id], now.Add(s.q.opts.ProbeInterval))
		s.wentDown(r, now, res)
	default: // the remote answered
		if r.prober == nil {
			s.cameBack(r, now)
		}
	}
}

// candidate is a due job picked for dispatch.
type candidate struct {
	e dueEntry
	r *remote
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
			if r.prober != nil && !r.prober.Online() {
				continue // its jobs wait; the prober's Changed wakes us
			}
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
			s.start(ctx, j, cands[i])
		}
		return nil
	})
	return wake, err
}

// start runs one attempt of j on its own goroutine.
func (s *scheduler) start(ctx context.Context, j Job, c candidate) {
	h := s.handlers[j.Kind]
	s.inflight[j.ID] = true
	s.running++
	res := result{id: j.ID, kind: j.Kind, key: j.Key, attempt: j.Attempts + 1, remote: c.r}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.results <- s.q.attempt(ctx, j, h.h, s.q.opts.JobTimeout, res)
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
		Int("failed", st.Failed).Int("overdue", st.Overdue).Int("concurrency", s.conc).Msg("queue running")
	for _, kind := range orphans {
		s.q.log.Warn().Str("event", "queue_no_handler").Str("kind", kind).Msg("pending jobs of this kind wait: no handler registered")
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
