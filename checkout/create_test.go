package checkout_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
)

func TestCreateRules(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	ctx := context.Background()
	req := checkout.CreateRequest{OrderID: "A-1", Amount: 2500, Subject: "groceries"}

	c1, created, err := env.E.Create(ctx, req)
	if err != nil || !created || c1.State != checkout.AwaitingScan {
		t.Fatalf("create: %+v %v %v", c1, created, err)
	}
	// Same order and amount: the same checkout.
	c2, created, err := env.E.Create(ctx, req)
	if err != nil || created || c2.ID != c1.ID {
		t.Fatalf("repeat: %+v %v %v", c2, created, err)
	}
	// Same order, other amount: conflict.
	other := req
	other.Amount = 2600
	if _, _, err := env.E.Create(ctx, other); !errors.Is(err, checkout.ErrConflict) {
		t.Fatalf("other amount: %v", err)
	}
	// Another order while one awaits a scan: conflict naming it.
	_, _, err = env.E.Create(ctx, checkout.CreateRequest{OrderID: "B-1", Amount: 100, Subject: "x"})
	if !errors.Is(err, checkout.ErrConflict) || !strings.Contains(err.Error(), c1.ID) || !strings.Contains(err.Error(), "awaiting a scan") {
		t.Fatalf("second awaiting: %v", err)
	}
	// Bad requests.
	for _, bad := range []checkout.CreateRequest{
		{Amount: 100, Subject: "x"},
		{OrderID: "X", Amount: 0, Subject: "x"},
		{OrderID: "X", Amount: gateway.MaxAmount + 1, Subject: "x"},
		{OrderID: "X", Amount: 100},
		{OrderID: "X", Amount: 100, Subject: "x", AuthCode: "12345"},
		{OrderID: "X\n", Amount: 100, Subject: "x"},
	} {
		if _, _, err := env.E.Create(ctx, bad); !errors.Is(err, checkout.ErrBadRequest) || errCode(err) == "" {
			t.Errorf("create %+v: %v", bad, err)
		}
	}
	// A failed attempt allows a new one for the same order; the paid one is
	// then returned, never charged again.
	env.mustScan(SandboxCode(scBalanceNotEnough, 0))
	if c := env.wait(c1.ID); c.State != checkout.Failed {
		t.Fatalf("%+v", c)
	}
	c3, created, err := env.E.Create(ctx, req)
	if err != nil || !created || c3.ID == c1.ID {
		t.Fatalf("new attempt: %+v %v %v", c3, created, err)
	}
	env.mustScan(NormalCode())
	c3 = env.wait(c3.ID)
	if c3.State != checkout.Paid || c3.OutTradeNo == "" {
		t.Fatalf("%+v", c3)
	}
	c4, created, err := env.E.Create(ctx, req)
	if err != nil || created || c4.ID != c3.ID || c4.State != checkout.Paid {
		t.Fatalf("after paid: %+v %v %v", c4, created, err)
	}
	// With auth_code: straight to decoding, then paid.
	c5, created, err := env.E.Create(ctx, checkout.CreateRequest{OrderID: "C-1", Amount: 700, Subject: "x", AuthCode: NormalCode()})
	if err != nil || !created || c5.State != checkout.Decoding || c5.SenceNo == "" {
		t.Fatalf("auth_code: %+v %v %v", c5, created, err)
	}
	if c5 = env.wait(c5.ID); c5.State != checkout.Paid {
		t.Fatalf("%+v", c5)
	}
	// needs_attention blocks the order.
	c6, _, _ := env.E.Create(ctx, checkout.CreateRequest{OrderID: "D-1", Amount: 700, Subject: "x", AuthCode: SandboxCode(scFrozen, 0)})
	if c6 = env.wait(c6.ID); c6.State != checkout.NeedsAttention {
		t.Fatalf("%+v", c6)
	}
	if _, _, err := env.E.Create(ctx, checkout.CreateRequest{OrderID: "D-1", Amount: 700, Subject: "x"}); !errors.Is(err, checkout.ErrConflict) {
		t.Fatalf("needs_attention order: %v", err)
	}
	if _, err := env.E.Get("co_nope"); !errors.Is(err, checkout.ErrNotFound) {
		t.Fatalf("get unknown: %v", err)
	}

	// List: newest first, by state, paging; counts.
	all, err := env.E.List(checkout.ListFilter{})
	if err != nil || len(all) != 4 || all[0].ID != c6.ID || all[3].ID != c1.ID {
		t.Fatalf("list %v %v", ids(all), err)
	}
	paid, _ := env.E.List(checkout.ListFilter{State: checkout.Paid})
	if len(paid) != 2 || paid[0].ID != c5.ID || paid[1].ID != c3.ID {
		t.Fatalf("paid %v", ids(paid))
	}
	for _, tc := range []struct {
		f    checkout.ListFilter
		want []string
	}{
		{checkout.ListFilter{State: checkout.Paid, Limit: 1}, []string{c5.ID}},
		{checkout.ListFilter{State: checkout.Paid, Before: c5.ID}, []string{c3.ID}},
		{checkout.ListFilter{State: checkout.Paid, Before: c3.ID}, nil},
		{checkout.ListFilter{State: checkout.Paid, Before: c6.ID}, []string{c5.ID, c3.ID}},
		{checkout.ListFilter{State: checkout.Paid, Before: "co_~"}, []string{c5.ID, c3.ID}},
		{checkout.ListFilter{State: checkout.Paid, Before: "co_"}, nil},
		{checkout.ListFilter{State: checkout.Failed}, []string{c1.ID}},
		{checkout.ListFilter{State: checkout.NeedsAttention}, []string{c6.ID}},
		{checkout.ListFilter{State: checkout.NeedsAttention, Before: c6.ID}, nil},
		{checkout.ListFilter{State: checkout.Cancelled}, nil},
		{checkout.ListFilter{State: checkout.AwaitingScan}, nil},
	} {
		got, err := env.E.List(tc.f)
		if err != nil || !slices.Equal(ids(got), tc.want) {
			t.Errorf("list %+v: %v %v, want %v", tc.f, ids(got), err, tc.want)
		}
	}
	page, _ := env.E.List(checkout.ListFilter{Limit: 2, Before: c5.ID})
	if len(page) != 2 || page[0].ID != c3.ID || page[1].ID != c1.ID {
		t.Fatalf("page %v", ids(page))
	}
	if _, err := env.E.List(checkout.ListFilter{State: "bogus"}); !errors.Is(err, checkout.ErrBadRequest) {
		t.Fatalf("bad state: %v", err)
	}
	n, err := env.E.CountByState()
	if err != nil || n[checkout.Paid] != 2 || n[checkout.Failed] != 1 || n[checkout.NeedsAttention] != 1 || len(n) != 3 {
		t.Fatalf("counts %v %v", n, err)
	}
}

