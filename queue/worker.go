package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
)

// attempt runs one attempt of j and commits its outcome. res arrives with
// the dispatch facts filled in; attempt adds the outcome.
func (q *Queue) attempt(ctx context.Context, j Job, h Handler, timeout time.Duration, res result) result {
	jctx, cancel := context.WithTimeout(ctx, timeout)
	out, err := q.call(jctx, h, j)
	cancel()
	res.err = err
	var after time.Duration
	res.class, after = classify(err)
	if err != nil && ctx.Err() != nil {
		// Run is stopping: the attempt was cut short, not failed.
		res.class = classInterrupted
		res.commitOK = true
		return res
	}
	if res.class == classOffline && res.remote.prober != nil {
		// At once, so the remote's other jobs stop being dispatched.
		res.remote.prober.Unreachable(err)
	}
	var resultJSON json.RawMessage
	if res.class == classDone && out != nil {
		b, merr := json.Marshal(out)
		if merr != nil {
			// The remote side acted; the job is done whatever we can store.
			q.log.Warn().Str("event", "job_result_unencodable").Uint64("job_id", j.ID).Str("kind", j.Kind).
				Str("key", j.Key).Err(merr).Msg("job result not recorded")
		} else {
			resultJSON = b
		}
	}
	jitter := q.opts.Rand()
	now := q.clk.Now()
	msg := errString(res.err)

	if res.class == classOffline && !q.offlineChanges(j.ID, msg, now) {
		res.commitOK = true
		q.log.Debug().Str("event", "job_offline").Uint64("job_id", j.ID).Str("kind", j.Kind).Str("key", j.Key).
			Int("attempt", res.attempt).Err(res.err).Msg("remote unreachable, attempt not counted")
		return res
	}

	var rec Job
	var skipped bool
	cerr := q.commit.do(func(tx *bolt.Tx) error {
		rec, skipped = Job{}, false
		b, err := open(tx)
		if err != nil {
			return err
		}
		cur, err := b.get(j.ID)
		if err != nil || cur.State != StatePending {
			skipped = true // dropped or changed by hand meanwhile
			return nil
		}
		if err := b.unindex(&cur); err != nil {
			return err
		}
		q.apply(&cur, res.class, msg, after, resultJSON, jitter, now)
		rec = cur
		return b.put(&cur)
	})
	if cerr != nil {
		q.log.Error().Str("event", "job_commit_failed").Uint64("job_id", j.ID).Str("kind", j.Kind).Str("key", j.Key).
			Str("outcome", res.class.String()).Err(cerr).Msg("job outcome not recorded; it will run again")
		return res
	}
	res.commitOK = true
	if skipped {
		q.log.Info().Str("event", "job_skipped").Uint64("job_id", j.ID).Str("kind", j.Kind).Str("key", j.Key).
			Str("outcome", res.class.String()).Msg("job was dropped or changed while it ran; outcome not recorded")
		return res
	}
	q.logOutcome(&rec, res, now)
	q.opts.Events.Publish("job", rec)
	return res
}

// call runs h, turning a panic into an error.
func (q *Queue) call(ctx context.Context, h Handler, j Job) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v", p)
			q.log.Error().Str("event", "job_panic").Uint64("job_id", j.ID).Str("kind", j.Kind).Str("key", j.Key).
				Str("stack", string(debug.Stack())).Err(err).Msg("handler panicked")
		}
	}()
	return h(ctx, j)
}

