package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
	"posagent/queue"
)

// cancelPayload is the payload of a trade_cancel job; its key is the
// out_trade_no.
type cancelPayload struct {
	CheckoutID string `json:"checkout_id"`
	OutTradeNo string `json:"out_trade_no"`
	// Late: the trade was found paid after the checkout had moved on
	// (cancelled, failed): the job gives the money back whatever the
	// checkout's state. Its key is the out_trade_no + ":late".
	Late bool `json:"late,omitempty"`
}

// Reasons a checkout goes to cancelling.
const (
	reasonDeadline = "deadline" // unresolved at the decision deadline
	reasonRegister = "register" // the register asked (Cancel)
	// reasonRestart: posagent restarted between the pay intent and its
	// outcome, the code died with the process, and the gateway has no trade
	// under the number: the attempt can never complete.
	reasonRestart = "restart"
	// reasonResendRefused: the gateway refused the resend of a pay whose
	// first send had an unknown result, and then had no trade under the
	// number: the first send may still land, so the number is cancelled.
	reasonResendRefused = "resend_refused"
	// reasonScanTimeout: nobody scanned a code within ScanTimeout.
	reasonScanTimeout = "scan_timeout"
)

// cancelRepeat is the longest wait between two cancels answered
// ACQ.TRADE_NOT_EXIST within the late-pay window (SPEC §4); they are
// repeated every QueryInterval when that is shorter.
const cancelRepeat = 10 * time.Second