func ids(cs []checkout.Checkout) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestScanRouting(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	ctx := context.Background()
	// Nothing awaiting: rejected and logged.
	if _, err := env.E.Scan(ctx, NormalCode()); !errors.Is(err, checkout.ErrNoCheckoutAwaiting) {
		t.Fatalf("scan with none awaiting: %v", err)
	}
	if _, err := env.E.RejectScan("12******7890", checkout.CodeNotAlipayCode, "WeChat"); !errors.Is(err, checkout.ErrNoCheckoutAwaiting) {
		t.Fatalf("reject with none awaiting: %v", err)
	}
	c := env.mustCreate(500)
	// A non-Alipay scan is shown on the awaiting checkout.
	got, err := env.E.RejectScan("13************1234", checkout.CodeNotAlipayCode, "This is a WeChat Pay code.")
	if err != nil || got.State != checkout.AwaitingScan || got.Error == nil || got.Error.Code != checkout.CodeNotAlipayCode || got.Error.Message != "This is a WeChat Pay code." {
		t.Fatalf("reject: %+v %v", got, err)
	}
	// So is a non-code handed to Scan.
	if _, err := env.E.Scan(ctx, "6901234567892"); !errors.Is(err, checkout.ErrBadRequest) {
		t.Fatalf("scan of a barcode: %v", err)
	}
	// The next good scan clears the error.
	got = env.mustScan(NormalCode())
	if got.Error != nil || got.State != checkout.Decoding {
		t.Fatalf("good scan: %+v", got)
	}
	// While decoding, another scan finds no checkout awaiting.
	if _, err := env.E.Scan(ctx, NormalCode()); err != nil && !errors.Is(err, checkout.ErrNoCheckoutAwaiting) {
		t.Fatalf("scan while decoding: %v", err)
	}
	env.wait(c.ID)
	logs := env.Logs.String()
	if !strings.Contains(logs, `"event":"scan_rejected"`) {
		t.Error("no scan_rejected line")
	}
}

