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

// handleRefund is the trade_refund job: it sends alipay.trade.refund with
// the refund's committed out_request_no and amount, and settles the answer:
//   - 10000 → refunded (whatever fund_change says: a resend of a refund
//     already made answers fund_change N);
//   - unknown → alipay.trade.fastpay.refund.query: refunded → refunded;
//     a 10000 reply without refund data → not made (yet), so the job runs
//     again and resends the same out_request_no; no answer → again;
//   - a refusal (40004, or 40001/40002/40006, 20001) → confirmed by the
//     refund query first, because an earlier send of the same
//     out_request_no whose answer was lost may have gone through: refunded
//     → refunded; not made → failed with the gateway's sub_code; no answer
//     → again.
//
// The job is never dead-lettered (queue.MovesMoney): it runs until the
// gateway answers.
func (e *Engine) handleRefund(ctx context.Context, job queue.Job) (any, error) {
	var p refundPayload
	if err := json.Unmarshal(job.Payload, &p); err != nil || p.RefundID == "" || p.CheckoutID == "" {
		return nil, queue.Permanent(fmt.Errorf("trade_refund %s: bad payload %q: %v", job.Key, job.Payload, err))
	}
	rg, ok := e.gw.(RefundGateway)
	if !ok {
		return nil, queue.Permanent(fmt.Errorf("trade_refund %s: the gateway client cannot refund", job.Key))
	}
	rf, err := e.GetRefund(p.RefundID)
	if errors.Is(err, ErrNotFound) {
		return nil, queue.Permanent(fmt.Errorf("trade_refund %s: %w", job.Key, err))
	}
	if err != nil {
		return nil, err
	}
	if rf.State != RefundPending {
		return map[string]string{"skipped": "refund is " + string(rf.State)}, nil
	}
	r, err := e.get(rf.CheckoutID)
	if err != nil {
		return nil, err
	}
	req := gateway.TradeRefundRequest{
		OutTradeNo:   rf.OutTradeNo,
		RefundAmount: rf.Amount,
		RefundReason: rf.Reason,
		OutRequestNo: rf.OutRequestNo,
		StoreID:      e.opts.StoreID,
		TerminalID:   e.opts.TerminalID,
	}
	resp, err := rg.TradeRefund(ctx, req)
	e.hook(StepRefundSent)
	kind, sub := gateway.KindOf(err), gateway.SubCodeOf(err)
	lvl := zerolog.InfoLevel
	if kind != gateway.Success {
		lvl = zerolog.WarnLevel
	}
	ev := e.refundEv(lvl, &r, &rf, "refund_sent").Int("attempt", job.Attempts+1).
		Str("kind", kind.String()).Str("sub_code", sub).AnErr("error", err)
	if resp != nil && kind == gateway.Success {
		ev = ev.Str("fund_change", resp.FundChange).Str("refund_fee", resp.RefundFee.String())
	}
	ev.Msg("trade.refund")
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	switch kind {
	case gateway.Success:
		return e.finishRefund(&rf, "refund")
	case gateway.Invalid:
		// Refused before sending, as every earlier try was: nothing went out.
		return e.failRefund(&rf, refundRefusal(err), err)
	case gateway.Failure, gateway.Rejected, gateway.Unauthorized:
		if kind == gateway.Failure && (sub == "ACQ.SYSTEM_ERROR" || sub == "") {
			break // the gateway does not know: query
		}
		return e.confirmRefusal(ctx, rg, &r, &rf, err)
	}
	refunded, known, qerr := e.queryRefund(ctx, rg, &r, &rf)
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case refunded:
		return e.finishRefund(&rf, "query")
	case known:
		return nil, queue.Retry(fmt.Errorf("trade.refund %s: result unknown (%v) and not refunded yet: resending", rf.OutRequestNo, err), e.opts.QueryInterval)
	}
	return nil, fmt.Errorf("trade.refund %s: result unknown (%v); refund query: %w", rf.OutRequestNo, err, qerr)
}

// confirmRefusal settles a refusal of trade.refund: failed only when the
// refund query shows no refund under the out_request_no.
func (e *Engine) confirmRefusal(ctx context.Context, rg RefundGateway, r *record, rf *Refund, refusal error) (any, error) {
	refunded, known, qerr := e.queryRefund(ctx, rg, r, rf)
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case refunded:
		// An earlier send went through; its answer was lost.
		return e.finishRefund(rf, "query")
	case known:
		return e.failRefund(rf, refundRefusal(refusal), refusal)
	}
	return nil, fmt.Errorf("trade.refund %s refused (%v), but the refund query did not answer: %w", rf.OutRequestNo, refusal, qerr)
}

