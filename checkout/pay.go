package checkout

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
	"posagent/queue"
)

// payIntent commits everything trade.pay depends on, before it is sent:
// the out_trade_no, the reserved coupon and the amount after discount, the
// decode result, and the state paying with the decision deadline.
func (e *Engine) payIntent(id string, d decodeResult, cons *consultCell) (record, error) {
	v, got := cons.take()
	r, err := e.transition(id, func(tx *bolt.Tx, r *record, now time.Time) error {
		if r.State != Decoding {
			return errStale
		}
		r.UserID, r.DecodeResult = d.userID, d.result
		if got {
			r.ConsultResult = v
		}
		r.OutTradeNo = newOutTradeNo(e.opts.TerminalID, now)
		if err := reserveBest(tx, r, now); err != nil {
			return err
		}
		r.PaidAmount, r.TradeNo, r.Refunded, r.Error = 0, "", false, nil
		sn := e.steady.Now()
		r.PayAt, r.Deadline, r.LastPayAt = now, sn.Add(e.opts.DecisionDeadline), sn
		r.State = Paying
		return nil
	})
	if err == nil {
		cons.markRecorded(got)
		e.hook(StepPayIntent)
	}
	return r, err
}

func (c *consultCell) markRecorded(got bool) {
	if c != nil && got {
		c.recorded = true
	}
}

// payRequest is the trade.pay of r with code. It carries the sence_no as
// DYNAMIC_TOKEN_OUT_BIZ_NO: every code is decoded (or its decode attempted)
// before it pays.
func (e *Engine) payRequest(r *record, code string) gateway.TradePayRequest {
	req := gateway.TradePayRequest{
		OutTradeNo:  r.OutTradeNo,
		Scene:       "bar_code",
		AuthCode:    code,
		Subject:     r.Subject,
		TotalAmount: r.Amount - r.Discount,
		OperatorID:  r.OperatorID,
		StoreID:     e.opts.StoreID,
		TerminalID:  e.opts.TerminalID,
	}
	if r.SenceNo != "" {
		req.ExtendParams = map[string]string{gateway.DynamicTokenOutBizNoKey: r.SenceNo}
	}
	return req
}

// pay sends trade.pay (the intent is committed) and follows the trade to an
// end.
func (e *Engine) pay(ctx context.Context, f *flow, r record, code string, cons *consultCell) {
	req := e.payRequest(&r, code)
	e.ev(zerolog.InfoLevel, &r, "pay_sent").Str("code", r.CodeMask).Str("out_trade_no", r.OutTradeNo).
		Str("total_amount", req.TotalAmount.String()).Str("discount", r.Discount.String()).
		Str("coupon_id", r.CouponID).Str("user_id", r.UserID).Str("sence_no", r.SenceNo).
		Msg("trade.pay sent")
	resp, err := e.gw.TradePay(ctx, req)
	e.hook(StepPaySent)
	if ctx.Err() != nil {
		return // closing: the next Start resumes by query
	}
	out := payOutcome(resp, err, req.TotalAmount)
	e.logOutcome(&r, "pay_result", out, err)
	e.settle(ctx, f, r, &req, out, cons)
}

// outcomeKind is what an answer of trade.pay or trade.query says about a
// trade.
type outcomeKind int

const (
	outUnknown  outcomeKind = iota // not known: query
	outNotExist                    // the gateway has no such trade (yet)
	outWaiting                     // the buyer is confirming (10003, WAIT_BUYER_PAY)
	outPaid                        // paid
	outFailed                      // definitely not paid
)

func (k outcomeKind) String() string {
	return [...]string{"unknown", "not_exist", "waiting", "paid", "failed"}[k]
}

type outcome struct {
	kind    outcomeKind
	tradeNo string
	amount  gateway.Amount
	err     *Error // outFailed
}

