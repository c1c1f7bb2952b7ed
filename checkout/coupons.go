package checkout

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"posagent/gateway"
)

// CouponKind is how a coupon takes money off.
type CouponKind string

// The coupon kinds.
const (
	AmountOff  CouponKind = "amount_off"  // Value is money off, "5.00"
	PercentOff CouponKind = "percent_off" // Value is a percentage, "10" = 10 % off
)

// CouponState is where a coupon is in its life.
type CouponState string

// The coupon states. An import never sets them; a released coupon is
// available again.
const (
	CouponAvailable CouponState = "available"
	CouponReserved  CouponState = "reserved" // held by a checkout that is paying
	CouponRedeemed  CouponState = "redeemed" // used by a paid checkout
)

// Coupon is a merchant coupon for one Alipay user (SPEC §6 coupon JSON).
type Coupon struct {
	ID     string     `json:"id"`
	UserID string     `json:"user_id"`
	Title  string     `json:"title"`
	Kind   CouponKind `json:"kind"`
	// Value is the money off (amount_off) or the percentage off
	// (percent_off, "10" or "10.00" = 10 %, at most "100"), both written
	// with at most two decimals.
	Value gateway.Amount `json:"value"`
	// MinSpend is the least order amount the coupon applies to. Default 0.00.
	MinSpend gateway.Amount `json:"min_spend"`
	// MaxOff caps the discount; absent means no cap.
	MaxOff *gateway.Amount `json:"max_off,omitempty"`
	// ValidFrom and ValidUntil bound when the coupon may be used
	// (valid_from ≤ now < valid_until); a zero time leaves that end open.
	ValidFrom  time.Time   `json:"valid_from"`
	ValidUntil time.Time   `json:"valid_until"`
	State      CouponState `json:"state"`

	// Extensions: which checkout holds or used the coupon, and when it was
	// redeemed.
	CheckoutID string    `json:"checkout_id,omitempty"`
	OutTradeNo string    `json:"out_trade_no,omitempty"`
	RedeemedAt time.Time `json:"redeemed_at,omitzero"`
}

// maxPercent is 100 % in the hundredths that Value holds for percent_off.
const maxPercent = 100_00

