package checkout_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
)

func amt(s string) gateway.Amount {
	a, err := gateway.ParseAmount(s)
	if err != nil {
		panic(err)
	}
	return a
}

func ptr(a gateway.Amount) *gateway.Amount { return &a }

func TestDiscount(t *testing.T) {
	for _, tc := range []struct {
		name   string
		c      checkout.Coupon
		amount string
		want   string
	}{
		{"amount_off", checkout.Coupon{Kind: checkout.AmountOff, Value: amt("5")}, "25.00", "5.00"},
		{"amount_off below min_spend", checkout.Coupon{Kind: checkout.AmountOff, Value: amt("5"), MinSpend: amt("30")}, "25.00", "0.00"},
		{"amount_off at min_spend", checkout.Coupon{Kind: checkout.AmountOff, Value: amt("5"), MinSpend: amt("25")}, "25.00", "5.00"},
		{"amount_off never below 0.01", checkout.Coupon{Kind: checkout.AmountOff, Value: amt("50")}, "25.00", "24.99"},
		{"amount_off equal to amount", checkout.Coupon{Kind: checkout.AmountOff, Value: amt("25")}, "25.00", "24.99"},
		{"amount_off on 0.01", checkout.Coupon{Kind: checkout.AmountOff, Value: amt("1")}, "0.01", "0.00"},
		{"percent_off", checkout.Coupon{Kind: checkout.PercentOff, Value: amt("10")}, "25.00", "2.50"},
		{"percent_off rounds down", checkout.Coupon{Kind: checkout.PercentOff, Value: amt("15")}, "0.99", "0.14"},
		{"percent_off fractional percent", checkout.Coupon{Kind: checkout.PercentOff, Value: amt("12.5")}, "10.00", "1.25"},
		{"percent_off capped by max_off", checkout.Coupon{Kind: checkout.PercentOff, Value: amt("50"), MaxOff: ptr(amt("3"))}, "25.00", "3.00"},
		{"percent_off under max_off", checkout.Coupon{Kind: checkout.PercentOff, Value: amt("10"), MaxOff: ptr(amt("3"))}, "25.00", "2.50"},
		{"percent_off 100 leaves 0.01", checkout.Coupon{Kind: checkout.PercentOff, Value: amt("100")}, "25.00", "24.99"},
		{"percent_off too small to matter", checkout.Coupon{Kind: checkout.PercentOff, Value: amt("1")}, "0.50", "0.00"},
		{"amount_off capped by max_off", checkout.Coupon{Kind: checkout.AmountOff, Value: amt("10"), MaxOff: ptr(amt("4"))}, "25.00", "4.00"},
		{"huge order", checkout.Coupon{Kind: checkout.PercentOff, Value: amt("99.99")}, "100000000.00", "99990000.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkout.Discount(tc.c, amt(tc.amount)); got.String() != tc.want {
				t.Errorf("Discount(%s) = %s, want %s", tc.amount, got, tc.want)
			}
		})
	}
}

