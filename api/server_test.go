package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway"
)

func TestAuth(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	tests := []struct {
		name, method, path, auth string
		status                   int
		code                     string
	}{
		{"no header", "GET", "/v1/status", "", 401, "UNAUTHORIZED"},
		{"wrong token", "GET", "/v1/status", "Bearer nope-nope-nope-nope", 401, "UNAUTHORIZED"},
		{"token prefix", "GET", "/v1/status", "Bearer " + en.Token[:10], 401, "UNAUTHORIZED"},
		{"basic scheme", "GET", "/v1/checkouts", "Basic " + en.Token, 401, "UNAUTHORIZED"},
		{"bare token", "GET", "/v1/checkouts", en.Token, 401, "UNAUTHORIZED"},
		{"unknown route needs the token too", "GET", "/v1/nothing", "", 401, "UNAUTHORIZED"},
		{"post without token", "POST", "/v1/checkouts", "", 401, "UNAUTHORIZED"},
		{"healthz is open", "GET", "/healthz", "", 200, ""},
		{"healthz ignores a wrong token", "GET", "/healthz", "Bearer wrong", 200, ""},
		{"good token", "GET", "/v1/status", "Bearer " + en.Token, 200, ""},
		{"scheme is case-insensitive", "GET", "/v1/status", "bearer " + en.Token, 200, ""},
		{"unknown route", "GET", "/v1/nothing", "Bearer " + en.Token, 404, "NOT_FOUND"},
		{"wrong method", "PUT", "/v1/checkouts", "Bearer " + en.Token, 405, "METHOD_NOT_ALLOWED"},
		{"wrong method on healthz", "POST", "/healthz", "Bearer " + en.Token, 405, "METHOD_NOT_ALLOWED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := en.do(tt.method, tt.path, "", "Authorization", tt.auth)
			if status != tt.status || errCode(body) != tt.code {
				t.Fatalf("%s %s = %d %v, want %d %s", tt.method, tt.path, status, body, tt.status, tt.code)
			}
			if status == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer: %q", hdr.Get("WWW-Authenticate"))
			}
			if status == 405 && hdr.Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
			if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
	if _, _, body := en.do("GET", "/healthz", "", "Authorization", ""); body["ok"] != true {
		t.Errorf("healthz body %v", body)
	}
	if strings.Contains(en.Logs.String(), en.Token) {
		t.Error("the token appears in the log")
	}
}

func TestCreateCheckoutValidation(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	big := `{"order_id":"A1","amount":"1.00","subject":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`
	tests := []struct {
		name, body string
		hdr        []string
		status     int
		code       string
		msg        string // substring of the message
	}{
		{"malformed", `{"order_id":`, nil, 400, "MALFORMED_JSON", ""},
		{"not JSON", `order_id=A1`, nil, 400, "MALFORMED_JSON", ""},
		{"empty", ``, nil, 400, "MALFORMED_JSON", "empty"},
		{"two values", `{"order_id":"A","amount":"1.00","subject":"s"} {}`, nil, 400, "MALFORMED_JSON", "exactly one"},
		{"array", `[]`, nil, 400, "BAD_FIELD", ""},
		{"three decimals", `{"order_id":"A","amount":"1.234","subject":"s"}`, nil, 400, "BAD_AMOUNT", "two decimals"},
		{"negative", `{"order_id":"A","amount":"-1","subject":"s"}`, nil, 400, "BAD_AMOUNT", "amount"},
		{"zero", `{"order_id":"A","amount":"0","subject":"s"}`, nil, 400, "BAD_AMOUNT", "above 0.00"},
		{"zero with decimals", `{"order_id":"A","amount":"0.00","subject":"s"}`, nil, 400, "BAD_AMOUNT", "above 0.00"},
		{"letters", `{"order_id":"A","amount":"abc","subject":"s"}`, nil, 400, "BAD_AMOUNT", "amount"},
		{"JSON number", `{"order_id":"A","amount":25.00,"subject":"s"}`, nil, 400, "BAD_AMOUNT", "must be a string"},
		{"exponent", `{"order_id":"A","amount":"1e3","subject":"s"}`, nil, 400, "BAD_AMOUNT", ""},
		{"above maximum", `{"order_id":"A","amount":"100000000.01","subject":"s"}`, nil, 400, "BAD_AMOUNT", "maximum"},
		{"missing amount", `{"order_id":"A","subject":"s"}`, nil, 400, "BAD_AMOUNT", "required"},
		{"null amount", `{"order_id":"A","amount":null,"subject":"s"}`, nil, 400, "BAD_AMOUNT", "required"},
		{"unknown field", `{"order_id":"A","amount":"1.00","subject":"s","tip":"1.00"}`, nil, 400, "UNKNOWN_FIELD", `"tip"`},
		{"wrong type", `{"order_id":7,"amount":"1.00","subject":"s"}`, nil, 400, "BAD_FIELD", "order_id"},
		{"missing order_id", `{"amount":"1.00","subject":"s"}`, nil, 400, "BAD_REQUEST", "order_id"},
		{"missing subject", `{"order_id":"A","amount":"1.00"}`, nil, 400, "BAD_REQUEST", "subject"},
		{"not a payment code", `{"order_id":"A","amount":"1.00","subject":"s","auth_code":"hello"}`, nil, 400, "NOT_ALIPAY_CODE", ""},
		{"form content type", `{"order_id":"A","amount":"1.00","subject":"s"}`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "BAD_CONTENT_TYPE", ""},
		{"oversized", big, nil, 413, "BODY_TOO_LARGE", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := en.do("POST", "/v1/checkouts", tt.body, tt.hdr...)
			if status != tt.status || errCode(body) != tt.code || !strings.Contains(errMessage(body), tt.msg) {
				t.Fatalf("= %d %v, want %d %s ...%s...", status, body, tt.status, tt.code, tt.msg)
			}
		})
	}
	// Nothing was created by any of them.
	if cs, err := en.Client.ListCheckouts(context.Background(), checkout.ListFilter{}); err != nil || len(cs) != 0 {
		t.Fatalf("checkouts after bad requests: %v %v", cs, err)
	}
	// A JSON content type with parameters is fine; so is none.
	status, _, body := en.do("POST", "/v1/checkouts", `{"order_id":"OK1","amount":"25","subject":"s"}`, "Content-Type", "application/json; charset=utf-8")
	if status != 201 || body["amount"] != "25.00" || body["state"] != "awaiting_scan" {
		t.Fatalf("create = %d %v", status, body)
	}
}

