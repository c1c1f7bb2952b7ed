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

// KindAttentionRecheck is the queue kind of the job that queries a
// needs_attention checkout's trade every AttentionRecheck until it shows
// closed (→ cancelled, coupon released) or paid (a person resolves it).
// Its key is the out_trade_no; its payload a trade_cancel's.
const KindAttentionRecheck = queue.KindAttentionRecheck

// handleAttention is the attention_recheck job.
func (e *Engine) handleAttention(ctx context.Context, job queue.Job) (any, error) {
	var p cancelPayload
	if err := json.Unmarshal(job.Payload, &p); err != nil || p.CheckoutID == "" || p.OutTradeNo == "" {
		return nil, queue.Permanent(fmt.Errorf("%s %s: bad payload %q: %v", KindAttentionRecheck, job.Key, job.Payload, err))
	}
	r, err := e.get(p.CheckoutID)
	if errors.Is(err, ErrNotFound) {
		return nil, queue.Permanent(fmt.Errorf("%s %s: %w", KindAttentionRecheck, p.OutTradeNo, err))
	}
	if err != nil {
		return nil, err
	}
	if r.State != NeedsAttention || r.OutTradeNo != p.OutTradeNo {
		return map[string]string{"skipped": "checkout is " + string(r.State)}, nil
	}
	resp, err := e.gw.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: p.OutTradeNo})
	e.hook(StepQuerySent)
	out := queryOutcome(resp, err)
	e.logOutcome(&r, "attention_query", out, err)
	switch out.kind {
	case outPaid:
		e.ev(zerolog.ErrorLevel, &r, "needs_attention").Str("out_trade_no", r.OutTradeNo).Str("trade_no", out.tradeNo).
			Str("paid_amount", out.amount.String()).
			Msg("NEEDS ATTENTION: the trade is paid; resolve the checkout (accept the sale or refund it)")
		return map[string]string{"paid": out.tradeNo}, nil
	case outFailed:
		return e.attentionClosed(&r, "closed")
	case outNotExist:
		if e.latePayLeft(&r) == 0 {
			return e.attentionClosed(&r, "not_exist")
		}
	}
	if gateway.KindOf(err) == gateway.Unknown {
		return nil, err // the queue retries with its backoff
	}
	return nil, queue.RetryIn(fmt.Errorf("trade %s is %s: query again in %s", p.OutTradeNo, out.kind, e.opts.AttentionRecheck), e.opts.AttentionRecheck)
}

// attentionClosed settles a needs_attention checkout whose trade the
// gateway shows closed: cancelled, its coupon released.
func (e *Engine) attentionClosed(cur *record, why string) (any, error) {
	out := cur.OutTradeNo
	r, err := e.transition(cur.ID, func(tx *bolt.Tx, r *record, now time.Time) error {
		if r.State != NeedsAttention || r.OutTradeNo != out {
			return errStale
		}
		r.State, r.Error = Cancelled, errorFor(CodeTradeClosed, "")
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
	e.ev(zerolog.WarnLevel, &r, "cancelled").Str("out_trade_no", r.OutTradeNo).Str("reason", "attention_"+why).
		Msg("the trade that needed attention shows closed: checkout cancelled, coupon released")
	return map[string]string{"settled": why}, nil
}