// queryRefund asks alipay.trade.fastpay.refund.query about rf. known is
// true when the gateway answered: refunded, or no such refund.
func (e *Engine) queryRefund(ctx context.Context, rg RefundGateway, r *record, rf *Refund) (refunded, known bool, err error) {
	resp, err := rg.TradeRefundQuery(ctx, gateway.TradeRefundQueryRequest{OutTradeNo: rf.OutTradeNo, OutRequestNo: rf.OutRequestNo})
	e.hook(StepRefundQuerySent)
	kind, sub := gateway.KindOf(err), gateway.SubCodeOf(err)
	switch {
	case kind == gateway.Success:
		refunded, known = resp.Refunded(), true
		if refunded && resp.RefundAmount.Amount() != rf.Amount {
			e.refundEv(zerolog.ErrorLevel, r, rf, "refund_query").Str("gateway_amount", resp.RefundAmount.String()).
				Msg("the gateway reports another amount for this out_request_no")
		}
	case kind == gateway.Failure && sub == "ACQ.TRADE_NOT_EXIST":
		known = true // no trade, so no refund of it
	}
	outcome := "unknown"
	if known {
		outcome = map[bool]string{true: "refunded", false: "not_refunded"}[refunded]
	}
	lvl := zerolog.InfoLevel
	if !known {
		lvl = zerolog.WarnLevel
	}
	e.refundEv(lvl, r, rf, "refund_query").Str("outcome", outcome).Str("kind", kind.String()).
		Str("sub_code", sub).AnErr("error", err).Msg("trade.fastpay.refund.query")
	return refunded, known, err
}

// finishRefund commits rf refunded and adds its amount to the checkout's
// refunded_amount, in one transaction. When the refunds reach paid_amount
// the checkout is refunded, and a coupon redeemed on it goes back to
// available if it is still valid.
func (e *Engine) finishRefund(cur *Refund, by string) (any, error) {
	var (
		rf         Refund
		couponBack string
		resolved   bool
	)
	r, err := e.transition(cur.CheckoutID, func(tx *bolt.Tx, r *record, now time.Time) error {
		couponBack, resolved = "", false
		var found bool
		var err error
		rf, found, err = getRefund(tx, cur.ID)
		if err != nil {
			return err
		}
		if !found || rf.State != RefundPending {
			return errStale
		}
		rf.State, rf.Error, rf.UpdatedAt, rf.RefundedAt = RefundRefunded, nil, now, now
		if err := putRefund(tx, &rf); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRefunds).Put(refundKey("f", refundedStamp(now), rf.ID), nil); err != nil {
			return err
		}
		r.RefundedAmount += rf.Amount
		if r.PaidAmount > 0 && r.RefundedAmount >= r.PaidAmount && !r.Refunded {
			r.Refunded = true
			if couponBack, err = unredeemCoupon(tx, r, now); err != nil {
				return err
			}
		}
		resolved, err = resolvedByRefund(tx, r, now) // resolve.go
		return err
	})
	if err != nil {
		if isStale(err) {
			return map[string]string{"skipped": "refund already settled"}, nil
		}
		return nil, err
	}
	e.refundChanged(rf)
	e.hook(StepRefunded)
	e.refundEv(zerolog.InfoLevel, &r, &rf, "refunded").Str("by", by).Str("refunded_amount", r.RefundedAmount.String()).
		Str("paid_amount", r.PaidAmount.String()).Bool("refunded", r.Refunded).Str("coupon_back", couponBack).
		Msg("refunded")
	if resolved {
		e.hook(StepCancelled)
		e.ev(zerolog.WarnLevel, &r, "cancelled").Str("out_trade_no", r.OutTradeNo).Str("reason", "resolved_refund").
			Bool("refunded", true).Msg("the needs_attention checkout resolved with refund is refunded in full: cancelled")
	}
	return map[string]any{"refunded": rf.Amount.String(), "refunded_amount": r.RefundedAmount.String()}, nil
}

