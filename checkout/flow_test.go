package checkout_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/queue"
)

// TestOutcomes drives every decode and pay outcome of the sandbox through
// the engine, over loopback, with the sandbox ledger as the oracle.
func TestOutcomes(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})

	type want struct {
		state     checkout.State
		errCode   string         // "" = no error
		decode    string         // DecodeResult
		charged   gateway.Amount // the ledger's successful unrefunded amount; 0 = none
		tradeSeen bool           // the ledger has a trade (of any status) for the out_trade_no
		refunded  bool
	}
	cases := []struct {
		name string
		code string
		want want
	}{
		{"paid", NormalCode(), want{checkout.Paid, "", checkout.DecodeUserID, 2500, true, false}},
		{"user_un_auth pays without coupons", SandboxCode(scUserUnAuth, 0), want{checkout.Paid, "", "USER_UN_AUTH", 2500, true, false}},
		{"index_not_exist pays without coupons", SandboxCode(scIndexNotExist, 0), want{checkout.Paid, "", "INDEX_NOT_EXIST", 2500, true, false}},
		{"password wait then paid", SandboxCode(scWaitThenPaid, 2), want{checkout.Paid, "", checkout.DecodeUserID, 2500, true, false}},
		{"password wait then closed", SandboxCode(scWaitThenClosed, 2), want{checkout.Failed, checkout.CodeTradeClosed, checkout.DecodeUserID, 0, true, false}},
		{"wait forever is cancelled at the deadline", SandboxCode(scWaitForever, 0), want{checkout.Cancelled, checkout.CodeDecisionTimeout, checkout.DecodeUserID, 0, true, false}},
		{"balance too low", SandboxCode(scBalanceNotEnough, 0), want{checkout.Failed, "ACQ.BUYER_BALANCE_NOT_ENOUGH", checkout.DecodeUserID, 0, false, false}},
		{"pay 20000 but paid: query confirms", SandboxCode(scPayUnknownPaid, 0), want{checkout.Paid, "", checkout.DecodeUserID, 2500, true, false}},
		{"pay 20000, no trade: cancelled at the deadline", SandboxCode(scPayUnknownNotFound, 0), want{checkout.Cancelled, checkout.CodeDecisionTimeout, checkout.DecodeUserID, 0, true, false}},
		{"frozen: cancel refused", SandboxCode(scFrozen, 0), want{checkout.NeedsAttention, "ACQ.REASON_TRADE_BEEN_FREEZEN", checkout.DecodeUserID, 0, true, false}},
		{"cancel not allowed", SandboxCode(scCancelNotAllowed, 0), want{checkout.NeedsAttention, "ACQ.CANCEL_NOT_ALLOWED", checkout.DecodeUserID, 0, true, false}},
		{"cancel time out", SandboxCode(scCancelTimeOut, 0), want{checkout.NeedsAttention, "ACQ.TRADE_CANCEL_TIME_OUT", checkout.DecodeUserID, 0, true, false}},
		{"cancel retry_flag=Y is sent again", SandboxCode(scCancelRetry, 0), want{checkout.Cancelled, checkout.CodeDecisionTimeout, checkout.DecodeUserID, 0, true, false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := env.mustCreate(2500)
			env.mustScan(tc.code)
			c = env.wait(c.ID)
			if c.State != tc.want.state {
				t.Fatalf("state %s (error %+v), want %s", c.State, c.Error, tc.want.state)
			}
			got := ""
			if c.Error != nil {
				got = c.Error.Code
				if c.Error.Message == "" {
					t.Errorf("error %s has no message", got)
				}
			}
			if got != tc.want.errCode {
				t.Errorf("error code %q, want %q (%+v)", got, tc.want.errCode, c.Error)
			}
			if c.DecodeResult != tc.want.decode {
				t.Errorf("decode_result %q, want %q", c.DecodeResult, tc.want.decode)
			}
			if !strings.HasPrefix(c.SenceNo, "T01_S") || !strings.HasPrefix(c.OutTradeNo, "T01_") {
				t.Errorf("sence_no %q, out_trade_no %q", c.SenceNo, c.OutTradeNo)
			}
			tr, seen := trade(sb, c.OutTradeNo)
			if seen != tc.want.tradeSeen {
				t.Fatalf("ledger has trade %v (%+v), want %v", seen, tr, tc.want.tradeSeen)
			}
			charged := gateway.Amount(0)
			if seen && tr.Status == gateway.TradeSuccess && !tr.Refunded {
				charged = tr.TotalAmount
			}
			if charged != tc.want.charged {
				t.Errorf("charged %s, want %s", charged, tc.want.charged)
			}
			if seen && tr.TradeNo != "" && tr.SenceNo != c.SenceNo {
				t.Errorf("trade.pay carried DYNAMIC_TOKEN_OUT_BIZ_NO %q, checkout sence_no %q", tr.SenceNo, c.SenceNo)
			}
			if c.Refunded != tc.want.refunded {
				t.Errorf("refunded %v", c.Refunded)
			}
			if c.State == checkout.Paid && (c.TradeNo != tr.TradeNo || c.PaidAmount != 2500 || c.UserID != sandbox.UserIDOf(tc.code) && c.DecodeResult == checkout.DecodeUserID) {
				t.Errorf("paid checkout %+v vs trade %+v", c, tr)
			}
		})
	}
	checkLedger(t, allCheckouts(t, env.E), sb.Trades(), true)
	logs := env.Logs.String()
	if !strings.Contains(logs, `"event":"needs_attention"`) || !strings.Contains(logs, `"level":"error"`) {
		t.Errorf("needs_attention was not logged at error level")
	}
	for _, tc := range cases {
		if strings.Contains(logs, tc.code) {
			t.Errorf("a payment code appears unmasked in the log")
		}
	}
}