func TestCreateCheckoutIdempotent(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	ctx := context.Background()
	req := `{"order_id":"A100","amount":"25.00","subject":"Coffee","operator_id":"op7"}`
	status, hdr, first := en.do("POST", "/v1/checkouts", req)
	if status != 201 || first["state"] != "awaiting_scan" || first["order_id"] != "A100" || first["operator_id"] != "op7" {
		t.Fatalf("first create = %d %v", status, first)
	}
	if hdr.Get("Location") != "/v1/checkouts/"+first["id"].(string) {
		t.Errorf("Location %q", hdr.Get("Location"))
	}
	for _, k := range []string{"id", "order_id", "state", "amount", "discount", "paid_amount", "user_id", "coupon_id", "sence_no", "out_trade_no", "trade_no", "refunded", "consult_result", "created_at", "updated_at"} {
		if _, ok := first[k]; !ok {
			t.Errorf("checkout JSON lacks %q", k)
		}
	}
	if first["consult_result"] != nil {
		t.Errorf("consult_result = %v, want null", first["consult_result"])
	}
	if _, ok := first["error"]; ok {
		t.Errorf("error present without an error: %v", first["error"])
	}

	// Same order and amount (written differently): the same checkout, 200.
	status, _, again := en.do("POST", "/v1/checkouts", `{"order_id":"A100","amount":"25","subject":"Coffee"}`)
	if status != 200 || again["id"] != first["id"] {
		t.Fatalf("repeat = %d %v, want 200 with %v", status, again, first["id"])
	}
	// Same order, other amount: 409.
	status, _, body := en.do("POST", "/v1/checkouts", `{"order_id":"A100","amount":"26.00","subject":"Coffee"}`)
	if status != 409 || errCode(body) != "ORDER_AMOUNT_MISMATCH" {
		t.Fatalf("other amount = %d %v", status, body)
	}
	// Another order while A100 awaits a scan: 409.
	status, _, body = en.do("POST", "/v1/checkouts", `{"order_id":"A101","amount":"5.00","subject":"Tea"}`)
	if status != 409 || errCode(body) != "SCANNER_BUSY" || !strings.Contains(errMessage(body), "awaiting a scan") {
		t.Fatalf("second checkout = %d %v", status, body)
	}
	// Through the client: *api.Error with status and code.
	_, _, err := en.Client.CreateCheckout(ctx, api.CreateCheckoutRequest{OrderID: "A101", Amount: 500, Subject: "Tea"})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "SCANNER_BUSY" {
		t.Fatalf("client error = %#v", err)
	}
	// Once A100 is cancelled, A101 may start.
	c, err := en.Client.CancelCheckout(ctx, first["id"].(string))
	if err != nil || c.State != checkout.Cancelled {
		t.Fatalf("cancel = %v %v", c.State, err)
	}
	if _, created, err := en.Client.CreateCheckout(ctx, api.CreateCheckoutRequest{OrderID: "A101", Amount: 500, Subject: "Tea"}); err != nil || !created {
		t.Fatalf("create after cancel: %v %v", created, err)
	}
}

