package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"posagent/gateway"
	"posagent/gateway/sandbox"
)

// FuzzGatewayRequest feeds arbitrary query strings and bodies to gateway.do:
// whatever arrives, the answer is HTTP 200 with one response member whose
// signature verifies, and nothing panics.
func FuzzGatewayRequest(f *testing.F) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, gateway.Shanghai)
	s, err := sandbox.New(sandbox.Config{Dir: keyDir, Now: func() time.Time { return now }})
	if err != nil {
		f.Fatal(err)
	}
	c := s.Client()
	c.Now = func() time.Time { return now }
	for _, m := range gateway.Methods {
		p, err := c.Params(m, []byte(`{"out_trade_no":"T1","auth_code":"281234567890123456","subject":"s","total_amount":"1.00","dynamic_id":"281234567890123456","sence_no":"S1","pay_pid":"`+sandbox.DefaultPayPID+`","principal":{"user_id":"2088000000000002"},"scene":"x","mobile":"13800000001","personal_product_code":"GENERAL_WITHHOLDING_P","alipay_user_id":"2088000000000002"}`))
		if err != nil {
			f.Fatal(err)
		}
		f.Add("", p.Encode())
		f.Add(p.Encode(), "")
	}
	f.Add("method=alipay.trade.pay&charset=GBK", "biz_content=%B2%E2")
	f.Add("charset=gb18030&sign_type=RSA", "%zz=1&&=&a")
	_, alipayPub := s.Keys()
	f.Fuzz(func(t *testing.T, query, body string) {
		r := httptest.NewRequest(http.MethodPost, "/gateway.do", strings.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("HTTP %d", w.Code)
		}
		reply := w.Body.Bytes()
		var top map[string]json.RawMessage
		if err := json.Unmarshal(reply, &top); err != nil || len(top) != 2 || top["sign"] == nil {
			t.Fatalf("reply %q", reply)
		}
		method := "none"
		for k := range top {
			if k != "sign" && k != gateway.ErrorResponseKey {
				method = strings.ReplaceAll(strings.TrimSuffix(k, "_response"), "_", ".")
			}
		}
		rp, err := gateway.ParseReply(reply, method)
		if err != nil {
			t.Fatalf("reply %q: %v", reply, err)
		}
		if rp.Verify(alipayPub, gateway.RSA2) != nil && rp.Verify(alipayPub, gateway.RSA) != nil {
			t.Fatalf("reply signature does not verify: %q", reply)
		}
	})
}

// FuzzParseFaults: any input either parses into valid faults that survive
// a JSON round trip, or is refused; nothing panics.
func FuzzParseFaults(f *testing.F) {
	f.Add(`{"latency":"300ms","drop_after_commit":0.2,"fail_20000":0.1,"bad_sign":0,"methods":["alipay.trade.pay"]}`)
	f.Add(`{}`)
	f.Add(`{"latency":"-1s"}`)
	f.Add(`{"bad_sign":1e400}`)
	f.Fuzz(func(t *testing.T, in string) {
		fa, err := sandbox.ParseFaults([]byte(in))
		if err != nil {
			return
		}
		if err := fa.Validate(); err != nil {
			t.Fatalf("ParseFaults accepted invalid faults: %v", err)
		}
		b, err := json.Marshal(fa)
		if err != nil {
			t.Fatal(err)
		}
		back, err := sandbox.ParseFaults(b)
		if err != nil || back.String() != fa.String() || back.Seed != fa.Seed {
			t.Fatalf("round trip %s: %+v %v", b, back, err)
		}
	})
}
