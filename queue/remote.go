package queue

import (
	"context"
	"time"

	"posagent/probe"
)

// Prober is what the queue needs to know whether a remote can be reached
// (*probe.Probe has it). The queue reports into it only the attempts that
// found the remote unreachable (IsOffline); answers of any kind are the
// Prober's own business (its Check), so a job refused for good never
// keeps a remote offline.
type Prober interface {
	// Online reports whether the remote can be reached as far as known.
	Online() bool
	// Unreachable reports a call that got no answer; err says why.
	Unreachable(err error)
	// Changed returns a channel closed at the next change of Online.
	Changed() <-chan struct{}
	// Status describes the state for Remotes.
	Status() probe.Status
}

// remote is one far side that jobs talk to (see RemoteOf).
type remote struct {
	name   string
	kinds  []string // sorted
	prober Prober   // nil: each job that finds it unreachable waits alone

	// Scheduler only: the state last logged (queue_offline, queue_online).
	down      bool
	downSince time.Time

	// Without a prober, the state as the latest attempts found it, read by
	// Online and Remotes: under Queue.mu.
	offline bool
	since   time.Time
	lastErr string
}

// status returns r's state for Remotes; q.mu must be held.
func (r *remote) status() RemoteStatus {
	if r.prober != nil {
		ps := r.prober.Status()
		s := RemoteStatus{Name: r.name, Online: ps.Online}
		if !ps.Online {
			s.Since, s.LastErr = ps.Since, ps.LastError
		}
		return s
	}
	s := RemoteStatus{Name: r.name, Online: !r.offline}
	if r.offline {
		s.Since, s.LastErr = r.since, r.lastErr
	}
	return s
}

// wentDown records and logs that an attempt of job res found r
// unreachable, unless that is known already.
func (s *scheduler) wentDown(r *remote, now time.Time, res result) {
	if r.prober == nil {
		s.q.mu.Lock()
		if !r.offline {
			r.since = now
		}
		r.offline, r.lastErr = true, errString(res.err)
		s.q.mu.Unlock()
	}
	if r.down {
		return
	}
	r.down, r.downSince = true, now
	s.q.log.Warn().Str("event", "queue_offline").Str("remote", r.name).Str("kind", res.kind).
		Str("key", res.key).Int("attempt", res.attempt).Err(res.err).
		Dur("probe_interval", s.q.opts.ProbeInterval).Msg("remote unreachable: its jobs wait")
}

// cameBack records and logs that an attempt got an answer from r, a
// remote without a prober.
func (s *scheduler) cameBack(r *remote, now time.Time) {
	s.q.mu.Lock()
	r.offline, r.since, r.lastErr = false, time.Time{}, ""
	s.q.mu.Unlock()
	s.logUp(r, now)
}

func (s *scheduler) logUp(r *remote, now time.Time) {
	if !r.down {
		return
	}
	r.down = false
	s.q.log.Info().Str("event", "queue_online").Str("remote", r.name).
		Dur("offline_for", now.Sub(r.downSince)).Msg("remote reachable again: draining its jobs")
}

// observe logs the changes of the probers' states that no attempt of the
// queue reported (a check that got an answer, a call of another component
// that found the remote unreachable).
func (s *scheduler) observe(now time.Time) {
	for _, r := range s.remotes {
		if r.prober == nil {
			continue
		}
		online := r.prober.Online()
		switch {
		case online:
			s.logUp(r, now)
		case !r.down:
			r.down, r.downSince = true, now
			s.q.log.Warn().Str("event", "queue_offline").Str("remote", r.name).Str("error", r.prober.Status().LastError).
				Dur("probe_interval", s.q.opts.ProbeInterval).Msg("remote unreachable: its jobs wait")
		}
	}
}

// watch wakes the scheduler at every change of p until ctx is done; ch is
// p.Changed() taken before the scheduler's first look at p.
func (s *scheduler) watch(ctx context.Context, p Prober, ch <-chan struct{}) {
	defer s.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			ch = p.Changed()
			s.q.Notify()
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