func TestGetCheckoutWait(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	ctx := context.Background()

	for _, path := range []string{"/v1/checkouts/co_000000000099_ZZZZ", "/v1/checkouts/nope?wait=1s"} {
		if status, _, body := en.do("GET", path, ""); status != 404 || errCode(body) != "NOT_FOUND" {
			t.Errorf("GET %s = %d %v", path, status, body)
		}
	}
	c := en.mustCreate("12.34")
	for _, w := range []string{"abc", "30", "61s", "-1s", "2m"} {
		if status, _, body := en.do("GET", "/v1/checkouts/"+c.ID+"?wait="+w, ""); status != 400 || errCode(body) != "BAD_WAIT" {
			t.Errorf("wait=%s = %d %v", w, status, body)
		}
	}

	// Time up: 200 with the current state.
	start := time.Now()
	got, err := en.Client.GetCheckout(ctx, c.ID, 200*time.Millisecond)
	if err != nil || got.State != checkout.AwaitingScan {
		t.Fatalf("wait timeout = %v %v", got.State, err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("wait=200ms answered after %s", d)
	}

	// A scan arrives while the reply is held: the reply is the paid checkout.
	type result struct {
		c   checkout.Checkout
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := en.Client.GetCheckout(ctx, c.ID, 20*time.Second)
		done <- result{c, err}
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case r := <-done:
		t.Fatalf("wait answered before the scan: %v %v", r.c.State, r.err)
	default:
	}
	if _, err := en.E.Scan(ctx, normalCode()); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("wait did not end with the payment")
	}
	if r.err != nil || r.c.State != checkout.Paid || r.c.PaidAmount != 1234 || r.c.TradeNo == "" || r.c.UserID == "" {
		t.Fatalf("after scan = %+v %v", r.c, r.err)
	}
	// Terminal already: wait answers at once.
	start = time.Now()
	if got, err := en.Client.GetCheckout(ctx, c.ID, 30*time.Second); err != nil || got.State != checkout.Paid || time.Since(start) > 2*time.Second {
		t.Fatalf("wait on paid = %v %v after %s", got.State, err, time.Since(start))
	}
	// Cancel a paid checkout: 409.
	if status, _, body := en.do("POST", "/v1/checkouts/"+c.ID+"/cancel", ""); status != 409 {
		t.Errorf("cancel paid = %d %v", status, body)
	}
	if status, _, body := en.do("POST", "/v1/checkouts/nope/cancel", ""); status != 404 {
		t.Errorf("cancel unknown = %d %v", status, body)
	}
}

func TestListCheckouts(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	ctx := context.Background()
	var ids []string
	for range 3 {
		c := en.mustCreate("1.00")
		ids = append(ids, c.ID)
		en.settle(c)
	}
	open := en.mustCreate("2.00")

	all, err := en.Client.ListCheckouts(ctx, checkout.ListFilter{})
	if err != nil || len(all) != 4 || all[0].ID != open.ID || all[3].ID != ids[0] {
		t.Fatalf("list = %v %v", all, err)
	}
	cancelled, err := en.Client.ListCheckouts(ctx, checkout.ListFilter{State: checkout.Cancelled, Limit: 2})
	if err != nil || len(cancelled) != 2 || cancelled[0].ID != ids[2] || cancelled[1].ID != ids[1] {
		t.Fatalf("list cancelled = %v %v", cancelled, err)
	}
	page, err := en.Client.ListCheckouts(ctx, checkout.ListFilter{Before: ids[1]})
	if err != nil || len(page) != 1 || page[0].ID != ids[0] {
		t.Fatalf("list before = %v %v", page, err)
	}
	status, _, body := en.do("GET", "/v1/checkouts?state=paid", "")
	if items, ok := body["items"].([]any); status != 200 || !ok || len(items) != 0 {
		t.Fatalf("empty list = %d %v (want items: [])", status, body)
	}
	for _, q := range []string{"state=done", "limit=0", "limit=-1", "limit=x", "limit=501"} {
		status, _, body := en.do("GET", "/v1/checkouts?"+q, "")
		if status != 400 {
			t.Errorf("?%s = %d %v", q, status, body)
		}
	}
}