// Validate checks an imported coupon. The error wraps ErrBadRequest.
func (c *Coupon) Validate() error {
	bad := func(f string, a ...any) error {
		return badRequest("coupon %q: %s", c.ID, fmt.Sprintf(f, a...))
	}
	if c.ID == "" || len(c.ID) > 64 || !printable(c.ID) {
		return badRequest("coupon id %q: want 1 to 64 printable ASCII characters", c.ID)
	}
	if c.UserID == "" || len(c.UserID) > 64 || !printable(c.UserID) {
		return bad("user_id: want 1 to 64 printable ASCII characters")
	}
	if utf8.RuneCountInString(c.Title) > 256 {
		return bad("title longer than 256 characters")
	}
	switch c.Kind {
	case AmountOff:
	case PercentOff:
		if c.Value > maxPercent {
			return bad("percent_off value %s is above 100", c.Value)
		}
	default:
		return bad("kind %q: want amount_off or percent_off", c.Kind)
	}
	if c.Value <= 0 {
		return bad("value must be above 0")
	}
	if c.MinSpend < 0 {
		return bad("min_spend must not be negative")
	}
	if c.MaxOff != nil && *c.MaxOff <= 0 {
		return bad("max_off must be above 0 when given")
	}
	if !c.ValidFrom.IsZero() && !c.ValidUntil.IsZero() && !c.ValidFrom.Before(c.ValidUntil) {
		return bad("valid_from must be before valid_until")
	}
	return nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Discount is what c takes off an order of amount, in fen, ignoring its
// state, user and validity window: 0 below min_spend; percent_off rounds
// down to the fen; max_off caps it; and at least 0.01 is always left to pay.
func Discount(c Coupon, amount gateway.Amount) gateway.Amount {
	if amount <= 1 || amount < c.MinSpend {
		return 0
	}
	var d gateway.Amount
	switch c.Kind {
	case AmountOff:
		d = c.Value
	case PercentOff:
		// amount ≤ 1e10 fen and Value ≤ 1e4: the product fits int64.
		d = amount * c.Value / (100 * 100)
	default:
		return 0
	}
	if c.MaxOff != nil && d > *c.MaxOff {
		d = *c.MaxOff
	}
	if d > amount-1 {
		d = amount - 1
	}
	if d < 0 {
		d = 0
	}
	return d
}

// Usable reports whether c may be used now by userID: available and within
// its validity window.
func (c Coupon) Usable(userID string, now time.Time) bool {
	if c.State != CouponAvailable || c.UserID != userID {
		return false
	}
	if !c.ValidFrom.IsZero() && now.Before(c.ValidFrom) {
		return false
	}
	if !c.ValidUntil.IsZero() && !now.Before(c.ValidUntil) {
		return false
	}
	return true
}

// BestCoupon picks the coupon of userID to use on an order of amount at now:
// among the usable ones with a discount above zero, the largest discount,
// then the earliest valid_until (an open end counts as latest), then the
// smallest id. ok is false when none applies.
func BestCoupon(cs []Coupon, userID string, amount gateway.Amount, now time.Time) (best Coupon, discount gateway.Amount, ok bool) {
	for _, c := range cs {
		if !c.Usable(userID, now) {
			continue
		}
		d := Discount(c, amount)
		if d <= 0 {
			continue
		}
		if !ok || d > discount || d == discount && betterExpiry(c, best) {
			best, discount, ok = c, d, true
		}
	}
	return best, discount, ok
}

// betterExpiry: a expires before b, or at the same time with a smaller id.
func betterExpiry(a, b Coupon) bool {
	switch {
	case a.ValidUntil.Equal(b.ValidUntil):
		return a.ID < b.ID
	case a.ValidUntil.IsZero():
		return false
	case b.ValidUntil.IsZero():
		return true
	}
	return a.ValidUntil.Before(b.ValidUntil)
}

// ImportResult says what an import did.
type ImportResult struct {
	// Created and Updated count the coupons written.
	Created int `json:"created"`
	Updated int `json:"updated"`
	// Skipped lists the ids left alone because they are reserved or redeemed.
	Skipped []string `json:"skipped"`
}

// ImportCoupons validates every coupon, then writes them all in one
// transaction: new ids are created available, existing ones are updated
// unless reserved or redeemed (those are skipped and listed). Errors:
// ErrBadRequest (nothing is written), or a database error.
func (e *Engine) ImportCoupons(cs []Coupon) (ImportResult, error) {
	res := ImportResult{Skipped: []string{}}
	seen := make(map[string]bool, len(cs))
	for i := range cs {
		if err := cs[i].Validate(); err != nil {
			return res, err
		}
		if seen[cs[i].ID] {
			return res, badRequest("coupon %q appears twice in the import", cs[i].ID)
		}
		seen[cs[i].ID] = true
	}
	err := e.db.Update(func(tx *bolt.Tx) error {
		res = ImportResult{Skipped: []string{}}
		for _, c := range cs {
			old, found, err := getCoupon(tx, c.ID)
			if err != nil {
				return err
			}
			if found && old.State != CouponAvailable {
				res.Skipped = append(res.Skipped, c.ID)
				continue
			}
			c.State, c.CheckoutID, c.OutTradeNo, c.RedeemedAt = CouponAvailable, "", "", time.Time{}
			if found && old.UserID != c.UserID {
				if err := tx.Bucket(bucketCouponUsers).Delete(couponUserKey(old.UserID, old.ID)); err != nil {
					return err
				}
			}
			if err := putCoupon(tx, &c); err != nil {
				return err
			}
			if found {
				res.Updated++
			} else {
				res.Created++
			}
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, fmt.Errorf("import coupons: %w", err)
	}
	e.log.Info().Str("event", "coupons_imported").Int("created", res.Created).
		Int("updated", res.Updated).Strs("skipped", res.Skipped).Msg("coupons imported")
	return res, nil
}

// ListCoupons returns the coupons of userID (all coupons when userID is
// empty), ordered by id.
func (e *Engine) ListCoupons(userID string) ([]Coupon, error) {
	var out []Coupon
	err := e.db.View(func(tx *bolt.Tx) error {
		var err error
		if userID == "" {
			err = tx.Bucket(bucketCoupons).ForEach(func(_, v []byte) error {
				var c Coupon
				if err := json.Unmarshal(v, &c); err != nil {
					return err
				}
				out = append(out, c)
				return nil
			})
		} else {
			out, err = userCoupons(tx, userID)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list coupons: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// GetCoupon returns one coupon. Errors: ErrNotFound.
func (e *Engine) GetCoupon(id string) (Coupon, error) {
	var c Coupon
	err := e.db.View(func(tx *bolt.Tx) error {
		var found bool
		var err error
		c, found, err = getCoupon(tx, id)
		if err == nil && !found {
			err = notFound("coupon", id)
		}
		return err
	})
	return c, err
}

func couponUserKey(userID, id string) []byte {
	return []byte(userID + "\x00" + id)
}

func getCoupon(tx *bolt.Tx, id string) (Coupon, bool, error) {
	var c Coupon
	v := tx.Bucket(bucketCoupons).Get([]byte(id))
	if v == nil {
		return c, false, nil
	}
	if err := json.Unmarshal(v, &c); err != nil {
		return c, false, fmt.Errorf("coupon %s: corrupt record: %w", id, err)
	}
	return c, true, nil
}

func putCoupon(tx *bolt.Tx, c *Coupon) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketCoupons).Put([]byte(c.ID), v); err != nil {
		return err
	}
	return tx.Bucket(bucketCouponUsers).Put(couponUserKey(c.UserID, c.ID), nil)
}

func userCoupons(tx *bolt.Tx, userID string) ([]Coupon, error) {
	var out []Coupon
	prefix := []byte(userID + "\x00")
	cur := tx.Bucket(bucketCouponUsers).Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		c, found, err := getCoupon(tx, string(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		if found && c.UserID == userID {
			out = append(out, c)
		}
	}
	return out, nil
}

// reserveBest reserves the best coupon of r's user for r's amount, inside
// the pay-intent transaction, and sets r.CouponID and r.Discount.
func reserveBest(tx *bolt.Tx, r *record, now time.Time) error {
	r.CouponID, r.Discount = "", 0
	if r.UserID == "" {
		return nil
	}
	cs, err := userCoupons(tx, r.UserID)
	if err != nil {
		return err
	}
	c, d, ok := BestCoupon(cs, r.UserID, r.Amount, now)
	if !ok {
		return nil
	}
	c.State, c.CheckoutID, c.OutTradeNo = CouponReserved, r.ID, r.OutTradeNo
	if err := putCoupon(tx, &c); err != nil {
		return err
	}
	r.CouponID, r.Discount = c.ID, d
	return nil
}

// settleCoupon redeems (paid) or releases (any other end) the coupon that r
// holds, if it still holds it. It returns the coupon when it was redeemed.
func settleCoupon(tx *bolt.Tx, r *record, redeem bool, now time.Time) (Coupon, bool, error) {
	if r.CouponID == "" {
		return Coupon{}, false, nil
	}
	c, found, err := getCoupon(tx, r.CouponID)
	if err != nil || !found || c.State != CouponReserved || c.CheckoutID != r.ID {
		return Coupon{}, false, err
	}
	if redeem {
		c.State, c.RedeemedAt = CouponRedeemed, now
	} else {
		c.State, c.CheckoutID, c.OutTradeNo = CouponAvailable, "", ""
	}
	if err := putCoupon(tx, &c); err != nil {
		return Coupon{}, false, err
	}
	return c, redeem, nil
}
