package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"posagent/checkout"
)

// createCheckoutBody is the body of POST /v1/checkouts. The amount is kept
// raw so that a bad one gets BAD_AMOUNT with a precise message.
type createCheckoutBody struct {
	OrderID    string          `json:"order_id"`
	Amount     json.RawMessage `json:"amount"`
	Subject    string          `json:"subject"`
	OperatorID string          `json:"operator_id"`
	AuthCode   string          `json:"auth_code"`
}

// createCheckout: 201 with a new checkout, 200 with the existing one of the
// same order and amount, 409 for another amount or a busy scan slot.
func (s *Server) createCheckout(w http.ResponseWriter, r *http.Request) {
	var b createCheckoutBody
	if e := decodeBody(w, r, &b); e != nil {
		writeError(w, e)
		return
	}
	amount, _, e := parseAmount("amount", b.Amount, true, false)
	if e != nil {
		writeError(w, e)
		return
	}
	c, created, err := s.cfg.Checkouts.Create(r.Context(), checkout.CreateRequest{
		OrderID: b.OrderID, Amount: amount, Subject: b.Subject, OperatorID: b.OperatorID, AuthCode: b.AuthCode,
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/v1/checkouts/"+c.ID)
	}
	writeJSON(w, status, c)
}

// getCheckout answers the checkout. With ?wait= it holds the reply until
// the checkout is terminal, or (with ?since=updated_at) until it changed,
// or the wait is up.
func (s *Server) getCheckout(w http.ResponseWriter, r *http.Request) {
	wait, e := parseWait(r)
	if e != nil {
		writeError(w, e)
		return
	}
	var since time.Time
	if v := r.URL.Query().Get("since"); v != "" {
		var err error
		if since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			writeError(w, errorf(http.StatusBadRequest, CodeBadRequest, "since must be the checkout's updated_at (RFC 3339), not %q", v))
			return
		}
	}
	id := r.PathValue("id")
	var c checkout.Checkout
	var err error
	if wait > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), wait)
		c, err = s.cfg.Checkouts.WaitChange(ctx, id, since)
		cancel()
		if err == nil && r.Context().Err() != nil {
			return // the caller went away; nobody reads the reply
		}
	} else {
		c, err = s.cfg.Checkouts.Get(id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// listCheckouts: ?state=&limit=&before=&order_id=, newest first.
func (s *Server) listCheckouts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := checkout.ListFilter{State: checkout.State(q.Get("state")), Before: q.Get("before"), OrderID: q.Get("order_id")}
	if f.State != "" && !f.State.Valid() {
		writeError(w, errorf(http.StatusBadRequest, "BAD_STATE", "state must be one of %s, not %q", statesList(), f.State))
		return
	}
	var e *Error
	if f.Limit, e = parseLimit(r, checkout.MaxListLimit); e != nil {
		writeError(w, e)
		return
	}
	cs, err := s.cfg.Checkouts.List(f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeItems(w, cs)
}

func statesList() string {
	s := ""
	for i, st := range checkout.States {
		if i > 0 {
			s += ", "
		}
		s += string(st)
	}
	return s
}

// cancelCheckout abandons a checkout awaiting a scan, or cancels its trade.
func (s *Server) cancelCheckout(w http.ResponseWriter, r *http.Request) {
	c, err := s.cfg.Checkouts.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// Items is the body of every list reply: {"items":[...]}, never null.
type Items[T any] struct {
	Items []T `json:"items"`
}

func writeItems[T any](w http.ResponseWriter, items []T) {
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, Items[T]{Items: items})
}