func TestJobs(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	ctx := context.Background()
	// A done award job, and a protected trade job.
	rep, err := en.Client.Award(ctx, api.AwardRequest{Mobile: newMobile(), OutBizNo: "JOBS-1"})
	if err != nil || rep.State != "done" {
		t.Fatalf("award = %+v %v", rep, err)
	}
	trade, _, err := en.Q.Enqueue("trade_cancel", "T01_NOPE", map[string]string{"checkout_id": "co_x", "out_trade_no": "T01_NOPE"})
	if err != nil {
		t.Fatal(err)
	}

	jobs, err := en.Client.ListJobs(ctx, queueFilter("", "award_receive", 0))
	if err != nil || len(jobs) != 1 || jobs[0].Key != "JOBS-1" || jobs[0].State != "done" {
		t.Fatalf("list award jobs = %+v %v", jobs, err)
	}
	all, err := en.Client.ListJobs(ctx, queueFilter("", "", 0))
	if err != nil || len(all) != 2 || all[0].ID != trade.ID {
		t.Fatalf("list all = %+v %v", all, err)
	}
	if one, err := en.Client.ListJobs(ctx, queueFilter("", "", 1)); err != nil || len(one) != 1 {
		t.Fatalf("limit 1 = %d %v", len(one), err)
	}
	j, err := en.Client.GetJob(ctx, rep.Job.ID)
	if err != nil || j.Key != "JOBS-1" || len(j.Result) == 0 {
		t.Fatalf("get = %+v %v", j, err)
	}
	// Retry of a done job: 409.
	_, err = en.Client.RetryJob(ctx, rep.Job.ID)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "JOB_STATE" {
		t.Fatalf("retry done = %v", err)
	}
	// The trade job fails (no such checkout); retrying it makes it pending.
	waitJob(t, en, trade.ID, func(state string) bool { return state == "failed" || state == "dead" })
	rj, err := en.Client.RetryJob(ctx, trade.ID)
	if err != nil || rj.ID != trade.ID {
		t.Fatalf("retry failed job = %+v %v", rj, err)
	}
	// Dropping a trade job: refused.
	if _, err := en.Client.DropJob(ctx, trade.ID); !errors.As(err, &ae) || ae.Status != 409 || ae.Code != "JOB_PROTECTED" {
		t.Fatalf("drop trade job = %v", err)
	}
	// Dropping the award job works, once.
	if d, err := en.Client.DropJob(ctx, rep.Job.ID); err != nil || d.Key != "JOBS-1" {
		t.Fatalf("drop = %+v %v", d, err)
	}
	if _, err := en.Client.GetJob(ctx, rep.Job.ID); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("get dropped = %v", err)
	}
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1/jobs/abc", 400},
		{"GET", "/v1/jobs/0", 400},
		{"GET", "/v1/jobs/99999", 404},
		{"POST", "/v1/jobs/99999/retry", 404},
		{"DELETE", "/v1/jobs/99999", 404},
		{"GET", "/v1/jobs?state=running", 400},
		{"GET", "/v1/jobs?limit=1001", 400},
		{"GET", "/v1/jobs?before=x", 400},
	} {
		if status, _, body := en.do(tt.method, tt.path, ""); status != tt.status {
			t.Errorf("%s %s = %d %v, want %d", tt.method, tt.path, status, body, tt.status)
		}
	}
}

