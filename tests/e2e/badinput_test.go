//go:build linux

package e2e_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"posagent/checkout"
	"posagent/tests/internal/testenv"
)

// errorBody checks r is a JSON error reply {"error":{"code","message"}}
// with status and code, and returns its message.
func errorBody(tb testing.TB, what string, r reply, status int, code string) string {
	tb.Helper()
	var body struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error == nil {
		tb.Errorf("%s: %d %q is not a JSON error reply", what, r.status, r.body)
		return ""
	}
	if r.status != status || (code != "" && body.Error.Code != code) || body.Error.Message == "" {
		tb.Errorf("%s: %d %s %q, want %d %s with a message", what, r.status, body.Error.Code, body.Error.Message, status, code)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("%s: Content-Type %q", what, ct)
	}
	return body.Error.Message
}

// TestAPIBadInput: what register software gets wrong, and what posagent
// answers: the right status, a JSON error with a code, and nothing created.
func TestAPIBadInput(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	env.Start(t)
	tok := env.Token(t)
	if len(tok) < 32 {
		t.Errorf("API token %d characters long", len(tok))
	}
	if fi, err := os.Stat(env.TokenFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v, mode %v, want 0600", err, fi.Mode().Perm())
	}

	t.Run("token", func(t *testing.T) {
		if r := do(t, env, http.MethodGet, "/healthz", "", ""); r.status != http.StatusOK {
			t.Errorf("/healthz without a token: %d, want 200", r.status)
		}
		errorBody(t, "no token", do(t, env, http.MethodGet, "/v1/checkouts", "", ""), http.StatusUnauthorized, "UNAUTHORIZED")
		errorBody(t, "wrong token", do(t, env, http.MethodGet, "/v1/checkouts", tok[:len(tok)-1]+"x", ""), http.StatusUnauthorized, "UNAUTHORIZED")
		errorBody(t, "no token on create", do(t, env, http.MethodPost, "/v1/checkouts", "",
			`{"order_id":"T1","amount":"1.00","subject":"s"}`), http.StatusUnauthorized, "UNAUTHORIZED")
		errorBody(t, "no token on status", do(t, env, http.MethodGet, "/v1/status", "", ""), http.StatusUnauthorized, "UNAUTHORIZED")
	})

	t.Run("create", func(t *testing.T) {
		for _, tc := range []struct {
			name, body string
			status     int
			code       string
		}{
			{"malformed JSON", `{"order_id":"X1","amount":"1.00",`, http.StatusBadRequest, "MALFORMED_JSON"},
			{"not an object", `["X1"]`, http.StatusBadRequest, ""},
			{"empty body", ``, http.StatusBadRequest, ""},
			{"two values", `{"order_id":"X1","amount":"1.00","subject":"s"} {}`, http.StatusBadRequest, "MALFORMED_JSON"},
			{"unknown field", `{"order_id":"X1","amount":"1.00","subject":"s","tip":"2.00"}`, http.StatusBadRequest, "UNKNOWN_FIELD"},
			{"amount as a number", `{"order_id":"X1","amount":25.00,"subject":"s"}`, http.StatusBadRequest, "BAD_AMOUNT"},
			{"amount with three decimals", `{"order_id":"X1","amount":"25.001","subject":"s"}`, http.StatusBadRequest, "BAD_AMOUNT"},
			{"negative amount", `{"order_id":"X1","amount":"-1.00","subject":"s"}`, http.StatusBadRequest, "BAD_AMOUNT"},
			{"zero amount", `{"order_id":"X1","amount":"0.00","subject":"s"}`, http.StatusBadRequest, "BAD_AMOUNT"},
			{"amount not a number", `{"order_id":"X1","amount":"ten","subject":"s"}`, http.StatusBadRequest, "BAD_AMOUNT"},
			{"amount too large", `{"order_id":"X1","amount":"100000000.01","subject":"s"}`, http.StatusBadRequest, "BAD_AMOUNT"},
			{"no amount", `{"order_id":"X1","subject":"s"}`, http.StatusBadRequest, "BAD_AMOUNT"},
			{"no order_id", `{"amount":"1.00","subject":"s"}`, http.StatusBadRequest, ""},
			{"no subject", `{"order_id":"X1","amount":"1.00"}`, http.StatusBadRequest, ""},
			{"auth_code not Alipay", `{"order_id":"X1","amount":"1.00","subject":"s","auth_code":"134567890123456789"}`, http.StatusBadRequest, "NOT_ALIPAY_CODE"},
		} {
			errorBody(t, tc.name, do(t, env, http.MethodPost, "/v1/checkouts", tok, tc.body), tc.status, tc.code)
		}
		// Oversized: a body above the 1 MiB cap, e.g. a runaway subject.
		big := `{"order_id":"X1","amount":"1.00","subject":"` + strings.Repeat("x", 2<<20) + `"}`
		errorBody(t, "2 MiB body", do(t, env, http.MethodPost, "/v1/checkouts", tok, big), http.StatusRequestEntityTooLarge, "")
		// Not JSON at all.
		req, _ := http.NewRequest(http.MethodPost, env.BaseURL()+"/v1/checkouts", strings.NewReader("order_id=X1&amount=1.00"))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err := plain.Do(req); err != nil || resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("form body: %v %v, want 415", resp.Status, err)
		} else {
			resp.Body.Close()
		}
		// None of that created anything.
		r := do(t, env, http.MethodGet, "/v1/checkouts", tok, "")
		if r.status != http.StatusOK || strings.Contains(string(r.body), `"X1"`) {
			t.Errorf("after bad requests: %d %s, want no checkout", r.status, r.body)
		}
	})

	t.Run("busy and unknown", func(t *testing.T) {
		cl := env.Client(t)
		first := create(t, cl, "Y1", "5.00")
		// The register repeats its request: the same checkout, not a 409.
		r := do(t, env, http.MethodPost, "/v1/checkouts", tok, `{"order_id":"Y1","amount":"5.00","subject":"s"}`)
		var same checkout.Checkout
		if json.Unmarshal(r.body, &same); r.status != http.StatusOK || same.ID != first.ID {
			t.Errorf("repeated create: %d %s, want 200 with checkout %s", r.status, r.body, first.ID)
		}
		// One scanner, one checkout awaiting a scan.
		errorBody(t, "second checkout while one awaits a scan",
			do(t, env, http.MethodPost, "/v1/checkouts", tok, `{"order_id":"Y2","amount":"6.00","subject":"s"}`), http.StatusConflict, "")
		errorBody(t, "same order, other amount",
			do(t, env, http.MethodPost, "/v1/checkouts", tok, `{"order_id":"Y1","amount":"6.00","subject":"s"}`), http.StatusConflict, "")
		errorBody(t, "unknown checkout", do(t, env, http.MethodGet, "/v1/checkouts/nosuch", tok, ""), http.StatusNotFound, "NOT_FOUND")
		errorBody(t, "wait above 60s", do(t, env, http.MethodGet, "/v1/checkouts/"+first.ID+"?wait=2m", tok, ""), http.StatusBadRequest, "")
		errorBody(t, "wait not a duration", do(t, env, http.MethodGet, "/v1/checkouts/"+first.ID+"?wait=soon", tok, ""), http.StatusBadRequest, "")
		errorBody(t, "list, bad state", do(t, env, http.MethodGet, "/v1/checkouts?state=done", tok, ""), http.StatusBadRequest, "")
		errorBody(t, "list, bad limit", do(t, env, http.MethodGet, "/v1/checkouts?limit=-1", tok, ""), http.StatusBadRequest, "")
		errorBody(t, "cancel unknown", do(t, env, http.MethodPost, "/v1/checkouts/nosuch/cancel", tok, ""), http.StatusNotFound, "")

		// The cashier gives up: the scanner is free for the next order.
		r = do(t, env, http.MethodPost, "/v1/checkouts/"+first.ID+"/cancel", tok, "")
		var c checkout.Checkout
		if json.Unmarshal(r.body, &c); r.status != http.StatusOK || c.State != checkout.Cancelled {
			t.Fatalf("cancel awaiting checkout: %d %s", r.status, r.body)
		}
		second := create(t, cl, "Y2", "6.00")
		testenv.WaitScannerOpen(t, cl, 5*time.Second)
		env.Scanner.Scan(t, testenv.Code())
		if paid := testenv.WaitFinal(t, cl, second.ID, finalWait); paid.State != checkout.Paid {
			t.Fatalf("checkout after a cancelled one: %+v", paid)
		}
		errorBody(t, "cancel a paid checkout", do(t, env, http.MethodPost, "/v1/checkouts/"+second.ID+"/cancel", tok, ""), http.StatusConflict, "")
	})
}
