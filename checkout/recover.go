package checkout

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/queue"
)

// recover resumes what a previous run left unfinished:
//   - decoding: the code died with the process → awaiting_scan, SCAN_AGAIN;
//   - paying, waiting_buyer: query first, even past the decision deadline,
//     then until the outcome is known or the deadline passes, then cancel
//     (a cancel answered ACQ.TRADE_NOT_EXIST is repeated for
//     late_pay_window, so a late pay is refunded);
//   - needs_attention: its attention_recheck job is queued were it missing;
//   - cancelling: its trade_cancel job is in the queue already (committed
//     with the state); it is looked up, and queued again were it missing.
func (e *Engine) recover(ctx context.Context) error {
	byState := map[State][]string{}
	err := e.db.View(func(tx *bolt.Tx) error {
		for _, s := range []State{Decoding, Paying, WaitingBuyer, Cancelling, NeedsAttention} {
			byState[s] = idsInState(tx, s)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checkout: recover: %w", err)
	}
	for _, id := range byState[Decoding] {
		if e.hasFlow(id) {
			continue
		}
		r, _ := e.get(id)
		e.ev(zerolog.WarnLevel, &r, "recovered").Str("code", r.CodeMask).
			Msg("restarted while decoding: the code is gone, the cashier must scan again")
		e.backToAwaiting(id, errorFor(CodeScanAgain, ""), "recovered")
	}
	for _, s := range []State{Paying, WaitingBuyer} {
		for _, id := range byState[s] {
			r, err := e.get(id)
			if err != nil {
				return fmt.Errorf("checkout: recover %s: %w", id, err)
			}
			e.ev(zerolog.WarnLevel, &r, "recovered").Str("out_trade_no", r.OutTradeNo).
				Time("deadline", r.Deadline).Msg("resuming an unresolved trade by query")
			rec := r
			e.spawn(id, func(ctx context.Context, f *flow) {
				e.settle(ctx, f, rec, nil, outcome{kind: outUnknown}, nil)
			})
		}
	}
	for _, id := range byState[Cancelling] {
		if err := e.ensureCancelJob(id); err != nil {
			return err
		}
	}
	for _, id := range byState[NeedsAttention] {
		if err := e.ensureAttentionJob(id); err != nil {
			return err
		}
	}
	return nil
}

// ensureAttentionJob queues the attention_recheck job of a needs_attention
// checkout that has none (one left by a version without it), and retries
// one the queue dead-lettered (past its max_age). EnqueueTx is idempotent
// on the key: a job that ended (the trade showed paid) is not run again.
func (e *Engine) ensureAttentionJob(id string) error {
	var existed bool
	var job queue.Job
	err := e.db.Update(func(tx *bolt.Tx) error {
		r, err := getRecord(tx, id)
		if err != nil || r.State != NeedsAttention {
			existed = true
			return err
		}
		job, existed, err = e.q.EnqueueTx(tx, KindAttentionRecheck, r.OutTradeNo, cancelPayload{CheckoutID: r.ID, OutTradeNo: r.OutTradeNo})
		return err
	})
	if err != nil {
		return fmt.Errorf("checkout: recover %s: %w", id, err)
	}
	switch {
	case !existed:
		e.q.Notify()
	case job.State == queue.StateDead:
		if err := e.q.Retry(job.ID); err != nil {
			e.log.Error().Str("event", "recovered").Str("checkout_id", id).Uint64("job_id", job.ID).Err(err).
				Msg("needs_attention checkout's attention_recheck job is dead and could not be retried")
		}
	}
	return nil
}

func (e *Engine) hasFlow(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.flows[id] != nil
}

// ensureCancelJob checks that a cancelling checkout has its trade_cancel
// job, queueing it when missing (EnqueueTx is idempotent on the key).
func (e *Engine) ensureCancelJob(id string) error {
	var r record
	var job queue.Job
	var existed bool
	err := e.db.Update(func(tx *bolt.Tx) error {
		var err error
		if r, err = getRecord(tx, id); err != nil {
			return err
		}
		if r.State != Cancelling {
			return nil
		}
		job, existed, err = e.q.EnqueueTx(tx, queue.KindTradeCancel, r.OutTradeNo, cancelPayload{CheckoutID: r.ID, OutTradeNo: r.OutTradeNo})
		return err
	})
	if err != nil {
		return fmt.Errorf("checkout: recover %s: %w", id, err)
	}
	switch {
	case !existed:
		e.q.Notify()
		e.ev(zerolog.ErrorLevel, &r, "recovered").Str("out_trade_no", r.OutTradeNo).Uint64("job_id", job.ID).
			Msg("cancelling checkout had no trade_cancel job: queued it")
	case job.State != queue.StatePending:
		e.ev(zerolog.ErrorLevel, &r, "recovered").Str("out_trade_no", r.OutTradeNo).Uint64("job_id", job.ID).
			Str("job_state", job.State).Str("last_error", job.LastError).
			Msg("cancelling checkout's trade_cancel job has stopped: retry it (POST /v1/jobs/{id}/retry) or resolve the trade with Alipay")
	default:
		e.ev(zerolog.InfoLevel, &r, "recovered").Str("out_trade_no", r.OutTradeNo).Uint64("job_id", job.ID).
			Msg("cancelling: the trade_cancel job resumes with the queue")
	}
	return nil
}