func waitJob(t *testing.T, en *env, id uint64, ok func(state string) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := en.Q.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(j.State) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d still %s (%s)", id, j.State, j.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCoupons(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	ctx := context.Background()
	code := normalCode()
	user := sandboxUserOf(code)
	body := `[
	 {"id":"C1","user_id":"` + user + `","title":"5 off","kind":"amount_off","value":"5.00","min_spend":"20.00","valid_until":"2099-01-01T00:00:00+08:00"},
	 {"id":"C2","user_id":"` + user + `","title":"10%","kind":"percent_off","value":"10","max_off":"1.50"},
	 {"id":"C3","user_id":"2088000000000002","title":"other","kind":"amount_off","value":"1"}
	]`
	status, _, res := en.do("POST", "/v1/coupons", body)
	if status != 200 || res["created"] != 2.0+1 || res["updated"] != 0.0 {
		t.Fatalf("import = %d %v", status, res)
	}
	cs, err := en.Client.ListCoupons(ctx, user)
	if err != nil || len(cs) != 2 || cs[0].ID != "C1" || cs[0].State != checkout.CouponAvailable || cs[1].MaxOff == nil || *cs[1].MaxOff != 150 {
		t.Fatalf("list = %+v %v", cs, err)
	}
	if all, err := en.Client.ListCoupons(ctx, ""); err != nil || len(all) != 3 {
		t.Fatalf("list all = %d %v", len(all), err)
	}
	status, _, empty := en.do("GET", "/v1/coupons?user_id=2088999999999999", "")
	if items, ok := empty["items"].([]any); status != 200 || !ok || len(items) != 0 {
		t.Fatalf("empty list = %d %v", status, empty)
	}
	// Re-import through the client: an update.
	cs[0].Title = "5 off!"
	cs[0].State = ""
	r, err := en.Client.ImportCoupons(ctx, cs[:1])
	if err != nil || r.Updated != 1 || r.Created != 0 {
		t.Fatalf("re-import = %+v %v", r, err)
	}

	for _, tt := range []struct {
		name, body, code, msg string
	}{
		{"object", `{"id":"X"}`, "BAD_FIELD", ""},
		{"null", `null`, "BAD_REQUEST", "array"},
		{"state set", `[{"id":"X","user_id":"u","kind":"amount_off","value":"1","state":"redeemed"}]`, "BAD_REQUEST", "coupons[0].state"},
		{"bad value", `[{"id":"X","user_id":"u","kind":"amount_off","value":"1.001"}]`, "BAD_AMOUNT", "coupons[0].value"},
		{"number value", `[{"id":"X","user_id":"u","kind":"amount_off","value":1}]`, "BAD_AMOUNT", "coupons[0].value"},
		{"zero value", `[{"id":"X","user_id":"u","kind":"amount_off","value":"0"}]`, "BAD_AMOUNT", "coupons[0].value"},
		{"negative min_spend", `[{"id":"X","user_id":"u","kind":"amount_off","value":"1","min_spend":"-1"}]`, "BAD_AMOUNT", "min_spend"},
		{"bad time", `[{"id":"X","user_id":"u","kind":"amount_off","value":"1","valid_until":"tomorrow"}]`, "BAD_REQUEST", "valid_until"},
		{"bad kind", `[{"id":"X","user_id":"u","kind":"free","value":"1"}]`, "BAD_REQUEST", "kind"},
		{"unknown field", `[{"id":"X","user_id":"u","kind":"amount_off","value":"1","color":"red"}]`, "UNKNOWN_FIELD", `"color"`},
		{"duplicate", `[{"id":"X","user_id":"u","kind":"amount_off","value":"1"},{"id":"X","user_id":"u","kind":"amount_off","value":"2"}]`, "BAD_REQUEST", "twice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := en.do("POST", "/v1/coupons", tt.body)
			if status != 400 || errCode(body) != tt.code || !strings.Contains(errMessage(body), tt.msg) {
				t.Fatalf("= %d %v, want 400 %s ...%s...", status, body, tt.code, tt.msg)
			}
		})
	}
	if _, err := en.Q.Get(1); err == nil {
		t.Log("jobs exist") // none expected; harmless
	}

	// The imported coupon is used by a payment of its user.
	c := en.mustCreate("30.00")
	if _, err := en.E.Scan(ctx, code); err != nil {
		t.Fatal(err)
	}
	got, err := en.Client.GetCheckout(ctx, c.ID, 20*time.Second)
	if err != nil || got.State != checkout.Paid || got.CouponID != "C1" || got.Discount != 500 || got.PaidAmount != 2500 {
		t.Fatalf("paid with coupon = %+v %v", got, err)
	}
	cs, _ = en.Client.ListCoupons(ctx, user)
	if cs[0].State != checkout.CouponRedeemed {
		t.Fatalf("C1 state = %s", cs[0].State)
	}
}

// sandboxUserOf is the sandbox's buyer for a code: "2088" + its last 12 digits.
func sandboxUserOf(code string) string { return "2088" + code[len(code)-12:] }

func TestConsult(t *testing.T) {
	en := mustOpenEnv(t, envOptions{ConsultScene: "DEFAULT_SCENE"})
	ctx := context.Background()
	r, err := en.Client.Consult(ctx, api.ConsultRequest{UserID: "2088000000000002"})
	if err != nil || !r.ConsultResult || r.Scene != "DEFAULT_SCENE" || r.InviteResult == nil || *r.InviteResult != "false" {
		t.Fatalf("consult even user = %+v %v", r, err)
	}
	r, err = en.Client.Consult(ctx, api.ConsultRequest{Mobile: "13800000001", Scene: "S2", InviteScene: "INV"})
	if err != nil || r.ConsultResult || r.InviteResult == nil || *r.InviteResult != "false" {
		t.Fatalf("consult odd mobile = %+v %v", r, err)
	}
	status, _, body := en.do("POST", "/v1/consult", `{"email":"a@example.com","scene":"S"}`)
	if _, ok := body["consult_result"].(bool); status != 200 || !ok {
		t.Fatalf("consult email = %d %v", status, body)
	}
	for _, tt := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"two principals", `{"user_id":"2088000000000002","mobile":"13800000001"}`, 400, "BAD_REQUEST"},
		{"no principal", `{"scene":"S"}`, 400, "BAD_REQUEST"},
		{"too long", `{"mobile":"1380000000100000000000000","scene":"S"}`, 400, "BAD_REQUEST"},
		{"unknown field", `{"user":"x"}`, 400, "UNKNOWN_FIELD"},
		{"business failure", `{"user_id":"2088000000000002","scene":"SANDBOX_SYSTEM_ERROR"}`, 422, "SYSTEM_ERROR"},
	} {
		if status, _, body := en.do("POST", "/v1/consult", tt.body); status != tt.status || errCode(body) != tt.code {
			t.Errorf("%s = %d %v, want %d %s", tt.name, status, body, tt.status, tt.code)
		}
	}
	en.GW.stop()
	if status, _, body := en.do("POST", "/v1/consult", `{"user_id":"2088000000000002"}`); status != 503 || errCode(body) != "GATEWAY_UNAVAILABLE" {
		t.Errorf("gateway down = %d %v", status, body)
	}

	// No scene configured and none given: 400.
	en2 := mustOpenEnv(t, envOptions{})
	if status, _, body := en2.do("POST", "/v1/consult", `{"user_id":"2088000000000002"}`); status != 400 || errCode(body) != "SCENE_REQUIRED" {
		t.Errorf("no scene = %d %v", status, body)
	}
}

