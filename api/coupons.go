package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"posagent/checkout"
)

// couponImport is one element of the POST /v1/coupons array: the coupon
// JSON of SPEC §6 without state, which posagent keeps (an empty "state" is
// accepted, so that a checkout.Coupon can be sent as is). Money and
// percentages are strings with at most two decimals; times are RFC 3339,
// empty or absent for an open end.
type couponImport struct {
	ID         string          `json:"id"`
	UserID     string          `json:"user_id"`
	Title      string          `json:"title"`
	Kind       string          `json:"kind"`
	Value      json.RawMessage `json:"value"`
	MinSpend   json.RawMessage `json:"min_spend"`
	MaxOff     json.RawMessage `json:"max_off"`
	ValidFrom  string          `json:"valid_from"`
	ValidUntil string          `json:"valid_until"`
	State      string          `json:"state"`
}

// importCoupons validates the whole array, then imports it in one
// transaction: all or nothing.
func (s *Server) importCoupons(w http.ResponseWriter, r *http.Request) {
	var in []couponImport
	if e := decodeBody(w, r, &in); e != nil {
		writeError(w, e)
		return
	}
	if in == nil {
		writeError(w, errorf(http.StatusBadRequest, CodeBadRequest, "send a JSON array of coupons"))
		return
	}
	cs := make([]checkout.Coupon, 0, len(in))
	for i, ci := range in {
		c, e := ci.coupon(fmt.Sprintf("coupons[%d]", i))
		if e != nil {
			writeError(w, e)
			return
		}
		cs = append(cs, c)
	}
	res, err := s.cfg.Checkouts.ImportCoupons(cs)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if res.Skipped == nil {
		res.Skipped = []string{}
	}
	writeJSON(w, http.StatusOK, res)
}

func (ci *couponImport) coupon(at string) (checkout.Coupon, *Error) {
	c := checkout.Coupon{ID: ci.ID, UserID: ci.UserID, Title: ci.Title, Kind: checkout.CouponKind(ci.Kind)}
	if ci.State != "" {
		return c, errorf(http.StatusBadRequest, CodeBadRequest, "%s.state: an import does not set the state; posagent keeps it (remove the field)", at)
	}
	var e *Error
	if c.Value, _, e = parseAmount(at+".value", ci.Value, true, false); e != nil {
		return c, e
	}
	if c.MinSpend, _, e = parseAmount(at+".min_spend", ci.MinSpend, false, true); e != nil {
		return c, e
	}
	maxOff, present, e := parseAmount(at+".max_off", ci.MaxOff, false, false)
	if e != nil {
		return c, e
	}
	if present {
		c.MaxOff = &maxOff
	}
	var err error
	if c.ValidFrom, err = parseTime(ci.ValidFrom); err != nil {
		return c, errorf(http.StatusBadRequest, CodeBadRequest, "%s.valid_from: want an RFC 3339 time such as \"2026-01-31T23:59:59+08:00\", not %q", at, ci.ValidFrom)
	}
	if c.ValidUntil, err = parseTime(ci.ValidUntil); err != nil {
		return c, errorf(http.StatusBadRequest, CodeBadRequest, "%s.valid_until: want an RFC 3339 time such as \"2026-01-31T23:59:59+08:00\", not %q", at, ci.ValidUntil)
	}
	return c, nil
}

// parseTime reads an RFC 3339 time; "" and Go's zero time are an open end.
func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	if t.IsZero() {
		return time.Time{}, nil
	}
	return t, nil
}

// listCoupons: ?user_id= (all coupons when absent), ordered by id.
func (s *Server) listCoupons(w http.ResponseWriter, r *http.Request) {
	cs, err := s.cfg.Checkouts.ListCoupons(r.URL.Query().Get("user_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeItems(w, CouponsJSON(cs))
}

// CouponJSON is a coupon as the API answers it: the coupon JSON of SPEC §6,
// with valid_from and valid_until left out when the coupon has no such
// bound (rather than "0001-01-01T00:00:00Z").
type CouponJSON struct {
	checkout.Coupon
	ValidFrom  *time.Time `json:"valid_from,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
}

// CouponsJSON wraps coupons for a reply.
func CouponsJSON(cs []checkout.Coupon) []CouponJSON {
	out := make([]CouponJSON, len(cs))
	for i, c := range cs {
		out[i] = CouponJSON{Coupon: c, ValidFrom: TimeOrNil(c.ValidFrom), ValidUntil: TimeOrNil(c.ValidUntil)}
	}
	return out
}
