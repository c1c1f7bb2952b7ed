package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"posagent/checkout"
)

// Resolver is what the API needs of the checkout engine to settle a
// needs_attention checkout (*checkout.Engine implements it; the server
// takes it from Checkouts).
type Resolver interface {
	// Resolve settles a needs_attention checkout after a fresh trade.query.
	// Errors: ErrNotFound, ErrBadRequest, ErrInvalidState (with what the
	// gateway says), ErrGatewayUnavailable, a database error.
	Resolve(ctx context.Context, id string, req checkout.ResolveRequest) (checkout.Checkout, error)
}

var _ Resolver = (*checkout.Engine)(nil)

// resolveBody is the body of POST /v1/checkouts/{id}/resolve.
type resolveBody struct {
	Action string `json:"action"`
	Note   string `json:"note"`
}

// resolveCheckout: 200 with the checkout as resolved (for refund: after
// waiting up to RefundWait for the refund, so it usually answers
// cancelled and refunded); 409 INVALID_STATE when the checkout is not
// needs_attention or the gateway's answer contradicts the action; 503
// GATEWAY_UNAVAILABLE when the gateway did not answer the trade query.
func (s *Server) resolveCheckout(w http.ResponseWriter, r *http.Request) {
	rs, ok := s.cfg.Checkouts.(Resolver)
	if !ok {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "resolve is not available in this posagent"))
		return
	}
	var b resolveBody
	if e := decodeBody(w, r, &b); e != nil {
		writeError(w, e)
		return
	}
	if b.Action == "" {
		writeError(w, errorf(http.StatusBadRequest, CodeBadRequest, "action is required: accept, refund or closed"))
		return
	}
	id := r.PathValue("id")
	c, err := rs.Resolve(r.Context(), id, checkout.ResolveRequest{Action: checkout.ResolveAction(b.Action), Note: b.Note})
	var ce *checkout.Error
	if errors.Is(err, checkout.ErrGatewayUnavailable) && errors.As(err, &ce) {
		writeError(w, &Error{Status: http.StatusServiceUnavailable, Code: ce.Code, Message: ce.Message})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// A refund resolution: wait briefly for the refund, like a refund.
	wait := s.cfg.RefundWait
	if wait == 0 {
		wait = DefaultRefundWait
	}
	if rfs := s.refunds(); c.State == checkout.NeedsAttention && wait > 0 && rfs != nil {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		list, _ := rfs.RefundsOf(id)
		for _, rf := range list {
			if rf.State == checkout.RefundPending {
				rfs.WaitRefund(ctx, rf.ID)
			}
		}
		cancel()
		if r.Context().Err() != nil {
			return
		}
		if got, err := s.cfg.Checkouts.Get(id); err == nil {
			c = got
		}
	}
	writeJSON(w, http.StatusOK, c)
}

// ResolveRequest is the body of POST /v1/checkouts/{id}/resolve.
type ResolveRequest struct {
	Action string `json:"action"` // accept, refund or closed
	Note   string `json:"note,omitempty"`
}

// Resolve calls POST /v1/checkouts/{id}/resolve.
func (c *Client) Resolve(ctx context.Context, checkoutID string, req ResolveRequest) (checkout.Checkout, error) {
	var co checkout.Checkout
	_, err := c.do(ctx, http.MethodPost, "/v1/checkouts/"+url.PathEscape(checkoutID)+"/resolve", nil, req, &co, DefaultRefundWait)
	return co, err
}