func TestAgreements(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	ctx := context.Background()
	as, err := en.Client.Agreements(ctx, "2088000000000002", api.AgreementsQuery{PersonalProductCode: "GENERAL_WITHHOLDING_P", SignScene: "INDUSTRY|CARRENTAL"})
	if err != nil || len(as) != 1 || as[0].Status != "NORMAL" || as[0].SignScene != "INDUSTRY|CARRENTAL" || as[0].AgreementNo == "" {
		t.Fatalf("agreements = %+v %v", as, err)
	}
	status, _, body := en.do("GET", "/v1/users/2088999999990004/agreements?personal_product_code=GENERAL_WITHHOLDING_P", "")
	if items, ok := body["items"].([]any); status != 200 || !ok || len(items) != 0 {
		t.Fatalf("empty = %d %v", status, body)
	}
	for _, tt := range []struct {
		name, path string
		status     int
		code       string
	}{
		{"no product", "/v1/users/2088000000000002/agreements", 400, "BAD_REQUEST"},
		{"bad third party", "/v1/users/2088000000000002/agreements?personal_product_code=GENERAL_WITHHOLDING_P&third_party_type=X", 400, "BAD_REQUEST"},
		{"no user", "/v1/users/2088999999990001/agreements?personal_product_code=GENERAL_WITHHOLDING_P", 422, "USER_NOT_EXIST_ERROR"},
		{"product", "/v1/users/2088000000000002/agreements?personal_product_code=NOPE", 422, "PRODUCT_CODE_NOT_SUPPORTED_ERROR"},
	} {
		if status, _, body := en.do("GET", tt.path, ""); status != tt.status || errCode(body) != tt.code {
			t.Errorf("%s = %d %v, want %d %s", tt.name, status, body, tt.status, tt.code)
		}
	}
	en.GW.stop()
	_, err = en.Client.Agreements(ctx, "2088000000000002", api.AgreementsQuery{PersonalProductCode: "GENERAL_WITHHOLDING_P"})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 503 || ae.Code != "GATEWAY_UNAVAILABLE" {
		t.Fatalf("gateway down = %v", err)
	}
}