// apply sets j's fields for an outcome decided at now. It depends only on
// its arguments and j as stored, so a rerun of the commit is harmless.
// A failed job past MaxAge is dead-lettered, unless it moves money: then
// it is overdue and runs again every MaxBackoff (or later, if its handler
// asked for later), for as long as it takes.
func (q *Queue) apply(j *Job, c class, msg string, after time.Duration, result json.RawMessage, jitter float64, now time.Time) {
	j.UpdatedAt = now
	aged := q.aged(j.ageBase(), now)
	money := MovesMoney(j.Kind)
	switch c {
	case classDone:
		j.State, j.Result, j.LastError = StateDone, result, ""
		j.Attempts++
	case classFailed:
		j.State, j.LastError = StateFailed, msg
		j.Attempts++
	case classRetry, classWait:
		j.LastError = msg
		d := after // classWait: a promised cadence, not a failure
		if c == classRetry {
			// Only failures count: a wait is an answer, and counting it
			// would stretch the backoff of a later real failure (after
			// 20 waits, 5 min instead of 1 s).
			j.Attempts++
			d = max(after, Backoff(j.Attempts, q.opts.BaseBackoff, q.opts.MaxBackoff, jitter))
		}
		switch {
		case aged && !money:
			j.State = StateDead
			return
		case aged && c == classRetry:
			d = max(after, q.opts.MaxBackoff) // overdue: the longest backoff
		}
		// NextRun − UpdatedAt is the delay chosen here: capNextRuns keeps a
		// restart from waiting longer than that.
		j.NextRun = now.Add(d)
	case classOffline:
		// Not counted; stays due, so it runs as soon as the remote is back.
		j.LastError = msg
		if aged && !money {
			j.State = StateDead
		}
	}
}

// aged reports whether a job whose age counts from base reached MaxAge at
// now.
func (q *Queue) aged(base, now time.Time) bool {
	return !base.Add(q.opts.MaxAge).After(now)
}

// offlineChanges reports whether an offline outcome changes job id as
// stored: a new error text, or it reached MaxAge. Attempts during a long
// outage then cost no writes.
func (q *Queue) offlineChanges(id uint64, msg string, now time.Time) bool {
	change := true
	_ = q.db.View(func(tx *bolt.Tx) error {
		b, err := open(tx)
		if err != nil {
			return err
		}
		j, err := b.get(id)
		if err != nil {
			return err
		}
		change = j.State != StatePending || j.LastError != msg || (q.aged(j.ageBase(), now) && !MovesMoney(j.Kind))
		return nil
	})
	return change
}

// logOutcome logs a committed outcome: the job as recorded.
func (q *Queue) logOutcome(j *Job, res result, now time.Time) {
	switch {
	case j.State == StateDone:
		q.log.Info().Str("event", "job_done").Uint64("job_id", j.ID).Str("kind", j.Kind).Str("key", j.Key).
			Int("attempt", j.Attempts).Msg("job done")
	case j.State == StateFailed:
		q.log.Error().Str("event", "job_failed").Uint64("job_id", j.ID).Str("kind", j.Kind).Str("key", j.Key).
			Int("attempt", j.Attempts).Err(res.err).Msg("job failed permanently; it will not be retried")
	case j.State == StateDead:
		q.logDead(j, now)
	case res.class == classOffline:
		q.log.Debug().Str("event", "job_offline").Uint64("job_id", j.ID).Str("kind", j.Kind).Str("key", j.Key).
			Int("attempt", res.attempt).Err(res.err).Msg("remote unreachable, attempt not counted")
	default:
		q.log.Warn().Str("event", "job_retry").Uint64("job_id", j.ID).Str("kind", j.Kind).Str("key", j.Key).
			Int("attempt", j.Attempts).Err(res.err).Time("next_run", j.NextRun).
			Dur("backoff", j.NextRun.Sub(now)).Msg("job attempt failed; will retry")
	}
}

func (q *Queue) logDead(j *Job, now time.Time) {
	q.log.Error().Str("event", "job_dead").Uint64("job_id", j.ID).Str("kind", j.Kind).Str("key", j.Key).
		Int("attempt", j.Attempts).Str("error", j.LastError).Time("created_at", j.CreatedAt).
		Dur("age", now.Sub(j.ageBase())).Msg("job dead-lettered: a person must look; POST /v1/jobs/{id}/retry runs it again")
}
