package checkout

import (
	"context"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
)

// runFlow drives a checkout from decoding to an end: decode, pay intent,
// pay, and the polling until the outcome is known or the deadline passes.
// code lives only here, in memory.
func (e *Engine) runFlow(ctx context.Context, f *flow, id, code string) {
	r, err := e.get(id)
	if err != nil || r.State != Decoding {
		return
	}
	d := e.decode(ctx, f, &r, code)
	switch d.next {
	case decodeStop:
		return
	case decodeRescan:
		e.release(id, f) // the rescan that may follow gets a flow of its own
		e.backToAwaiting(id, d.err, "decode")
		return
	}
	var cons *consultCell
	if d.userID != "" && e.opts.ConsultScene != "" {
		cons = e.startConsult(&r, d.userID)
	}
	r, err = e.payIntent(id, d, cons)
	if err != nil {
		e.logTransitionError(&r, "pay_sent", err)
	} else {
		e.pay(ctx, f, r, code, cons)
	}
	e.finishConsult(ctx, id, cons)
}

// consultCell carries the answer of the consult call that runs beside the
// payment. Only the flow's goroutine reads it.
type consultCell struct {
	done     chan struct{}
	result   *bool // nil: failed or timed out
	recorded bool
}

// startConsult calls scene.cooperation.consult for userID in the
// background, bounded by ConsultTimeout. The payment never waits for it:
// the answer rides on the next commit of the checkout, or gets its own when
// it comes after the last one.
func (e *Engine) startConsult(r *record, userID string) *consultCell {
	c := &consultCell{done: make(chan struct{})}
	r = &record{Checkout: Checkout{ID: r.ID, OrderID: r.OrderID, State: r.State}} // a copy for the goroutine's log line
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		defer close(c.done)
		ctx, cancel := context.WithTimeout(e.ctx, e.opts.ConsultTimeout)
		defer cancel()
		resp, err := e.gw.SceneConsult(ctx, gateway.ConsultRequest{
			Principal: gateway.UserPrincipal{UserID: userID},
			Scene:     e.opts.ConsultScene,
		})
		if err != nil {
			e.ev(zerolog.InfoLevel, r, "consult").Str("user_id", userID).Str("kind", gateway.KindOf(err).String()).
				Err(err).Msg("consult gave no answer; consult_result stays null")
			return
		}
		v := resp.ConsultResult
		c.result = &v
	}()
	return c
}

// take returns the consult answer if it is in and not yet recorded.
func (c *consultCell) take() (*bool, bool) {
	if c == nil || c.recorded {
		return nil, false
	}
	select {
	case <-c.done:
		return c.result, true
	default:
		return nil, false
	}
}

// finishConsult records a consult answer that came after the checkout's
// last commit of this flow.
func (e *Engine) finishConsult(ctx context.Context, id string, c *consultCell) {
	if c == nil || c.recorded {
		return
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return
	}
	if c.result == nil {
		return
	}
	r, err := e.transition(id, func(_ *bolt.Tx, r *record, _ time.Time) error {
		if r.ConsultResult != nil || r.State == AwaitingScan || r.State == Decoding {
			return errStale
		}
		r.ConsultResult = c.result
		return nil
	})
	if err != nil {
		e.logTransitionError(&r, "consult", err)
		return
	}
	c.recorded = true
	e.ev(zerolog.InfoLevel, &r, "consult").Bool("consult_result", *c.result).Msg("consult result recorded")
}
