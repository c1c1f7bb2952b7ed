package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
	"posagent/queue"
)

// ResolveAction is what a person decided about a needs_attention checkout
// (SPEC §6, POST /v1/checkouts/{id}/resolve).
type ResolveAction string

// The resolve actions.
const (
	// ResolveAccept: the trade is paid and the sale stands → paid.
	ResolveAccept ResolveAction = "accept"
	// ResolveRefund: the trade is paid and the money goes back → a full
	// refund (refund.go), then cancelled with refunded true.
	ResolveRefund ResolveAction = "refund"
	// ResolveClosed: the trade is closed or absent → cancelled.
	ResolveClosed ResolveAction = "closed"
)

// ResolveRequest settles a needs_attention checkout.
type ResolveRequest struct {
	// Action is accept, refund or closed. Required.
	Action ResolveAction
	// Note says why, for the log and the record. Optional, at most 256
	// characters.
	Note string
}

// ErrGatewayUnavailable: the gateway did not answer the trade query a
// resolve needs; nothing was changed. → 503, code GATEWAY_UNAVAILABLE.
var ErrGatewayUnavailable = errors.New("gateway unavailable")

// resolution is a person's decision on a needs_attention checkout, kept in
// bucketRefunds under "z\x00" + checkout id.
type resolution struct {
	Action ResolveAction `json:"action"`
	Note   string        `json:"note,omitempty"`
	Refund string        `json:"refund,omitempty"` // the refund of a refund resolution
	At     time.Time     `json:"at"`
}

func getResolution(tx *bolt.Tx, id string) (resolution, bool, error) {
	return getRefundsEntry[resolution](tx, "z", id, "checkout "+id+": corrupt resolution")
}

func putResolution(tx *bolt.Tx, id string, res resolution) error {
	b, err := refundsBucket(tx)
	if err != nil {
		return err
	}
	v, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return b.Put(refundKey("z", id), v)
}

