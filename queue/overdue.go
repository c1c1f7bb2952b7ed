package queue

import (
	"time"

	bolt "go.etcd.io/bbolt"
)

// overdueLogEvery is how often an overdue job is logged (job_overdue).
const overdueLogEvery = time.Hour

// logOverdue logs, at error level, every pending money-moving job past
// MaxAge that was not logged in the last hour — whether or not its remote
// is reachable — and returns when to look again: when the next job
// becomes overdue or is due to be logged again.
func (s *scheduler) logOverdue(now time.Time) (time.Time, error) {
	maxAge := s.q.opts.MaxAge
	// Nothing enqueued or retried from now on is overdue sooner.
	next := now.Add(min(maxAge, overdueLogEvery))
	soon := func(t time.Time) {
		if t.Before(next) {
			next = t
		}
	}
	var logs []Job
	seen := make(map[uint64]bool)
	err := s.q.db.View(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		c := b.due.Cursor()
		for _, kind := range moneyKinds {
			for k, v := c.Seek(kindPrefix(kind)); k != nil; k, v = c.Next() {
				e, ok := parseDue(k, v)
				if !ok || e.kind != kind {
					break
				}
				if deadline := e.ageBase.Add(maxAge); deadline.After(now) {
					soon(deadline)
					continue
				}
				seen[e.id] = true
				if last, ok := s.overdue[e.id]; ok && now.Sub(last) < overdueLogEvery {
					soon(last.Add(overdueLogEvery))
					continue
				}
				if j, err := b.get(e.id); err == nil {
					logs = append(logs, j)
				}
			}
		}
		return nil
	})
	if err != nil {
		return next, err
	}
	for id := range s.overdue {
		if !seen[id] {
			delete(s.overdue, id) // done, failed, retried by hand, or dropped
		}
	}
	for i := range logs {
		j := &logs[i]
		s.overdue[j.ID] = now
		soon(now.Add(overdueLogEvery))
		s.q.log.Error().Str("event", "job_overdue").Uint64("job_id", j.ID).Str("kind", j.Kind).Str("key", j.Key).
			Int("attempt", j.Attempts).Str("error", j.LastError).Time("created_at", j.CreatedAt).
			Dur("age", now.Sub(j.ageBase())).Time("next_run", j.NextRun).
			Msg("money-moving job past max_age: it keeps running every max_backoff until it succeeds; a person should look")
	}
	return next, nil
}