// payOutcome reads a trade.pay answer by the official barcode rules.
func payOutcome(resp *gateway.TradePayResponse, err error, sent gateway.Amount) outcome {
	switch gateway.KindOf(err) {
	case gateway.Success:
		amt := resp.TotalAmount
		if amt == 0 {
			amt = sent
		}
		return outcome{kind: outPaid, tradeNo: resp.TradeNo, amount: amt}
	case gateway.InProgress:
		return outcome{kind: outWaiting}
	case gateway.Failure:
		switch gateway.SubCodeOf(err) {
		case "ACQ.TRADE_HAS_SUCCESS", "ACQ.SYSTEM_ERROR", "":
			// Paid already, or the gateway does not know: confirm by query.
			return outcome{kind: outUnknown}
		}
		return outcome{kind: outFailed, err: gatewayError(err)}
	case gateway.Rejected, gateway.Invalid, gateway.Unauthorized:
		// Nothing was charged: the request took no effect.
		return outcome{kind: outFailed, err: gatewayError(err)}
	}
	return outcome{kind: outUnknown}
}

// queryOutcome reads a trade.query answer.
func queryOutcome(resp *gateway.TradeQueryResponse, err error) outcome {
	switch gateway.KindOf(err) {
	case gateway.Success:
		switch resp.TradeStatus {
		case gateway.TradeSuccess, gateway.TradeFinished:
			return outcome{kind: outPaid, tradeNo: resp.TradeNo, amount: resp.TotalAmount}
		case gateway.TradeWaitBuyerPay:
			return outcome{kind: outWaiting}
		case gateway.TradeClosed:
			return outcome{kind: outFailed, err: errorFor(CodeTradeClosed, "")}
		}
	case gateway.Failure:
		if gateway.SubCodeOf(err) == "ACQ.TRADE_NOT_EXIST" {
			return outcome{kind: outNotExist}
		}
	}
	return outcome{kind: outUnknown}
}

func (e *Engine) logOutcome(r *record, event string, out outcome, err error) {
	lvl := zerolog.InfoLevel
	if out.kind == outUnknown || out.kind == outNotExist {
		lvl = zerolog.WarnLevel
	}
	ev := e.ev(lvl, r, event).Str("out_trade_no", r.OutTradeNo).Str("outcome", out.kind.String()).
		Str("kind", gateway.KindOf(err).String()).Str("sub_code", gateway.SubCodeOf(err))
	if err != nil {
		ev = ev.Err(err)
	}
	if out.tradeNo != "" {
		ev = ev.Str("trade_no", out.tradeNo)
	}
	ev.Msg(event)
}