// Resolve settles needs_attention checkout id as a person decided, after a
// fresh trade.query of its trade:
//   - accept: the trade must be paid → paid (its coupon redeemed);
//   - refund: the trade must be paid → a full refund is committed (as
//     Refund does) and, once refunded, the checkout is cancelled with
//     refunded true (its coupon released); until then it stays
//     needs_attention;
//   - closed: the trade must be closed, or unknown to the gateway once
//     late_pay_window has passed since its last trade.pay → cancelled.
//
// The order is free for a new checkout once the checkout is cancelled.
// Resolving again with the same action returns the checkout as it is.
// Errors: ErrNotFound; ErrBadRequest (action, note); ErrInvalidState (the
// checkout is not needs_attention, another resolution is under way, or the
// gateway's answer contradicts the action: the message says what the
// gateway says); ErrGatewayUnavailable; a database error.
func (e *Engine) Resolve(ctx context.Context, id string, req ResolveRequest) (Checkout, error) {
	switch req.Action {
	case ResolveAccept, ResolveRefund, ResolveClosed:
	default:
		return Checkout{}, badRequest("action must be accept, refund or closed, not %q", req.Action)
	}
	if utf8.RuneCountInString(req.Note) > 256 {
		return Checkout{}, badRequest("note: at most 256 characters")
	}
	var (
		r     record
		prev  resolution
		found bool
		prevR Refund
	)
	err := e.db.View(func(tx *bolt.Tx) error {
		var err error
		if r, err = getRecord(tx, id); err != nil {
			return err
		}
		if prev, found, err = getResolution(tx, id); err != nil || !found || prev.Refund == "" {
			return err
		}
		prevR, _, err = getRefund(tx, prev.Refund)
		return err
	})
	if err != nil {
		return Checkout{}, err
	}
	// A resolution already made: the same again is answered as it stands.
	// A refund resolution whose refund failed may be decided afresh.
	if found && !(prev.Action == ResolveRefund && prevR.State == RefundFailed && r.State == NeedsAttention) {
		if prev.Action == req.Action {
			return r.Checkout, nil
		}
		if r.State == NeedsAttention {
			return r.Checkout, conflictOf(ErrInvalidState, CodeInvalidState,
				"checkout %s is being resolved with %s (refund %s is %s); wait for it", id, prev.Action, prev.Refund, prevR.State)
		}
	}
	if r.State != NeedsAttention {
		return r.Checkout, conflictOf(ErrInvalidState, CodeInvalidState,
			"checkout %s is %s; only a needs_attention checkout can be resolved", id, r.State)
	}
	resp, qerr := e.gw.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: r.OutTradeNo})
	e.hook(StepQuerySent)
	out := queryOutcome(resp, qerr)
	e.logOutcome(&r, "resolve_query", out, qerr)
	if ctx.Err() != nil {
		return r.Checkout, ctx.Err()
	}
	says := func() string {
		switch out.kind {
		case outPaid:
			return fmt.Sprintf("Alipay says trade %s is paid (%s, trade_no %s)", r.OutTradeNo, out.amount, out.tradeNo)
		case outWaiting:
			return fmt.Sprintf("Alipay says trade %s is still waiting for the buyer (WAIT_BUYER_PAY)", r.OutTradeNo)
		case outFailed:
			return fmt.Sprintf("Alipay says trade %s is closed (TRADE_CLOSED)", r.OutTradeNo)
		case outNotExist:
			return fmt.Sprintf("Alipay has no trade %s (ACQ.TRADE_NOT_EXIST)", r.OutTradeNo)
		}
		return ""
	}
	contradiction := func(hint string) error {
		return conflictOf(ErrInvalidState, CodeInvalidState, "%s: cannot resolve checkout %s with %s; %s", says(), id, req.Action, hint)
	}
	if out.kind == outUnknown {
		return r.Checkout, newReqError(ErrGatewayUnavailable, "GATEWAY_UNAVAILABLE",
			"Alipay did not answer the trade query of %s (%v); nothing was changed, try again", r.OutTradeNo, qerr)
	}
	switch req.Action {
	case ResolveAccept, ResolveRefund:
		switch out.kind {
		case outPaid:
		case outWaiting:
			return r.Checkout, contradiction("the buyer has not paid; wait, or try closed once Alipay shows the trade closed")
		default:
			return r.Checkout, contradiction("nothing was charged: resolve it with closed")
		}
		if req.Action == ResolveAccept {
			return e.resolveAccept(&r, out, req.Note)
		}
		return e.resolveRefund(&r, out, req.Note)
	}
	switch out.kind {
	case outFailed:
	case outNotExist:
		if left := e.latePayLeft(&r); left > 0 {
			return r.Checkout, conflictOf(ErrInvalidState, CodeInvalidState,
				"%s yet, but a trade.pay sent by posagent may still arrive for %s: resolve it with closed after that", says(), left.Round(time.Second))
		}
	case outPaid:
		return r.Checkout, contradiction("the money was taken: resolve it with accept or refund")
	default:
		return r.Checkout, contradiction("wait until the trade is closed")
	}
	return e.resolveClosed(&r, req.Note)
}

// resolveAccept commits paid for a needs_attention checkout whose trade the
// gateway shows paid, with its coupon redeemed (and reported).
func (e *Engine) resolveAccept(cur *record, out outcome, note string) (Checkout, error) {
	reported := false
	r, err := e.transition(cur.ID, func(tx *bolt.Tx, r *record, now time.Time) error {
		reported = false
		if r.State != NeedsAttention || r.OutTradeNo != cur.OutTradeNo {
			return errStale
		}
		var err error
		if reported, err = e.markPaid(tx, r, out, now); err != nil {
			return err
		}
		return putResolution(tx, r.ID, resolution{Action: ResolveAccept, Note: note, At: now})
	})
	if err != nil {
		return r.Checkout, e.resolveFailed(&r, err)
	}
	if reported {
		e.q.Notify()
	}
	e.hook(StepPaid)
	e.ev(zerolog.WarnLevel, &r, "resolved").Str("action", string(ResolveAccept)).Str("note", note).
		Str("out_trade_no", r.OutTradeNo).Str("trade_no", r.TradeNo).Str("paid_amount", r.PaidAmount.String()).
		Msg("needs_attention resolved by a person: the trade is paid and the sale stands")
	return r.Checkout, nil
}

