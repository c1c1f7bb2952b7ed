package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"posagent/checkout"
	"posagent/gateway"
)

// DefaultRefundWait is how long POST /v1/checkouts/{id}/refunds waits for
// the refund's outcome before answering with it still pending.
const DefaultRefundWait = 3 * time.Second

// refunds returns the refund side of the engine, or nil when there is none
// (the refund routes then answer 404).
func (s *Server) refunds() Refunds {
	if s.cfg.Refunds != nil {
		return s.cfg.Refunds
	}
	if r, ok := s.cfg.Checkouts.(Refunds); ok {
		return r
	}
	return nil
}

func (s *Server) noRefunds(w http.ResponseWriter) bool {
	if s.refunds() == nil {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "refunds are not available in this posagent"))
		return true
	}
	return false
}

// createRefundBody is the body of POST /v1/checkouts/{id}/refunds.
type createRefundBody struct {
	Amount   json.RawMessage `json:"amount"`
	Reason   string          `json:"reason"`
	RefundID string          `json:"refund_id"`
}

// createRefund: 201 with a new refund, 200 with the existing one of the
// same refund_id; either after waiting up to RefundWait for its outcome, so
// a quick refund answers refunded (or failed) at once, a slow one pending.
// 409 INVALID_STATE (not paid), REFUND_EXCEEDS_PAID, CONFLICT (refund_id
// reused for another refund).
func (s *Server) createRefund(w http.ResponseWriter, r *http.Request) {
	if s.noRefunds(w) {
		return
	}
	var b createRefundBody
	if e := decodeBody(w, r, &b); e != nil {
		writeError(w, e)
		return
	}
	amount, _, e := parseAmount("amount", b.Amount, true, false)
	if e != nil {
		writeError(w, e)
		return
	}
	rf, created, err := s.refunds().Refund(r.Context(), r.PathValue("id"), checkout.RefundRequest{
		Amount: amount, Reason: b.Reason, RefundID: b.RefundID,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	wait := s.cfg.RefundWait
	if wait == 0 {
		wait = DefaultRefundWait
	}
	if rf.State == checkout.RefundPending && wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		got, err := s.refunds().WaitRefund(ctx, rf.ID)
		cancel()
		if err == nil {
			rf = got
		}
		if r.Context().Err() != nil {
			return // the caller went away
		}
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/checkouts/"+rf.CheckoutID+"/refunds")
	}
	writeJSON(w, status, rf)
}

// listCheckoutRefunds: the refunds of one checkout, oldest first.
func (s *Server) listCheckoutRefunds(w http.ResponseWriter, r *http.Request) {
	if s.noRefunds(w) {
		return
	}
	rfs, err := s.refunds().RefundsOf(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeItems(w, rfs)
}

// listRefunds: ?state=&date=&limit=, newest first; date is the day the
// refund was created, in Asia/Shanghai.
func (s *Server) listRefunds(w http.ResponseWriter, r *http.Request) {
	if s.noRefunds(w) {
		return
	}
	q := r.URL.Query()
	f := checkout.RefundFilter{State: checkout.RefundState(q.Get("state")), Date: q.Get("date")}
	if f.State != "" && !f.State.Valid() {
		writeError(w, errorf(http.StatusBadRequest, "BAD_STATE", "state must be one of pending, refunded, failed, not %q", f.State))
		return
	}
	if f.Date != "" {
		if _, err := time.Parse(time.DateOnly, f.Date); err != nil {
			writeError(w, errorf(http.StatusBadRequest, CodeBadRequest, "date must be YYYY-MM-DD, not %q", f.Date))
			return
		}
	}
	var e *Error
	if f.Limit, e = parseLimit(r, checkout.MaxListLimit); e != nil {
		writeError(w, e)
		return
	}
	rfs, err := s.refunds().ListRefunds(f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeItems(w, rfs)
}

// RefundRequest is the body of POST /v1/checkouts/{id}/refunds as the
// Client sends it.
type RefundRequest struct {
	Amount   gateway.Amount `json:"amount"`
	Reason   string         `json:"reason,omitempty"`
	RefundID string         `json:"refund_id,omitempty"`
}

// Refund calls POST /v1/checkouts/{id}/refunds; created is false when the
// daemon answered 200 with an earlier refund of the same refund_id. The
// refund may still be pending (see WaitRefunds).
func (c *Client) Refund(ctx context.Context, checkoutID string, req RefundRequest) (rf checkout.Refund, created bool, err error) {
	status, err := c.do(ctx, http.MethodPost, "/v1/checkouts/"+url.PathEscape(checkoutID)+"/refunds", nil, req, &rf, DefaultRefundWait)
	return rf, status == http.StatusCreated, err
}

// CheckoutRefunds returns GET /v1/checkouts/{id}/refunds, oldest first.
func (c *Client) CheckoutRefunds(ctx context.Context, checkoutID string) ([]checkout.Refund, error) {
	var out Items[checkout.Refund]
	_, err := c.do(ctx, http.MethodGet, "/v1/checkouts/"+url.PathEscape(checkoutID)+"/refunds", nil, nil, &out, 0)
	return out.Items, err
}

// ListRefunds returns GET /v1/refunds?state=&date=&limit=, newest first.
func (c *Client) ListRefunds(ctx context.Context, f checkout.RefundFilter) ([]checkout.Refund, error) {
	q := url.Values{}
	set(q, "state", string(f.State))
	set(q, "date", f.Date)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out Items[checkout.Refund]
	_, err := c.do(ctx, http.MethodGet, "/v1/refunds", q, nil, &out, 0)
	return out.Items, err
}