func TestBestCoupon(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, gateway.Shanghai)
	day := 24 * time.Hour
	c := func(id string, kind checkout.CouponKind, v string, until time.Duration) checkout.Coupon {
		return checkout.Coupon{ID: id, UserID: "U", Kind: kind, Value: amt(v), State: checkout.CouponAvailable,
			ValidFrom: now.Add(-day), ValidUntil: now.Add(until)}
	}
	for _, tc := range []struct {
		name   string
		cs     []checkout.Coupon
		amount string
		want   string // id, "" for none
		disc   string
	}{
		{"none", nil, "10.00", "", "0.00"},
		{"largest discount wins", []checkout.Coupon{c("A", checkout.AmountOff, "2", day), c("B", checkout.PercentOff, "30", day)}, "10.00", "B", "3.00"},
		{"tie: earliest expiry", []checkout.Coupon{c("A", checkout.AmountOff, "2", 2*day), c("B", checkout.AmountOff, "2", day)}, "10.00", "B", "2.00"},
		{"tie on expiry: smallest id", []checkout.Coupon{c("B", checkout.AmountOff, "2", day), c("A", checkout.AmountOff, "2", day)}, "10.00", "A", "2.00"},
		{"open end counts as latest", []checkout.Coupon{
			{ID: "A", UserID: "U", Kind: checkout.AmountOff, Value: amt("2"), State: checkout.CouponAvailable},
			c("B", checkout.AmountOff, "2", 3*day)}, "10.00", "B", "2.00"},
		{"expired is skipped", []checkout.Coupon{c("A", checkout.AmountOff, "5", -time.Second), c("B", checkout.AmountOff, "1", day)}, "10.00", "B", "1.00"},
		{"valid_until is exclusive", []checkout.Coupon{c("A", checkout.AmountOff, "5", 0)}, "10.00", "", "0.00"},
		{"not yet valid", []checkout.Coupon{{ID: "A", UserID: "U", Kind: checkout.AmountOff, Value: amt("5"), State: checkout.CouponAvailable, ValidFrom: now.Add(time.Second)}}, "10.00", "", "0.00"},
		{"valid_from is inclusive", []checkout.Coupon{{ID: "A", UserID: "U", Kind: checkout.AmountOff, Value: amt("5"), State: checkout.CouponAvailable, ValidFrom: now}}, "10.00", "A", "5.00"},
		{"reserved and redeemed are skipped", []checkout.Coupon{
			func() checkout.Coupon {
				x := c("A", checkout.AmountOff, "5", day)
				x.State = checkout.CouponReserved
				return x
			}(),
			func() checkout.Coupon {
				x := c("B", checkout.AmountOff, "5", day)
				x.State = checkout.CouponRedeemed
				return x
			}(),
			c("C", checkout.AmountOff, "1", day)}, "10.00", "C", "1.00"},
		{"other user's is skipped", []checkout.Coupon{func() checkout.Coupon { x := c("A", checkout.AmountOff, "5", day); x.UserID = "V"; return x }()}, "10.00", "", "0.00"},
		{"min_spend not met", []checkout.Coupon{func() checkout.Coupon { x := c("A", checkout.AmountOff, "5", day); x.MinSpend = amt("20"); return x }(), c("B", checkout.AmountOff, "1", day)}, "10.00", "B", "1.00"},
		{"capped percent vs amount_off", []checkout.Coupon{
			func() checkout.Coupon {
				x := c("A", checkout.PercentOff, "50", day)
				x.MaxOff = ptr(amt("2"))
				return x
			}(),
			c("B", checkout.AmountOff, "3", 2*day)}, "10.00", "B", "3.00"},
		{"never below 0.01", []checkout.Coupon{c("A", checkout.AmountOff, "50", day)}, "10.00", "A", "9.99"},
		{"zero discount is not used", []checkout.Coupon{c("A", checkout.PercentOff, "1", day)}, "0.50", "", "0.00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			best, d, ok := checkout.BestCoupon(tc.cs, "U", amt(tc.amount), now)
			if ok != (tc.want != "") || ok && best.ID != tc.want || d.String() != tc.disc {
				t.Errorf("got %q %s %v, want %q %s", best.ID, d, ok, tc.want, tc.disc)
			}
		})
	}
}