// resolveRefund commits, for a needs_attention checkout whose trade the
// gateway shows paid, the trade's amount and a full refund of it, in one
// transaction. finishRefund cancels the checkout once it is refunded.
func (e *Engine) resolveRefund(cur *record, out outcome, note string) (Checkout, error) {
	var (
		rf  Refund
		job queue.Job
	)
	reason := "refund of an unsettled payment"
	r, err := e.transition(cur.ID, func(tx *bolt.Tx, r *record, now time.Time) error {
		if r.State != NeedsAttention || r.OutTradeNo != cur.OutTradeNo {
			return errStale
		}
		r.TradeNo, r.PaidAmount = out.tradeNo, out.amount
		var err error
		rf, job, err = e.addRefundTx(tx, r, RefundRequest{Amount: r.PaidAmount - r.RefundedAmount, Reason: reason}, now)
		if err != nil {
			return err
		}
		return putResolution(tx, r.ID, resolution{Action: ResolveRefund, Note: note, Refund: rf.ID, At: now})
	})
	if err != nil {
		return r.Checkout, e.resolveFailed(&r, err)
	}
	e.refundCommitted(&r, rf, job)
	e.ev(zerolog.WarnLevel, &r, "resolved").Str("action", string(ResolveRefund)).Str("note", note).
		Str("out_trade_no", r.OutTradeNo).Str("trade_no", r.TradeNo).Str("paid_amount", r.PaidAmount.String()).
		Str("refund", rf.ID).Msg("needs_attention resolved by a person: the payment is refunded in full, then the checkout is cancelled")
	return r.Checkout, nil
}

// resolveClosed commits cancelled for a needs_attention checkout whose
// trade the gateway shows closed or absent, with its coupon released.
func (e *Engine) resolveClosed(cur *record, note string) (Checkout, error) {
	r, err := e.transition(cur.ID, func(tx *bolt.Tx, r *record, now time.Time) error {
		if r.State != NeedsAttention || r.OutTradeNo != cur.OutTradeNo {
			return errStale
		}
		r.State, r.Error = Cancelled, errorFor(CodeTradeClosed, "")
		if _, _, err := settleCoupon(tx, r, false, now); err != nil {
			return err
		}
		return putResolution(tx, r.ID, resolution{Action: ResolveClosed, Note: note, At: now})
	})
	if err != nil {
		return r.Checkout, e.resolveFailed(&r, err)
	}
	e.hook(StepCancelled)
	e.ev(zerolog.WarnLevel, &r, "resolved").Str("action", string(ResolveClosed)).Str("note", note).
		Str("out_trade_no", r.OutTradeNo).Msg("needs_attention resolved by a person: the trade is closed, the checkout cancelled")
	return r.Checkout, nil
}

// resolveFailed turns a resolve transition that did not commit into the
// caller's error: moved on meanwhile → ErrInvalidState.
func (e *Engine) resolveFailed(r *record, err error) error {
	if isStale(err) {
		return conflictOf(ErrInvalidState, CodeInvalidState, "checkout %s moved on to %s meanwhile; look at it again", r.ID, r.State)
	}
	return err
}

// resolvedByRefund moves a needs_attention checkout resolved with refund
// to cancelled, refunded, once its refunds reach paid_amount; called in
// finishRefund's transaction.
func resolvedByRefund(tx *bolt.Tx, r *record, now time.Time) (bool, error) {
	if r.State != NeedsAttention || !r.Refunded {
		return false, nil
	}
	res, found, err := getResolution(tx, r.ID)
	if err != nil || !found || res.Action != ResolveRefund {
		return false, err
	}
	r.State, r.Error = Cancelled, nil
	_, _, err = settleCoupon(tx, r, false, now)
	return err == nil, err
}