// settle follows a trade from the answer out to an end: paid or failed on a
// definite answer; otherwise trade.query every QueryInterval (the first
// query at once after an unknown answer) until the decision deadline, then
// cancelling. When req is set (the code is still in memory) and the gateway
// says it has no such trade, trade.pay is sent again with the same
// out_trade_no: the gateway is idempotent on it, so this never charges
// twice, and it saves a pay whose request was lost on the way.
//
// An unknown answer is always queried before anything is decided, even
// past the deadline (a restarted daemon resumes with one). A resend the
// gateway refuses proves nothing about the first send: the trade is
// queried, and cancelled when the gateway has none. Deadlines and waits
// are on the steady clock: a wall step neither stretches nor cuts them.
func (e *Engine) settle(ctx context.Context, f *flow, r record, req *gateway.TradePayRequest, out outcome, cons *consultCell) {
	queryNow := out.kind == outUnknown
	var refused *Error // the refusal of a resend, when one came
	for {
		switch out.kind {
		case outPaid:
			e.finishPaid(r.ID, out, cons)
			return
		case outFailed:
			e.finishFailed(r.ID, out.err, cons)
			return
		case outNotExist:
			if refused != nil {
				// The resend was refused and the gateway has no trade: the
				// first send may still land. Cancel the number.
				if _, err := e.toCancelling(r.ID, reasonResendRefused, refused, cons); err != nil && !isStale(err) {
					e.logTransitionError(&r, "cancel_queued", err)
				}
				return
			}
			if req == nil {
				// Resumed after a restart: the code died with the old
				// process, so this attempt can never be sent again, and the
				// gateway has no trade under its number. Cancel now rather
				// than keep the customer waiting until the deadline; the
				// cancel closes the number, so a pay still on its way from
				// the old process is refused.
				if _, err := e.toCancelling(r.ID, reasonRestart, nil, cons); err != nil && !isStale(err) {
					e.logTransitionError(&r, "cancel_queued", err)
				}
				return
			}
		case outWaiting:
			if r.State == Paying {
				nr, err := e.toWaiting(r.ID, cons)
				if err != nil {
					e.logTransitionError(&nr, "waiting_buyer", err)
					return
				}
				r = nr
			}
		}
		now := e.steady.Now()
		if !queryNow && !now.Before(r.Deadline) {
			if _, err := e.toCancelling(r.ID, reasonDeadline, nil, cons); err != nil && !isStale(err) {
				e.logTransitionError(&r, "cancel_queued", err)
			}
			return
		}
		delay := e.opts.QueryInterval
		if queryNow {
			delay, queryNow = 0, false
		}
		delay = min(delay, r.Deadline.Sub(now))
		if delay > 0 {
			select {
			case <-ctx.Done():
				return
			case <-f.wake:
				return
			case <-e.clk.After(delay):
			}
		}
		select {
		case <-f.wake:
			return
		default:
		}
		if out.kind == outNotExist && req != nil {
			if nr, err := e.markPaySend(r.ID); err != nil {
				e.logTransitionError(&nr, "pay_sent", err)
				return
			}
			resp, err := e.gw.TradePay(ctx, *req)
			e.hook(StepPaySent)
			if ctx.Err() != nil {
				return
			}
			out = payOutcome(resp, err, req.TotalAmount)
			e.logOutcome(&r, "pay_result", out, err)
			if out.kind == outFailed {
				// The first send had no final answer and may still land:
				// query, then cancel (never failed on a resend's word).
				refused, req = out.err, nil
				out, queryNow = outcome{kind: outUnknown}, true
			}
			continue
		}
		resp, err := e.gw.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: r.OutTradeNo})
		e.hook(StepQuerySent)
		if ctx.Err() != nil {
			return
		}
		out = queryOutcome(resp, err)
		e.logOutcome(&r, "query", out, err)
	}
}

// markPaySend commits, before a resend of trade.pay, the time of that send
// (LastPayAt), from which late_pay_window counts.
func (e *Engine) markPaySend(id string) (record, error) {
	r, err := e.transition(id, func(_ *bolt.Tx, r *record, _ time.Time) error {
		if r.State != Paying && r.State != WaitingBuyer {
			return errStale
		}
		r.LastPayAt = e.steady.Now()
		return nil
	})
	if err == nil {
		e.hook(StepLastPay)
	}
	return r, err
}

// toWaiting commits waiting_buyer (the gateway said 10003 or
// WAIT_BUYER_PAY).
func (e *Engine) toWaiting(id string, cons *consultCell) (record, error) {
	v, got := cons.take()
	r, err := e.transition(id, func(_ *bolt.Tx, r *record, _ time.Time) error {
		if r.State != Paying {
			return errStale
		}
		r.State = WaitingBuyer
		if got {
			r.ConsultResult = v
		}
		return nil
	})
	if err == nil {
		cons.markRecorded(got)
		e.hook(StepWaiting)
		e.ev(zerolog.InfoLevel, &r, "waiting_buyer").Str("out_trade_no", r.OutTradeNo).
			Msg("the buyer is confirming the payment")
	}
	return r, err
}

// couponReport is the payload of a coupon_report job.
type couponReport struct {
	CouponID   string         `json:"coupon_id"`
	UserID     string         `json:"user_id"`
	OrderID    string         `json:"order_id"`
	OutTradeNo string         `json:"out_trade_no"`
	TradeNo    string         `json:"trade_no"`
	Discount   gateway.Amount `json:"discount"`
	RedeemedAt time.Time      `json:"redeemed_at"`
}