// unredeemCoupon puts the coupon redeemed on r back to available when it
// is still valid at now; it returns the coupon's id when it did.
func unredeemCoupon(tx *bolt.Tx, r *record, now time.Time) (string, error) {
	if r.CouponID == "" {
		return "", nil
	}
	c, found, err := getCoupon(tx, r.CouponID)
	if err != nil || !found || c.State != CouponRedeemed || c.CheckoutID != r.ID {
		return "", err
	}
	if !c.ValidUntil.IsZero() && !now.Before(c.ValidUntil) {
		return "", nil // expired: it stays used
	}
	c.State, c.CheckoutID, c.OutTradeNo, c.RedeemedAt = CouponAvailable, "", "", time.Time{}
	return c.ID, putCoupon(tx, &c)
}

// failRefund commits rf failed with cause: the gateway refused it and
// nothing went back.
func (e *Engine) failRefund(cur *Refund, cause *Error, gwErr error) (any, error) {
	var rf Refund
	now := e.clk.Now()
	err := e.db.Update(func(tx *bolt.Tx) error {
		var found bool
		var err error
		rf, found, err = getRefund(tx, cur.ID)
		if err != nil {
			return err
		}
		if !found || rf.State != RefundPending {
			return errStale
		}
		rf.State, rf.Error, rf.UpdatedAt = RefundFailed, cause, now
		return putRefund(tx, &rf)
	})
	if err != nil {
		if isStale(err) {
			return map[string]string{"skipped": "refund already settled"}, nil
		}
		return nil, err
	}
	e.refundChanged(rf)
	e.hook(StepRefundFailed)
	r, _ := e.get(rf.CheckoutID)
	e.refundEv(zerolog.WarnLevel, &r, &rf, "refund_failed").Str("error_code", cause.Code).AnErr("error", gwErr).
		Msg("refund failed: " + cause.Message)
	return map[string]string{"failed": cause.Code}, nil
}

// refundEv starts a log line about refund rf of checkout r.
func (e *Engine) refundEv(lvl zerolog.Level, r *record, rf *Refund, event string) *zerolog.Event {
	return e.ev(lvl, r, event).Str("refund", rf.ID).Str("out_trade_no", rf.OutTradeNo).
		Str("out_request_no", rf.OutRequestNo).Str("amount", rf.Amount.String())
}

// refundMessages are the cashier's words for the refusals of trade.refund.
var refundMessages = map[string]string{
	"ACQ.SELLER_BALANCE_NOT_ENOUGH":   "Alipay refused the refund: the merchant balance is too low. Top up the merchant's Alipay account, then refund again.",
	"ACQ.TRADE_NOT_ALLOW_REFUND":      "Alipay refused the refund: this payment can no longer be refunded through Alipay. Refund the customer another way.",
	"ACQ.REFUND_AMT_NOT_EQUAL_TOTAL":  "Alipay refused the refund: the amount is more than what is left to refund on this payment.",
	"ACQ.TRADE_STATUS_ERROR":          "Alipay refused the refund: the payment is not in a state that can be refunded (not paid, or already closed).",
	"ACQ.TRADE_NOT_EXIST":             "Alipay refused the refund: it has no record of this payment. Call support.",
	"ACQ.TRADE_HAS_FINISHED":          "Alipay refused the refund: the payment is finished and can no longer be refunded. Refund the customer another way.",
	"ACQ.DISCORDANT_REPEAT_REQUEST":   "Alipay refused the refund: this refund number was already used with another amount. Call support.",
	"ACQ.REASON_TRADE_REFUND_FEE_ERR": "Alipay refused the refund: the refund amount is not valid for this payment.",
	"ACQ.BUYER_ERROR":                 "Alipay refused the refund: the customer's Alipay account cannot receive it. Refund the customer another way.",
}

// refundRefusal is the refund's Error for a refusal: the gateway's
// sub_code (REQUEST_REJECTED when it gave none) and a cashier's message.
func refundRefusal(err error) *Error {
	var ge *gateway.Error
	errors.As(err, &ge)
	sub := gateway.SubCodeOf(err)
	if sub != "" {
		if m, ok := refundMessages[sub]; ok {
			return &Error{Code: sub, Message: m}
		}
		m := "Alipay refused the refund"
		if ge != nil && ge.SubMsg != "" {
			m += ": " + ge.SubMsg
		}
		return &Error{Code: sub, Message: m + "."}
	}
	detail := "the request was rejected"
	if ge != nil {
		if ge.Code != "" {
			detail = ge.Code + " " + ge.Msg
		} else if ge.Err != nil {
			detail = ge.Err.Error()
		}
	}
	return &Error{Code: CodeRequestRejected, Message: "Alipay rejected the refund request (" + detail + "). Nothing was refunded. Call support."}
}
