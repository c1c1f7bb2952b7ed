package daily

import (
	"context"
	"errors"
	"time"
)

// schedulePoll is the longest the scheduler sleeps before it looks at the
// clock again, so that a wall clock set forward or back is followed within
// a minute.
const schedulePoll = time.Minute

// Start runs the daily schedule (Options.At): from the first minute at or
// after At each store day, the previous day's reconcile job is queued
// (once: the job's key is the day). A daemon started after At queues it
// at once. Without At, Start does nothing. Errors: Start after Close, or
// twice.
func (r *Runner) Start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.started {
		return errors.New("daily: Start after Close or twice")
	}
	r.started = true
	if r.at == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		r.schedule(ctx)
	}()
	return nil
}

// Close stops the schedule and waits for it. A run in progress (of the
// queue or of Reconcile) is not the schedule's: the queue and the caller
// own those.
func (r *Runner) Close() error {
	r.mu.Lock()
	r.closed = true
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	return nil
}

// schedule queues the previous day's job whenever the store's clock has
// passed At, at most once per day per process (the job's key makes it
// once for good).
func (r *Runner) schedule(ctx context.Context) {
	queued := ""
	for {
		now := r.clk.Now().In(r.opts.Location)
		midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, r.opts.Location)
		due := midnight.Add(*r.at)
		wait := schedulePoll
		if !now.Before(due) {
			day := midnight.AddDate(0, 0, -1).Format(time.DateOnly)
			if day != queued {
				if _, err := r.enqueue(day, false); err != nil {
					r.log.Error().Str("event", "reconcile_schedule_failed").Str("date", day).Err(err).
						Msg("could not queue the daily reconciliation; trying again in a minute")
				} else {
					queued = day
					r.log.Info().Str("event", "reconcile_scheduled").Str("date", day).Msg("daily reconciliation queued")
				}
			}
		} else {
			wait = min(wait, due.Sub(now))
		}
		select {
		case <-ctx.Done():
			return
		case <-r.clk.After(wait):
		}
	}
}