// TestDecodeRejections: codes the gateway will not decode leave the
// checkout in awaiting_scan with an error the register can show; the next
// good scan clears it and pays.
func TestDecodeRejections(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	for _, tc := range []struct {
		code, errCode string
	}{
		{SandboxCode(scCodeExpired, 0), "CODE_EXPIRED"},
		{SandboxCode(scIllegalCode, 0), "ILLEGAL_CODE"},
		{SandboxCode(scDecodeFailed, 0), "DECODE_FAILED"},
		{SandboxCode(scDecodeSystemError, 0), checkout.CodeGatewayUnavailable},
		{SandboxCode(scDecodeUnknown, 0), checkout.CodeGatewayUnavailable},
	} {
		t.Run(tc.errCode, func(t *testing.T) {
			c := env.mustCreate(1000)
			env.mustScan(tc.code)
			c = env.waitFor(c.ID, "awaiting_scan with an error", func(c checkout.Checkout) bool {
				return c.State == checkout.AwaitingScan && c.Error != nil
			})
			if c.Error.Code != tc.errCode || c.Error.Message == "" {
				t.Fatalf("error %+v, want %s", c.Error, tc.errCode)
			}
			if c.OutTradeNo != "" {
				t.Fatalf("out_trade_no %q set before any pay", c.OutTradeNo)
			}
			// The next good scan clears the error and pays.
			got := env.mustScan(NormalCode())
			if got.ID != c.ID || got.State != checkout.Decoding || got.Error != nil {
				t.Fatalf("rescan: %+v", got)
			}
			c = env.wait(c.ID)
			if c.State != checkout.Paid || c.Error != nil {
				t.Fatalf("after a good scan: %s %+v", c.State, c.Error)
			}
		})
	}
	checkLedger(t, allCheckouts(t, env.E), sb.Trades(), true)
}

