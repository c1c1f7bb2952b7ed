package queue

import (
	bolt "go.etcd.io/bbolt"
)

// capNextRuns reschedules the pending jobs that the wall clock, set back
// while the daemon was down, pushed further away than the delay chosen
// after their failed attempt (NextRun − UpdatedAt, both stored from the
// previous run's steady clock): such a job, last updated "in the future",
// now waits that delay from now. Only jobs not yet due are read, so a
// normal start reads none. While the process runs the steady clock makes
// this unnecessary.
func (s *scheduler) capNextRuns() {
	now := s.q.clk.Now()
	var ids []uint64
	err := s.q.db.View(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		c := b.due.Cursor()
		k, v := c.First()
		for k != nil {
			e, ok := parseDue(k, v)
			if !ok {
				k, v = c.Next()
				continue
			}
			// Skip the kind's due entries: jump past now.
			for k, v = c.Seek(dueKey(e.kind, now, ^uint64(0))); k != nil; k, v = c.Next() {
				f, ok := parseDue(k, v)
				if !ok || f.kind != e.kind {
					break
				}
				if j, err := b.get(f.id); err == nil && j.UpdatedAt.After(now) {
					ids = append(ids, f.id)
				}
			}
			k, v = c.Seek(append([]byte(e.kind), 1)) // the next kind
		}
		return nil
	})
	if err != nil {
		s.q.log.Error().Str("event", "queue_error").Err(err).Msg("scan next runs")
		return
	}
	moved := 0
	const chunk = 1000
	for len(ids) > 0 {
		part := ids[:min(chunk, len(ids))]
		ids = ids[len(part):]
		n := 0
		err := s.q.commit.do(func(tx *bolt.Tx) error {
			n = 0
			now := s.q.clk.Now()
			b, err := open(tx)
			if err != nil {
				return err
			}
			for _, id := range part {
				j, err := b.get(id)
				if err != nil || j.State != StatePending || !j.UpdatedAt.After(now) || !j.NextRun.After(now) {
					continue // changed since the scan
				}
				if err := b.unindex(&j); err != nil {
					return err
				}
				j.NextRun, j.UpdatedAt = now.Add(max(0, j.NextRun.Sub(j.UpdatedAt))), now
				if err := b.put(&j); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err != nil {
			s.q.log.Error().Str("event", "queue_error").Err(err).Msg("cap next runs")
			return
		}
		moved += n
	}
	if moved > 0 {
		s.q.log.Warn().Str("event", "queue_rescheduled").Int("jobs", moved).
			Msg("the clock was set back while posagent was down: jobs in backoff wait their own backoff from now")
		s.q.Notify()
	}
}