func TestAward(t *testing.T) {
	en := mustOpenEnv(t, envOptions{AwardWait: 300 * time.Millisecond})
	ctx := context.Background()
	mobile := newMobile()
	first, err := en.Client.Award(ctx, api.AwardRequest{Mobile: mobile, OutBizNo: "AW-1", OutBizCode: "INVITE"})
	if err != nil || first.Queued || first.State != "done" || first.Result == nil || first.Result.BizResultCode != gateway.AwardNewSuccess {
		t.Fatalf("first award = %+v %v", first, err)
	}
	// The same out_biz_no: the same job and result, nothing awarded again.
	again, err := en.Client.Award(ctx, api.AwardRequest{Mobile: mobile, OutBizNo: "AW-1", OutBizCode: "INVITE"})
	if err != nil || again.Job.ID != first.Job.ID || again.Result == nil || again.Result.BizResultCode != gateway.AwardNewSuccess {
		t.Fatalf("repeat award = %+v %v", again, err)
	}
	// A new out_biz_no for the same user: the sandbox says already awarded,
	// which proves the repeat did not reach it as a new award.
	other, err := en.Client.Award(ctx, api.AwardRequest{Mobile: mobile, OutBizNo: "AW-2"})
	if err != nil || other.Result == nil || other.Result.BizResultCode != gateway.AwardNewAlready {
		t.Fatalf("second award = %+v %v", other, err)
	}
	// The same out_biz_no for another user: 409.
	status, _, body := en.do("POST", "/v1/awards", `{"mobile":"13900000001","out_biz_no":"AW-1"}`)
	if status != 409 || errCode(body) != "CONFLICT" {
		t.Fatalf("reused out_biz_no = %d %v", status, body)
	}
	// A permanent failure (the sandbox's INVALID_PARAMETER): 422.
	status, _, body = en.do("POST", "/v1/awards", `{"mobile":"123","out_biz_no":"AW-3"}`)
	if status != 422 || errCode(body) != "AWARD_FAILED" || !strings.Contains(errMessage(body), "INVALID_PARAMETER") {
		t.Fatalf("bad mobile = %d %v", status, body)
	}
	// SYSTEM_ERROR is retried: still queued when the wait is over.
	status, _, body = en.do("POST", "/v1/awards", `{"mobile":"19900000004","out_biz_no":"AW-4"}`)
	if status != 202 || body["queued"] != true || body["state"] != "pending" {
		t.Fatalf("system error = %d %v", status, body)
	}
	for _, tt := range []struct {
		name, body string
	}{
		{"no user", `{"out_biz_no":"X"}`},
		{"both users", `{"mobile":"13800000001","user_id":"2088000000000001","out_biz_no":"X"}`},
		{"no out_biz_no", `{"mobile":"13800000001"}`},
		{"long out_biz_code", `{"mobile":"13800000001","out_biz_no":"X","out_biz_code":"12345678901234567"}`},
		{"unknown field", `{"mobile":"13800000001","out_biz_no":"X","amount":"1.00"}`},
	} {
		if status, _, body := en.do("POST", "/v1/awards", tt.body); status != 400 {
			t.Errorf("%s = %d %v", tt.name, status, body)
		}
	}
}