// toCancelling commits cancelling together with the durable trade_cancel
// job that closes or refunds the trade, then wakes the queue and stops the
// checkout's flow. cause, when set, becomes the checkout's error.
func (e *Engine) toCancelling(id, reason string, cause *Error, cons *consultCell) (record, error) {
	v, got := cons.take()
	var job queue.Job
	r, err := e.transition(id, func(tx *bolt.Tx, r *record, _ time.Time) error {
		if r.State != Paying && r.State != WaitingBuyer {
			return errStale
		}
		r.State, r.CancelReason = Cancelling, reason
		if got {
			r.ConsultResult = v
		}
		switch reason {
		case reasonDeadline:
			r.Error = &Error{Code: CodeDecisionTimeout, Message: "The payment was not confirmed in time and is being cancelled. Do not hand over the goods."}
		case reasonRestart:
			r.Error = errorFor(CodePaymentInterrupted, "")
		}
		if cause != nil {
			r.Error = cause
		}
		var err error
		job, _, err = e.q.EnqueueTx(tx, queue.KindTradeCancel, r.OutTradeNo, cancelPayload{CheckoutID: r.ID, OutTradeNo: r.OutTradeNo})
		if err != nil {
			return fmt.Errorf("queue trade_cancel: %w", err)
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	cons.markRecorded(got)
	e.q.Notify()
	e.wakeFlow(id)
	e.hook(StepCancelling)
	e.ev(zerolog.WarnLevel, &r, "cancel_queued").Str("out_trade_no", r.OutTradeNo).Str("reason", reason).
		Uint64("job_id", job.ID).Msg("trade unresolved: cancel queued")
	return r, nil
}

// Cancel refusals that leave a trade in the hands of a person.
var cancelRefused = map[string]bool{
	"ACQ.REASON_TRADE_BEEN_FREEZEN": true,
	"ACQ.CANCEL_NOT_ALLOWED":        true,
	"ACQ.TRADE_CANCEL_TIME_OUT":     true,
}

// handleCancel is the trade_cancel job: trade.cancel by out_trade_no until
// the gateway answers. action=close → cancelled; action=refund → cancelled
// and refunded; retry_flag=Y → again; a refusal → needs_attention.
func (e *Engine) handleCancel(ctx context.Context, job queue.Job) (any, error) {
	var p cancelPayload
	if err := json.Unmarshal(job.Payload, &p); err != nil || p.CheckoutID == "" || p.OutTradeNo == "" {
		return nil, queue.Permanent(fmt.Errorf("trade_cancel %s: bad payload %q: %v", job.Key, job.Payload, err))
	}
	r, err := e.get(p.CheckoutID)
	if errors.Is(err, ErrNotFound) {
		return nil, queue.Permanent(fmt.Errorf("trade_cancel %s: %w", p.OutTradeNo, err))
	}
	if err != nil {
		return nil, err
	}
	if p.Late {
		return e.cancelLate(ctx, job, &r, p)
	}
	if r.State != Cancelling || r.OutTradeNo != p.OutTradeNo {
		return map[string]string{"skipped": "checkout is " + string(r.State)}, nil
	}
	resp, err := e.gw.TradeCancel(ctx, gateway.TradeCancelRequest{OutTradeNo: p.OutTradeNo})
	e.hook(StepCancelSent)
	kind, sub := gateway.KindOf(err), gateway.SubCodeOf(err)
	e.ev(zerolog.InfoLevel, &r, "cancel_sent").Str("out_trade_no", p.OutTradeNo).Int("attempt", job.Attempts+1).
		Str("kind", kind.String()).Str("sub_code", sub).Str("action", actionOf(resp)).
		Str("retry_flag", retryFlagOf(resp)).AnErr("error", err).Msg("trade.cancel")
	switch kind {
	case gateway.Success:
		if resp.RetryFlag == "Y" {
			return nil, queue.Retry(fmt.Errorf("trade.cancel %s: retry_flag=Y", p.OutTradeNo), e.opts.QueryInterval)
		}
		return e.finishCancel(&r, resp.Action == gateway.CancelRefund, resp.Action)
	case gateway.Failure:
		switch {
		case cancelRefused[sub]:
			return e.needsAttention(&r, cancelRefusal(err), err)
		case sub == "ACQ.TRADE_NOT_EXIST":
			// The gateway has not seen the number and did not close it: a
			// trade.pay of it may still land until late_pay_window after its
			// last send, so the cancel is repeated until then (SPEC §4).
			if wait := e.latePayLeft(&r); wait > 0 {
				return nil, queue.RetryIn(fmt.Errorf("trade.cancel %s: ACQ.TRADE_NOT_EXIST while a pay may still land (%s of late_pay_window left)",
					p.OutTradeNo, wait.Round(time.Millisecond)), min(wait, cancelRepeat, e.opts.QueryInterval))
			}
			// Past the window: nothing was charged, and the code in the
			// lost pay expired long ago.
			return e.finishCancel(&r, false, "not_exist")
		case sub == "ACQ.SYSTEM_ERROR" || sub == "":
			return nil, err
		}
		return e.needsAttention(&r, cancelRefusal(err), err)
	case gateway.Invalid:
		return e.needsAttention(&r, cancelRefusal(err), err)
	}
	// Unknown (unreachable: the queue probes; 20000, bad signature: backoff)
	// and Rejected (a setup problem someone may fix): try again.
	return nil, err
}

// cancelRefusal is the cashier's error for a cancel the gateway refused:
// its sub_code (CANCEL_REFUSED when it gave none) and what to do.
func cancelRefusal(err error) *Error {
	sub := gateway.SubCodeOf(err)
	if m, ok := messages[sub]; ok && cancelRefused[sub] {
		return &Error{Code: sub, Message: m}
	}
	if sub == "" {
		sub = CodeCancelRefused
	}
	return &Error{Code: sub, Message: messages[CodeCancelRefused]}
}

func actionOf(r *gateway.TradeCancelResponse) string {
	if r == nil {
		return ""
	}
	return r.Action
}

func retryFlagOf(r *gateway.TradeCancelResponse) string {
	if r == nil {
		return ""
	}
	return r.RetryFlag
}

// finishCancel commits cancelled (refunded when the trade had been paid) and
// releases the coupon.
func (e *Engine) finishCancel(cur *record, refunded bool, action string) (any, error) {
	out := cur.OutTradeNo
	r, err := e.transition(cur.ID, func(tx *bolt.Tx, r *record, now time.Time) error {
		if r.State != Cancelling || r.OutTradeNo != out {
			return errStale
		}
		r.State, r.Refunded = Cancelled, refunded
		if r.CancelReason == reasonRestart {
			r.Error = errorFor(CodePaymentInterrupted, "")
		}
		if r.CancelReason == reasonDeadline {
			msg := "The payment was not confirmed in time and has been cancelled; nothing was charged. Ask the customer to pay again."
			if refunded {
				msg = "The payment was not confirmed in time and has been cancelled; the money went back to the customer. Ask the customer to pay again."
			}
			r.Error = &Error{Code: CodeDecisionTimeout, Message: msg}
		}
		_, _, err := settleCoupon(tx, r, false, now)
		return err
	})
	if err != nil {
		if isStale(err) {
			return map[string]string{"skipped": "checkout is " + string(r.State)}, nil
		}
		return nil, err
	}
	e.hook(StepCancelled)
	e.ev(zerolog.InfoLevel, &r, "cancelled").Str("out_trade_no", r.OutTradeNo).Str("action", action).
		Bool("refunded", refunded).Str("reason", r.CancelReason).Msg("trade cancelled")
	return map[string]any{"action": action, "refunded": refunded}, nil
}

// needsAttention commits needs_attention: the gateway refused to cancel a
// trade whose outcome was never resolved. A person must look. The coupon
// stays reserved (the trade may have been paid with it), and an
// attention_recheck job queries the trade every AttentionRecheck
// (attention.go).
func (e *Engine) needsAttention(cur *record, cause *Error, gwErr error) (any, error) {
	out := cur.OutTradeNo
	r, err := e.transition(cur.ID, func(tx *bolt.Tx, r *record, now time.Time) error {
		if r.State != Cancelling || r.OutTradeNo != out {
			return errStale
		}
		r.State, r.Error = NeedsAttention, cause
		if _, _, err := e.q.EnqueueTx(tx, KindAttentionRecheck, r.OutTradeNo, cancelPayload{CheckoutID: r.ID, OutTradeNo: r.OutTradeNo}); err != nil {
			return fmt.Errorf("queue %s: %w", KindAttentionRecheck, err)
		}
		return nil
	})
	if err != nil {
		if isStale(err) {
			return map[string]string{"skipped": "checkout is " + string(r.State)}, nil
		}
		return nil, err
	}
	e.hook(StepNeedsAttention)
	e.ev(zerolog.ErrorLevel, &r, "needs_attention").Str("out_trade_no", r.OutTradeNo).
		Str("error_code", cause.Code).AnErr("error", gwErr).
		Msg("NEEDS ATTENTION: the gateway refused to cancel an unresolved trade; check it in the Alipay merchant portal")
	return map[string]string{"needs_attention": cause.Code}, nil
}

// latePayLeft is how much of late_pay_window is left after the last
// trade.pay send of r (0 when it has passed).
func (e *Engine) latePayLeft(r *record) time.Duration {
	last := r.LastPayAt
	if last.IsZero() {
		last = r.PayAt // a record written before last_pay_at existed
	}
	return max(0, last.Add(e.opts.LatePayWindow).Sub(e.steady.Now()))
}

// queueLateCancel queues the trade_cancel that gives back the money of a
// trade found paid after its checkout had moved on (cancelled, failed), and
// says so at error level.
func (e *Engine) queueLateCancel(r *record, tradeNo string) {
	var job queue.Job
	err := e.db.Update(func(tx *bolt.Tx) error {
		var err error
		job, _, err = e.q.EnqueueTx(tx, queue.KindTradeCancel, r.OutTradeNo+":late",
			cancelPayload{CheckoutID: r.ID, OutTradeNo: r.OutTradeNo, Late: true})
		return err
	})
	if err != nil {
		e.ev(zerolog.ErrorLevel, r, "late_paid").Str("out_trade_no", r.OutTradeNo).Str("trade_no", tradeNo).Err(err).
			Msg("LATE PAYMENT: the trade was paid after its checkout moved on and its cancel could not be queued; refund it in the Alipay merchant portal")
		return
	}
	e.q.Notify()
	e.ev(zerolog.ErrorLevel, r, "late_paid").Str("out_trade_no", r.OutTradeNo).Str("trade_no", tradeNo).
		Uint64("job_id", job.ID).Msg("LATE PAYMENT: the trade was paid after its checkout moved on; a cancel is queued to give the money back")
}

// cancelLate is the trade_cancel of a trade paid after its checkout moved
// on: trade.cancel until the gateway answers; the checkout keeps its state
// and gets refunded: true when the money went back.
func (e *Engine) cancelLate(ctx context.Context, job queue.Job, r *record, p cancelPayload) (any, error) {
	if r.OutTradeNo != p.OutTradeNo {
		return nil, queue.Permanent(fmt.Errorf("trade_cancel %s: checkout %s has out_trade_no %s", job.Key, r.ID, r.OutTradeNo))
	}
	resp, err := e.gw.TradeCancel(ctx, gateway.TradeCancelRequest{OutTradeNo: p.OutTradeNo})
	e.hook(StepCancelSent)
	kind, sub := gateway.KindOf(err), gateway.SubCodeOf(err)
	e.ev(zerolog.ErrorLevel, r, "cancel_sent").Str("out_trade_no", p.OutTradeNo).Bool("late", true).
		Int("attempt", job.Attempts+1).Str("kind", kind.String()).Str("sub_code", sub).
		Str("action", actionOf(resp)).AnErr("error", err).Msg("trade.cancel of a late-paid trade")
	switch kind {
	case gateway.Success:
		if resp.RetryFlag == "Y" {
			return nil, queue.Retry(fmt.Errorf("trade.cancel %s: retry_flag=Y", p.OutTradeNo), e.opts.QueryInterval)
		}
		refunded := resp.Action == gateway.CancelRefund
		nr, terr := e.transition(r.ID, func(_ *bolt.Tx, r *record, _ time.Time) error {
			if r.OutTradeNo != p.OutTradeNo {
				return errStale
			}
			r.Refunded = r.Refunded || refunded
			return nil
		})
		if terr != nil && !isStale(terr) {
			return nil, terr
		}
		e.ev(zerolog.ErrorLevel, &nr, "late_cancelled").Str("out_trade_no", p.OutTradeNo).Str("action", resp.Action).
			Bool("refunded", refunded).Msg("the late-paid trade was cancelled")
		return map[string]any{"action": resp.Action, "refunded": refunded, "late": true}, nil
	case gateway.Failure:
		if sub == "ACQ.SYSTEM_ERROR" || sub == "" {
			return nil, err
		}
		fallthrough
	case gateway.Invalid:
		e.ev(zerolog.ErrorLevel, r, "needs_attention").Str("out_trade_no", p.OutTradeNo).Str("sub_code", sub).Err(err).
			Msg("NEEDS ATTENTION: the gateway refused to cancel a trade paid after its checkout moved on; refund it in the Alipay merchant portal")
		return nil, queue.Permanent(fmt.Errorf("trade.cancel %s (late): %w", p.OutTradeNo, err))
	}
	return nil, err
}