// TestDecodeUnavailablePays: with on_decode_unavailable =
// pay_without_coupons a decode that cannot be done still pays, and the pay
// still carries the sence_no the decode tried.
func TestDecodeUnavailablePays(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{OnDecodeUnavailable: checkout.DecodePayWithoutCoupons})
	for _, code := range []string{SandboxCode(scDecodeUnknown, 0), SandboxCode(scDecodeSystemError, 0)} {
		c := env.mustCreate(1000)
		env.mustScan(code)
		c = env.wait(c.ID)
		if c.State != checkout.Paid || c.DecodeResult != checkout.DecodeUnavailable || c.UserID != "" {
			t.Fatalf("%s: %+v", gateway.MaskCode(code), c)
		}
		tr, _ := trade(sb, c.OutTradeNo)
		if tr.SenceNo != c.SenceNo || tr.TotalAmount != 1000 {
			t.Fatalf("ledger %+v, sence_no %s", tr, c.SenceNo)
		}
	}
	// An unreachable gateway (dropped replies on the decode) counts the same.
	sb.SetFaults(sandbox.Faults{DropAfterCommit: 1, Methods: []string{gateway.MethodTwoStageUse}})
	c := env.mustCreate(1000)
	code := NormalCode()
	env.mustScan(code)
	c = env.wait(c.ID)
	sb.SetFaults(sandbox.Faults{})
	if c.State != checkout.Paid || c.DecodeResult != checkout.DecodeUnavailable {
		t.Fatalf("%+v", c)
	}
	tr, _ := trade(sb, c.OutTradeNo)
	if tr.SenceNo != c.SenceNo {
		t.Fatalf("ledger sence %q, checkout %q", tr.SenceNo, c.SenceNo)
	}
	checkLedger(t, allCheckouts(t, env.E), sb.Trades(), true)
}

// TestSenceNoUnmatch: a gateway that bound the code to another sence_no is
// a defect: logged at error level, and the cashier is asked for a fresh code.
func TestSenceNoUnmatch(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	code := NormalCode()
	if _, err := env.GW.TwoStageUse(context.Background(), gateway.TwoStageUseRequest{DynamicID: code, SenceNo: "OTHER_1", PayPID: sb.PayPID()}); err != nil {
		t.Fatal(err)
	}
	c := env.mustCreate(1000)
	env.mustScan(code)
	c = env.waitFor(c.ID, "awaiting_scan", func(c checkout.Checkout) bool { return c.State == checkout.AwaitingScan && c.Error != nil })
	if c.Error.Code != checkout.CodeSenceNoUnmatch {
		t.Fatalf("error %+v", c.Error)
	}
	if !strings.Contains(env.Logs.String(), "DEFECT") {
		t.Error("SENCENO_UN_MATCH not logged as a defect")
	}
	env.mustScan(NormalCode())
	if c = env.wait(c.ID); c.State != checkout.Paid {
		t.Fatalf("%+v", c)
	}
}