func TestAwardQueuedWhileOffline(t *testing.T) {
	en := mustOpenEnv(t, envOptions{AwardWait: 300 * time.Millisecond})
	ctx := context.Background()
	en.GW.stop()
	mobile := newMobile()
	req := api.AwardRequest{Mobile: mobile, OutBizNo: "OFF-1"}
	r, err := en.Client.Award(ctx, req)
	if err != nil || !r.Queued || r.State != "pending" || r.Result != nil || r.Job.Key != "OFF-1" {
		t.Fatalf("offline award = %+v %v", r, err)
	}
	// Asking again while offline: the same job, still queued.
	r2, err := en.Client.Award(ctx, req)
	if err != nil || !r2.Queued || r2.Job.ID != r.Job.ID {
		t.Fatalf("offline repeat = %+v %v", r2, err)
	}
	en.GW.start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err = en.Client.Award(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Queued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("award still queued after the gateway returned: %+v", r.Job)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r.State != "done" || r.Result == nil || r.Result.BizResultCode != gateway.AwardNewSuccess || r.Job.ID != r2.Job.ID {
		t.Fatalf("after the outage = %+v", r)
	}
}

func TestStatus(t *testing.T) {
	seen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	en := mustOpenEnv(t, envOptions{Status: func(context.Context) api.Status {
		return api.Status{
			Version:   "1.2.3",
			Gateway:   api.GatewayStatus{Mode: api.ModeSandbox, URL: "http://127.0.0.1:1/gateway.do", Reachable: true, LastSeen: api.TimeOrNil(seen)},
			Scanner:   api.ScannerStatus{Device: "stdin", State: api.ScannerStdin},
			LastError: &api.LastError{Message: "boom", At: seen},
		}
	}})
	en.mustCreate("1.00")
	status, _, body := en.do("GET", "/v1/status", "")
	if status != 200 || body["version"] != "1.2.3" {
		t.Fatalf("status = %d %v", status, body)
	}
	gw, _ := body["gateway"].(map[string]any)
	sc, _ := body["scanner"].(map[string]any)
	q, _ := body["queue"].(map[string]any)
	co, _ := body["checkouts"].(map[string]any)
	le, _ := body["last_error"].(map[string]any)
	if gw["mode"] != "sandbox" || gw["reachable"] != true || gw["last_seen"] != "2026-01-02T03:04:05Z" || gw["url"] == nil {
		t.Errorf("gateway = %v", gw)
	}
	if sc["device"] != "stdin" || sc["state"] != "stdin" {
		t.Errorf("scanner = %v", sc)
	}
	if q["pending"] != 0.0 || q["dead"] != 0.0 {
		t.Errorf("queue = %v", q)
	}
	if co["awaiting_scan"] != 1.0 || co["paid"] != 0.0 || len(co) != len(checkout.States) {
		t.Errorf("checkouts = %v", co)
	}
	if le["message"] != "boom" {
		t.Errorf("last_error = %v", le)
	}

	// Without a Status func: version, queue and checkouts still answer.
	en2 := mustOpenEnv(t, envOptions{})
	st, err := en2.Client.Status(context.Background())
	if err != nil || st.Version != "test" || st.Queue == nil || st.Checkouts["paid"] != 0 || st.LastError != nil || st.Gateway.LastSeen != nil {
		t.Fatalf("plain status = %+v %v", st, err)
	}
}

// panicky is a checkout engine whose Get panics.
type panicky struct{ api.Checkouts }

func (panicky) Get(string) (checkout.Checkout, error) { panic("boom") }

func TestPanicRecovered(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	logs := &logBuf{}
	log := zerologTo(logs)
	srv, err := api.New(api.Config{Token: en.Token, Checkouts: panicky{en.E}, Jobs: en.Q, Users: nopUsers{}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	hs := newLoopbackServer(t, srv)
	c := api.NewClient(hs.URL, en.Token)
	_, err = c.GetCheckout(context.Background(), "x", 0)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 500 || ae.Code != "INTERNAL" {
		t.Fatalf("panic = %v", err)
	}
	if !strings.Contains(logs.String(), `"event":"api_panic"`) || !strings.Contains(logs.String(), "boom") {
		t.Errorf("panic not logged: %s", logs.String())
	}
	// The server still serves.
	if err := c.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestAccessLog(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	code := normalCode()
	status, _, _ := en.do("POST", "/v1/checkouts", `{"order_id":"LOG1","amount":"1.00","subject":"s","auth_code":"`+code+`"}`)
	if status != 201 {
		t.Fatalf("create with auth_code = %d", status)
	}
	en.do("GET", "/v1/checkouts?state=paid", "")
	logs := en.Logs.String()
	for _, want := range []string{`"event":"api_request"`, `"method":"POST"`, `"path":"/v1/checkouts"`, `"status":201`, `"route":"POST /v1/checkouts"`, `"duration"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("access log lacks %s", want)
		}
	}
	for _, secret := range []string{en.Token, code, "Authorization", "state=paid"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}

func TestNew(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	for _, cfg := range []api.Config{
		{Checkouts: en.E, Jobs: en.Q, Users: nopUsers{}},
		{Token: "short", Checkouts: en.E, Jobs: en.Q, Users: nopUsers{}},
		{Token: en.Token, Jobs: en.Q, Users: nopUsers{}},
		{Token: en.Token, Checkouts: en.E, Users: nopUsers{}},
		{Token: en.Token, Checkouts: en.E, Jobs: en.Q},
	} {
		if _, err := api.New(cfg); err == nil {
			t.Errorf("New(%+v) = nil error", cfg)
		}
	}
}

func TestClientNotRunning(t *testing.T) {
	hs := newLoopbackServer(t, http.NotFoundHandler())
	url := hs.URL
	hs.Close()
	c := api.NewClient(url, "x")
	err := c.Health(context.Background())
	var nr *api.NotRunningError
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "posagent is not running at "+strings.TrimPrefix(url, "http://")) ||
		!strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v", err)
	}
	// Another program on the port: its status and body, not a JSON error.
	other := newLoopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "teapot here", http.StatusTeapot)
	}))
	_, err = api.NewClient(other.URL, "x").Status(context.Background())
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != 418 || ae.Code != "HTTP_418" || !strings.Contains(ae.Message, "teapot") {
		t.Fatalf("foreign server = %#v", err)
	}
}

// A body of unknown length (chunked) is capped while it is read.
func TestOversizedChunkedBody(t *testing.T) {
	en := mustOpenEnv(t, envOptions{})
	body := io.MultiReader(strings.NewReader(`[{"id":"`), strings.NewReader(strings.Repeat("x", api.MaxBodyBytes)), strings.NewReader(`"}]`))
	req, _ := http.NewRequest("POST", en.HTTP.URL+"/v1/coupons", body)
	req.Header.Set("Authorization", "Bearer "+en.Token)
	req.Header.Set("Content-Type", "application/json")
	if req.ContentLength != 0 {
		t.Fatalf("content length %d: want unknown", req.ContentLength)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || !strings.Contains(string(data), "BODY_TOO_LARGE") {
		t.Fatalf("= %d %s", resp.StatusCode, data)
	}
	// The wrong method on a known path names the allowed ones.
	status, hdr, _ := en.do("DELETE", "/v1/checkouts/x", "")
	if status != 405 || hdr.Get("Allow") != "GET, HEAD" {
		t.Fatalf("DELETE checkout = %d Allow %q", status, hdr.Get("Allow"))
	}
}