// finishPaid commits paid: the trade, the coupon redeemed and, when
// ReportCoupons, its coupon_report job, all in one transaction.
func (e *Engine) finishPaid(id string, out outcome, cons *consultCell) {
	v, got := cons.take()
	reported := false
	r, err := e.transition(id, func(tx *bolt.Tx, r *record, now time.Time) error {
		reported = false
		if r.State != Paying && r.State != WaitingBuyer {
			return errStale
		}
		if got {
			r.ConsultResult = v
		}
		var err error
		reported, err = e.markPaid(tx, r, out, now)
		return err
	})
	if err != nil {
		if isStale(err) && r.State == Cancelling {
			e.ev(zerolog.WarnLevel, &r, "paid").Str("out_trade_no", r.OutTradeNo).Str("trade_no", out.tradeNo).
				Msg("the trade was paid after the checkout went to cancelling; the cancel job refunds it")
			return
		}
		if isStale(err) && (r.State == Cancelled || r.State == Failed) {
			e.queueLateCancel(&r, out.tradeNo)
			return
		}
		e.logTransitionError(&r, "paid", err)
		return
	}
	cons.markRecorded(got)
	if reported {
		e.q.Notify()
	}
	e.hook(StepPaid)
	lvl := zerolog.InfoLevel
	if want := r.Amount - r.Discount; out.amount != want {
		lvl = zerolog.ErrorLevel // never expected: the gateway is idempotent on out_trade_no
	}
	e.ev(lvl, &r, "paid").Str("out_trade_no", r.OutTradeNo).Str("trade_no", r.TradeNo).
		Str("paid_amount", r.PaidAmount.String()).Str("expected_amount", (r.Amount-r.Discount).String()).
		Str("discount", r.Discount.String()).Str("coupon_id", r.CouponID).Bool("coupon_report", reported).
		Msg("paid")
}

// finishFailed commits failed (nothing was charged) and releases the coupon.
func (e *Engine) finishFailed(id string, cause *Error, cons *consultCell) {
	v, got := cons.take()
	r, err := e.transition(id, func(tx *bolt.Tx, r *record, now time.Time) error {
		if r.State != Paying && r.State != WaitingBuyer {
			return errStale
		}
		r.State, r.Error = Failed, cause
		if got {
			r.ConsultResult = v
		}
		_, _, err := settleCoupon(tx, r, false, now)
		return err
	})
	if err != nil {
		e.logTransitionError(&r, "failed", err)
		return
	}
	cons.markRecorded(got)
	e.hook(StepFailed)
	e.ev(zerolog.WarnLevel, &r, "failed").Str("out_trade_no", r.OutTradeNo).Str("error_code", cause.Code).
		Msg("payment failed: " + cause.Message)
}

// markPaid moves r to paid with out's trade number and amount, redeems
// its coupon and, with ReportCoupons, queues the coupon_report job, all in
// tx. It reports whether a report was queued.
func (e *Engine) markPaid(tx *bolt.Tx, r *record, out outcome, now time.Time) (reported bool, err error) {
	r.State, r.TradeNo, r.PaidAmount, r.Error = Paid, out.tradeNo, out.amount, nil
	c, redeemed, err := settleCoupon(tx, r, true, now)
	if err != nil || !redeemed || !e.opts.ReportCoupons {
		return false, err
	}
	p, err := json.Marshal(couponReport{
		CouponID: c.ID, UserID: c.UserID, OrderID: r.OrderID, OutTradeNo: r.OutTradeNo,
		TradeNo: r.TradeNo, Discount: r.Discount, RedeemedAt: now,
	})
	if err != nil {
		return false, err
	}
	if _, _, err := e.q.EnqueueTx(tx, queue.KindCouponReport, c.ID+":"+r.OutTradeNo, json.RawMessage(p)); err != nil {
		return false, fmt.Errorf("queue coupon_report: %w", err)
	}
	return true, nil
}