// TestCouponsAppliedAndReported: the best coupon is reserved before paying,
// the ledger is charged the amount after discount, the coupon is redeemed
// with a coupon_report job queued in the paid transaction; a failed pay
// releases it.
func TestCouponsAppliedAndReported(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{ReportCoupons: true, ConsultScene: "TEST_SCENE"})
	code := NormalCode()
	user := sandbox.UserIDOf(code)
	now := time.Now()
	maxOff := gateway.Amount(300)
	if _, err := env.E.ImportCoupons([]checkout.Coupon{
		{ID: "C-5OFF", UserID: user, Title: "5 off", Kind: checkout.AmountOff, Value: 500, MinSpend: 2000, ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(time.Hour)},
		{ID: "C-10PCT", UserID: user, Title: "10%", Kind: checkout.PercentOff, Value: 1000, MaxOff: &maxOff, ValidFrom: now.Add(-time.Hour), ValidUntil: now.Add(time.Hour)},
		{ID: "C-OTHER", UserID: "2088000000000001", Title: "not yours", Kind: checkout.AmountOff, Value: 2000, ValidUntil: now.Add(time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	c := env.mustCreate(2500)
	env.mustScan(code)
	c = env.wait(c.ID)
	if c.State != checkout.Paid || c.CouponID != "C-5OFF" || c.Discount != 500 || c.PaidAmount != 2000 || c.UserID != user {
		t.Fatalf("%+v", c)
	}
	tr, _ := trade(sb, c.OutTradeNo)
	if tr.TotalAmount != 2000 || tr.BuyerUserID != user {
		t.Fatalf("ledger %+v", tr)
	}
	cp, err := env.E.GetCoupon("C-5OFF")
	if err != nil || cp.State != checkout.CouponRedeemed || cp.CheckoutID != c.ID {
		t.Fatalf("coupon %+v %v", cp, err)
	}
	jobs, err := env.Q.List(queue.Filter{Kind: queue.KindCouponReport})
	if err != nil || len(jobs) != 1 || jobs[0].Key != "C-5OFF:"+c.OutTradeNo {
		t.Fatalf("coupon_report jobs %+v %v", jobs, err)
	}
	var p map[string]any
	if err := json.Unmarshal(jobs[0].Payload, &p); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"coupon_id", "user_id", "order_id", "out_trade_no", "trade_no", "discount", "redeemed_at"} {
		if _, ok := p[k]; !ok {
			t.Errorf("coupon_report payload lacks %s: %s", k, jobs[0].Payload)
		}
	}
	if p["discount"] != "5.00" || p["trade_no"] != c.TradeNo {
		t.Errorf("payload %s", jobs[0].Payload)
	}
	// The consult ran beside the payment; its answer is on the checkout.
	c = env.waitFor(c.ID, "consult_result", func(c checkout.Checkout) bool { return c.ConsultResult != nil })

	// A second payment by the same buyer (another code, same last 12
	// digits): C-5OFF is spent, so 10 % of 25.00 (cap 3.00) = 2.50.
	c3 := env.mustCreate(2500)
	env.mustScan("29" + code[2:])
	c3 = env.wait(c3.ID)
	if c3.State != checkout.Paid || c3.CouponID != "C-10PCT" || c3.Discount != 250 || c3.PaidAmount != 2250 {
		t.Fatalf("%+v", c3)
	}
	if tr, _ := trade(sb, c3.OutTradeNo); tr.TotalAmount != 2250 {
		t.Fatalf("ledger %+v", tr)
	}

	// A failed pay releases its coupon.
	c2 := env.mustCreate(2500)
	fail := SandboxCode(scBalanceNotEnough, 0)
	if _, err := env.E.ImportCoupons([]checkout.Coupon{{ID: "C-FAIL", UserID: sandbox.UserIDOf(fail), Kind: checkout.AmountOff, Value: 100}}); err != nil {
		t.Fatal(err)
	}
	env.mustScan(fail)
	c2 = env.wait(c2.ID)
	if c2.State != checkout.Failed || c2.CouponID != "C-FAIL" {
		t.Fatalf("%+v", c2)
	}
	if cp, _ := env.E.GetCoupon("C-FAIL"); cp.State != checkout.CouponAvailable || cp.CheckoutID != "" {
		t.Fatalf("failed pay did not release the coupon: %+v", cp)
	}
	// Re-import: the redeemed ones are skipped, the available one updated.
	res, err := env.E.ImportCoupons([]checkout.Coupon{
		{ID: "C-5OFF", UserID: user, Kind: checkout.AmountOff, Value: 900},
		{ID: "C-10PCT", UserID: user, Kind: checkout.PercentOff, Value: 2000},
		{ID: "C-FAIL", UserID: sandbox.UserIDOf(fail), Kind: checkout.AmountOff, Value: 200},
	})
	if err != nil || res.Updated != 1 || len(res.Skipped) != 2 {
		t.Fatalf("reimport %+v %v", res, err)
	}
	list, _ := env.E.ListCoupons(user)
	if len(list) != 2 || list[0].ID != "C-10PCT" || list[0].Value != 1000 || list[1].Value != 500 {
		t.Fatalf("list %+v", list)
	}
	if cp, _ := env.E.GetCoupon("C-FAIL"); cp.Value != 200 || cp.State != checkout.CouponAvailable {
		t.Fatalf("C-FAIL %+v", cp)
	}
}

// TestMoneyNotLostWhileCancelling: a trade that was paid although every
// answer was lost is refunded by the cancel at the deadline, never kept
// without a paid checkout.
func TestMoneyNotLostWhileCancelling(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{})
	sb.SetFaults(sandbox.Faults{DropAfterCommit: 1, Methods: []string{gateway.MethodTradePay, gateway.MethodTradeQuery}})
	c := env.mustCreate(1234)
	env.mustScan(NormalCode())
	c = env.wait(c.ID)
	sb.SetFaults(sandbox.Faults{})
	tr, _ := trade(sb, c.OutTradeNo)
	if c.State != checkout.Cancelled || !c.Refunded || !tr.Refunded || tr.TotalAmount != 1234 {
		t.Fatalf("checkout %+v, ledger %+v", c, tr)
	}
	checkLedger(t, allCheckouts(t, env.E), sb.Trades(), true)
}

// TestRegisterCancel: the register abandons a checkout awaiting a scan, and
// cancels one whose buyer is confirming (the trade is closed).
func TestRegisterCancel(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	env := MustOpenEngine(t, sb, "", checkout.Options{DecisionDeadline: 5 * time.Second})
	ctx := context.Background()
	c := env.mustCreate(1000)
	got, err := env.E.Cancel(ctx, c.ID)
	if err != nil || got.State != checkout.Cancelled || got.Error != nil {
		t.Fatalf("cancel awaiting: %+v %v", got, err)
	}
	c = env.mustCreate(1000)
	env.mustScan(SandboxCode(scWaitForever, 0))
	env.waitFor(c.ID, "waiting_buyer", func(c checkout.Checkout) bool { return c.State == checkout.WaitingBuyer })
	got, err = env.E.Cancel(ctx, c.ID)
	if err != nil || (got.State != checkout.Cancelling && got.State != checkout.Cancelled) {
		t.Fatalf("cancel waiting: %+v %v", got, err)
	}
	c = env.wait(c.ID)
	tr, _ := trade(sb, c.OutTradeNo)
	if c.State != checkout.Cancelled || c.Refunded || c.Error != nil || tr.Status != gateway.TradeClosed {
		t.Fatalf("%+v, ledger %+v", c, tr)
	}
	if _, err := env.E.Cancel(ctx, c.ID); err != nil {
		t.Fatalf("second cancel: %v", err)
	}
	// A paid checkout cannot be cancelled.
	p := env.mustCreate(1000)
	env.mustScan(NormalCode())
	p = env.wait(p.ID)
	if _, err := env.E.Cancel(ctx, p.ID); !errorIs(err, checkout.ErrConflict) {
		t.Fatalf("cancel paid: %v", err)
	}
	checkLedger(t, allCheckouts(t, env.E), sb.Trades(), true)
}

// TestRescanRightAfterRefusal: a rescan that lands the instant a refused
// decode is back in awaiting_scan, before the refused scan's flow has
// returned, must still be decoded and paid (it was left in decoding with no
// flow, holding the scan slot until a restart).
func TestRescanRightAfterRefusal(t *testing.T) {
	sb := MustOpenSandbox(t, sandbox.Config{})
	rescan := make(chan string, 1)
	rescanned := make(chan error, 1)
	var env *Env
	env = MustOpenEngine(t, sb, "", checkout.Options{StepHook: func(step string) {
		if step != checkout.StepAwaitingScan {
			return
		}
		// Still on the refused scan's flow: the next scan comes now.
		select {
		case code := <-rescan:
			_, err := env.E.Scan(context.Background(), code)
			rescanned <- err
		default:
		}
	}})
	c := env.mustCreate(2500)
	rescan <- NormalCode()
	env.mustScan(SandboxCode(scCodeExpired, 0))
	select {
	case err := <-rescanned:
		if err != nil {
			t.Fatalf("rescan: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the refused decode never went back to awaiting_scan")
	}
	if got := env.wait(c.ID); got.State != checkout.Paid {
		t.Fatalf("after the rescan: %s %+v", got.State, got.Error)
	}
}