func TestCouponValidate(t *testing.T) {
	ok := checkout.Coupon{ID: "C1", UserID: "2088000000000001", Kind: checkout.AmountOff, Value: 100}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for name, mut := range map[string]func(*checkout.Coupon){
		"no id":          func(c *checkout.Coupon) { c.ID = "" },
		"no user":        func(c *checkout.Coupon) { c.UserID = "" },
		"bad kind":       func(c *checkout.Coupon) { c.Kind = "free_lunch" },
		"zero value":     func(c *checkout.Coupon) { c.Value = 0 },
		"over 100 %":     func(c *checkout.Coupon) { c.Kind, c.Value = checkout.PercentOff, 100_01 },
		"zero max_off":   func(c *checkout.Coupon) { c.MaxOff = ptr(0) },
		"window reverse": func(c *checkout.Coupon) { c.ValidFrom, c.ValidUntil = now, now.Add(-time.Second) },
		"control char":   func(c *checkout.Coupon) { c.ID = "a\x00b" },
	} {
		c := ok
		mut(&c)
		if err := c.Validate(); !errors.Is(err, checkout.ErrBadRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCouponImport(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	// An invalid coupon anywhere: nothing is written.
	_, err := env.E.ImportCoupons([]checkout.Coupon{
		{ID: "A", UserID: "U1", Kind: checkout.AmountOff, Value: 100},
		{ID: "B", UserID: "U1", Kind: "bogus", Value: 100},
	})
	if !errors.Is(err, checkout.ErrBadRequest) {
		t.Fatal(err)
	}
	if cs, _ := env.E.ListCoupons(""); len(cs) != 0 {
		t.Fatalf("partial import: %+v", cs)
	}
	// Duplicate ids in one import are refused.
	if _, err := env.E.ImportCoupons([]checkout.Coupon{{ID: "A", UserID: "U1", Kind: checkout.AmountOff, Value: 1}, {ID: "A", UserID: "U1", Kind: checkout.AmountOff, Value: 2}}); !errors.Is(err, checkout.ErrBadRequest) {
		t.Fatal(err)
	}
	// State is not set by an import; moving a coupon to another user
	// re-indexes it.
	res, err := env.E.ImportCoupons([]checkout.Coupon{
		{ID: "A", UserID: "U1", Kind: checkout.AmountOff, Value: 100, State: checkout.CouponRedeemed},
		{ID: "B", UserID: "U1", Kind: checkout.PercentOff, Value: 500},
	})
	if err != nil || res.Created != 2 {
		t.Fatal(res, err)
	}
	if c, _ := env.E.GetCoupon("A"); c.State != checkout.CouponAvailable {
		t.Fatalf("imported state %s", c.State)
	}
	if _, err := env.E.ImportCoupons([]checkout.Coupon{{ID: "B", UserID: "U2", Kind: checkout.PercentOff, Value: 500}}); err != nil {
		t.Fatal(err)
	}
	u1, _ := env.E.ListCoupons("U1")
	u2, _ := env.E.ListCoupons("U2")
	if len(u1) != 1 || u1[0].ID != "A" || len(u2) != 1 || u2[0].ID != "B" {
		t.Fatalf("U1 %+v U2 %+v", u1, u2)
	}
	if _, err := env.E.GetCoupon("nope"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatal(err)
	}
}

// FuzzCouponJSON feeds outside bytes (an import body) through decoding,
// validation and the discount math: a valid coupon never takes an order
// below 0.01 nor gives a negative discount, and percent_off never takes
// more than its percentage.
func FuzzCouponJSON(f *testing.F) {
	f.Add([]byte(`[{"id":"C1","user_id":"U","kind":"amount_off","value":"5.00","min_spend":"20.00","valid_until":"2030-01-01T00:00:00Z"}]`), int64(2500))
	f.Add([]byte(`[{"id":"C2","user_id":"U","kind":"percent_off","value":"12.5","max_off":"3.00"}]`), int64(1))
	f.Add([]byte(`[{"id":"C3","user_id":"U","kind":"percent_off","value":"100"}]`), int64(10000000000))
	f.Add([]byte(`[{"id":"C4","user_id":"U","kind":"amount_off","value":25}]`), int64(99))
	f.Fuzz(func(t *testing.T, body []byte, amount int64) {
		var cs []checkout.Coupon
		if json.Unmarshal(body, &cs) != nil {
			return
		}
		a := gateway.Amount(amount)
		if a < 1 || a > gateway.MaxAmount {
			return
		}
		for _, c := range cs {
			if c.Validate() != nil {
				continue
			}
			d := checkout.Discount(c, a)
			if d < 0 || d > a-1 {
				t.Fatalf("discount %s on %s: pays %s", d, a, a-d)
			}
			if c.Kind == checkout.PercentOff && int64(d)*10000 > int64(a)*int64(c.Value) {
				t.Fatalf("percent_off %s takes %s of %s", c.Value, d, a)
			}
			if c.MaxOff != nil && d > *c.MaxOff {
				t.Fatalf("max_off %s exceeded: %s", *c.MaxOff, d)
			}
		}
	})
}