// TestCheckoutJSON pins the SPEC §6 shape.
func TestCheckoutJSON(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	c := env.mustCreate(2500)
	b, _ := json.Marshal(c)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	spec := []string{"id", "order_id", "state", "amount", "discount", "paid_amount", "user_id", "coupon_id",
		"sence_no", "out_trade_no", "trade_no", "refunded", "refunded_amount", "consult_result", "created_at", "updated_at"}
	for _, k := range spec {
		if _, ok := m[k]; !ok {
			t.Errorf("missing %s in %s", k, b)
		}
	}
	if _, ok := m["error"]; ok {
		t.Errorf("error present without an error: %s", b)
	}
	if m["consult_result"] != nil || m["amount"] != "25.00" || m["discount"] != "0.00" || m["refunded"] != false {
		t.Errorf("values: %s", b)
	}
	if _, err := time.Parse(time.RFC3339, m["created_at"].(string)); err != nil {
		t.Errorf("created_at: %v", err)
	}
	var extra []string
	for k := range m {
		found := false
		for _, s := range spec {
			found = found || s == k
		}
		if !found {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if strings.Join(extra, ",") != "operator_id,subject" {
		t.Errorf("extensions: %v", extra)
	}
	env.E.RejectScan("xx", "NOT_ALIPAY_CODE", "no")
	c, _ = env.E.Get(c.ID)
	b, _ = json.Marshal(c)
	if !strings.Contains(string(b), `"error":{"code":"NOT_ALIPAY_CODE","message":"no"}`) {
		t.Errorf("error shape: %s", b)
	}
}

// TestLogLines: every line about a checkout names it, its order and an
// event; no payment code appears whole.
func TestLogLines(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	var codes []string
	for _, code := range []string{NormalCode(), SandboxCode(scWaitThenPaid, 1), SandboxCode(scCodeExpired, 0), SandboxCode(scWaitForever, 0)} {
		codes = append(codes, code)
		c := env.mustCreate(100)
		env.mustScan(code)
		c = env.waitFor(c.ID, "an end or a rejected scan", func(c checkout.Checkout) bool {
			return c.State.Terminal() || c.State == checkout.AwaitingScan && c.Error != nil
		})
		if !c.State.Terminal() {
			env.E.Cancel(context.Background(), c.ID)
		}
	}
	env.Close()
	events := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(env.Logs.String()))
	for sc.Scan() {
		line := sc.Text()
		for _, code := range codes {
			if strings.Contains(line, code) {
				t.Fatalf("full payment code in log: %s", line)
			}
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		if _, ok := m["checkout_id"]; ok {
			if m["order_id"] == nil || m["event"] == nil {
				t.Errorf("line without order_id/event: %s", line)
			}
			events[m["event"].(string)] = true
		}
	}
	for _, ev := range []string{"checkout_created", "scan_accepted", "decode", "pay_sent", "pay_result", "query", "waiting_buyer", "paid", "cancel_queued", "cancelled", "cancel_sent"} {
		if !events[ev] {
			t.Errorf("no %s line", ev)
		}
	}
}
