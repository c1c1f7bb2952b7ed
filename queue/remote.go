package queue

import (
	"context"
	"time"

	bolt "go.etcd.io/bbolt"
)

// remote is one far side that jobs talk to (see RemoteOf). The scheduler
// goroutine is its only writer; offline, since and lastErr are also read by
// Online and Remotes, so they change under Queue.mu.
type remote struct {
	name  string
	kinds []string // sorted
	probe func(ctx context.Context) error

	offline bool
	since   time.Time
	lastErr string

	// Scheduler only.
	gen       uint64    // bumped on every offline/online change
	nextProbe time.Time // when the next probe may start
	probing   bool      // a probe (job or Probe func) is running
	sweepAt   time.Time // earliest time a due job of this remote can reach MaxAge
}

func (s *scheduler) goOffline(r *remote, now time.Time, res result) {
	s.q.mu.Lock()
	r.offline, r.since, r.lastErr = true, now, errString(res.err)
	s.q.mu.Unlock()
	r.gen++
	r.nextProbe = now.Add(s.q.opts.ProbeInterval)
	r.sweepAt = time.Time{}
	s.q.log.Warn().Str("event", "queue_offline").Str("remote", r.name).Str("kind", res.kind).
		Str("key", res.key).Int("attempt", res.attempt).Err(res.err).
		Dur("probe_interval", s.q.opts.ProbeInterval).Msg("remote unreachable: its jobs wait, probing")
}

func (s *scheduler) goOnline(r *remote, now time.Time) {
	s.q.mu.Lock()
	since := r.since
	r.offline, r.since, r.lastErr = false, time.Time{}, ""
	s.q.mu.Unlock()
	r.gen++
	s.q.log.Info().Str("event", "queue_online").Str("remote", r.name).
		Dur("offline_for", now.Sub(since)).Msg("remote reachable again: draining its jobs")
}

// probeFailed records a probe that still could not reach r, and
// dead-letters r's due jobs that reached MaxAge meanwhile.
func (s *scheduler) probeFailed(r *remote, now time.Time, res result) {
	s.q.mu.Lock()
	r.lastErr = errString(res.err)
	s.q.mu.Unlock()
	s.q.log.Debug().Str("event", "probe_failed").Str("remote", r.name).Err(res.err).Msg("remote still unreachable")
	if now.Before(r.sweepAt) {
		return
	}
	next, err := s.sweep(r, now)
	if err != nil {
		s.q.log.Error().Str("event", "queue_error").Str("remote", r.name).Err(err).Msg("dead-letter sweep failed")
		next = now.Add(s.q.opts.ProbeInterval)
	}
	r.sweepAt = next
}

// sweep dead-letters the due jobs of offline remote r that reached MaxAge:
// their remote has just failed a probe, so their attempt would fail too.
// It returns when the next job of r can reach MaxAge. Jobs not yet due
// (in backoff) are left to their own next attempt.
func (s *scheduler) sweep(r *remote, now time.Time) (time.Time, error) {
	maxAge := s.q.opts.MaxAge
	next := now.Add(maxAge) // nothing enqueued from now on can be older sooner
	var victims []dueEntry
	err := s.q.db.View(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		c := b.due.Cursor()
		for _, kind := range r.kinds {
			for k, v := c.Seek(kindPrefix(kind)); k != nil; k, v = c.Next() {
				e, ok := parseDue(k, v)
				if !ok || e.kind != kind {
					break
				}
				if s.inflight[e.id] {
					continue
				}
				deadline := e.ageBase.Add(maxAge)
				if !e.next.After(now) && !deadline.After(now) {
					victims = append(victims, e)
					continue
				}
				if t := later(deadline, e.next); t.Before(next) {
					next = t
				}
			}
		}
		return nil
	})
	if err != nil {
		return next, err
	}
	msg := "dead-lettered while " + r.name + " was unreachable (since " + r.since.Format(time.RFC3339) + "): " + r.lastErr
	const chunk = 1000
	for len(victims) > 0 {
		part := victims[:min(chunk, len(victims))]
		victims = victims[len(part):]
		var dead []Job
		err := s.q.commit.do(func(tx *bolt.Tx) error {
			dead = dead[:0]
			b, err := open(tx)
			if err != nil {
				return err
			}
			for _, e := range part {
				j, err := b.get(e.id)
				if err != nil || j.State != StatePending || nanos(j.NextRun) != nanos(e.next) ||
					j.ageBase().Add(maxAge).After(now) {
					continue // changed since the scan
				}
				if err := b.unindex(&j); err != nil {
					return err
				}
				j.State, j.UpdatedAt, j.LastError = StateDead, now, msg
				if err := b.put(&j); err != nil {
					return err
				}
				dead = append(dead, j)
			}
			return nil
		})
		if err != nil {
			return next, err
		}
		for _, j := range dead {
			s.q.logDead(&j, now)
		}
	}
	return next, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
