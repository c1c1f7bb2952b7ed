package gateway_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"posagent/gateway"
)

// fakeGateway answers every request with the reply that answer returns,
// signed with the vector key (which the client trusts as the gateway's).
func fakeGateway(t *testing.T, answer func(r *http.Request) (status int, raw string, sign bool)) (*gateway.Client, *atomic.Int32) {
	t.Helper()
	key := vectorKey(t)
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if err := r.ParseForm(); err != nil {
			t.Errorf("parse form: %v", err)
		}
		status, raw, sign := answer(r)
		if status != http.StatusOK {
			w.WriteHeader(status)
			w.Write([]byte(raw))
			return
		}
		method := r.Form.Get("method")
		body := []byte(`{"` + gateway.ResponseKey(method) + `":` + raw + `}`)
		if sign {
			var err error
			body, err = gateway.EncodeReply(gateway.ResponseKey(method), []byte(raw), key, gateway.RSA2)
			if err != nil {
				t.Error(err)
			}
		}
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return &gateway.Client{
		URL: srv.URL + "/gateway.do", AppID: "2021000000000001", PrivateKey: key,
		AlipayPublicKey: &key.PublicKey, Timeout: 2 * time.Second,
	}, &calls
}

func queryReq() gateway.TradeQueryRequest { return gateway.TradeQueryRequest{OutTradeNo: "T01_1"} }

func TestClientClassifiesResults(t *testing.T) {
	for _, tc := range []struct {
		name    string
		status  int
		raw     string
		sign    bool
		want    gateway.Kind
		subCode string
	}{
		{"success", 200, `{"code":"10000","msg":"Success","trade_status":"TRADE_SUCCESS","total_amount":"25.00"}`, true, gateway.Success, ""},
		{"in progress", 200, `{"code":"10003","msg":"order success pay inprocess"}`, true, gateway.InProgress, ""},
		{"unknown 20000", 200, `{"code":"20000","msg":"Service Currently Unavailable","sub_code":"isp.unknow-error"}`, true, gateway.Unknown, "isp.unknow-error"},
		{"business failure", 200, `{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}`, true, gateway.Failure, "ACQ.TRADE_NOT_EXIST"},
		{"invalid signature", 200, `{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature"}`, true, gateway.Rejected, "isv.invalid-signature"},
		{"missing parameter", 200, `{"code":"40001","msg":"Missing Required Arguments","sub_code":"isv.missing-signature"}`, true, gateway.Rejected, "isv.missing-signature"},
		{"no permission", 200, `{"code":"40006","msg":"Insufficient Permissions","sub_code":"isv.insufficient-isv-permissions"}`, true, gateway.Rejected, "isv.insufficient-isv-permissions"},
		{"unsigned success", 200, `{"code":"10000","msg":"Success","trade_status":"TRADE_SUCCESS"}`, false, gateway.Unknown, ""},
		{"http 502", 502, `bad gateway`, false, gateway.Unknown, ""},
		{"no code", 200, `{"msg":"Success"}`, true, gateway.Unknown, ""},
		{"bad amount in reply", 200, `{"code":"10000","msg":"Success","total_amount":25}`, true, gateway.Unknown, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fakeGateway(t, func(*http.Request) (int, string, bool) { return tc.status, tc.raw, tc.sign })
			resp, err := c.TradeQuery(context.Background(), queryReq())
			if got := gateway.KindOf(err); got != tc.want {
				t.Fatalf("kind = %v (%v), want %v", got, err, tc.want)
			}
			if got := gateway.SubCodeOf(err); got != tc.subCode {
				t.Fatalf("sub_code = %q, want %q", got, tc.subCode)
			}
			if tc.want == gateway.Success && (resp.TradeStatus != "TRADE_SUCCESS" || resp.TotalAmount != 2500) {
				t.Fatalf("response not decoded: %+v", resp)
			}
			if !tc.sign && tc.status == 200 && !errors.Is(err, gateway.ErrBadSignature) {
				t.Fatalf("unsigned reply: err %v is not ErrBadSignature", err)
			}
		})
	}
}

func TestClientTransportErrorsAreUnknown(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		key := vectorKey(t)
		c := &gateway.Client{URL: "http://" + addr + "/gateway.do", AppID: "1", PrivateKey: key, AlipayPublicKey: &key.PublicKey}
		_, err = c.TradeQuery(context.Background(), queryReq())
		if gateway.KindOf(err) != gateway.Unknown || !gateway.IsUnreachable(err) {
			t.Fatalf("err = %v, want unknown+unreachable", err)
		}
		if ok, _ := c.Reachable(); ok {
			t.Fatal("client still reports the gateway reachable")
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		c, _ := fakeGateway(t, func(*http.Request) (int, string, bool) {
			<-release
			return 200, `{"code":"10000","msg":"Success"}`, true
		})
		defer close(release)
		c.Timeout = 100 * time.Millisecond
		_, err := c.TradeQuery(context.Background(), queryReq())
		if gateway.KindOf(err) != gateway.Unknown {
			t.Fatalf("err = %v, want unknown", err)
		}
	})
	t.Run("oversized reply", func(t *testing.T) {
		c, _ := fakeGateway(t, func(*http.Request) (int, string, bool) {
			return 200, `{"code":"10000","msg":"` + strings.Repeat("x", 4096) + `"}`, true
		})
		c.MaxReplyBytes = 1024
		_, err := c.TradeQuery(context.Background(), queryReq())
		if gateway.KindOf(err) != gateway.Unknown || !errors.Is(err, gateway.ErrBadReply) {
			t.Fatalf("err = %v, want unknown bad reply", err)
		}
	})
}

func TestClientSendsSignedFormWithCommonParams(t *testing.T) {
	var got map[string]string
	c, _ := fakeGateway(t, func(r *http.Request) (int, string, bool) {
		got = map[string]string{}
		for k := range r.Form {
			got[k] = r.Form.Get(k)
		}
		// The common parameters, charset included, are in the URL; only
		// biz_content is in the body.
		q := r.URL.Query()
		for _, k := range []string{"app_id", "method", "format", "charset", "sign_type", "timestamp", "version", "app_auth_token", "sign"} {
			if q.Get(k) == "" {
				t.Errorf("%s is not in the query string", k)
			}
		}
		if q.Has("biz_content") || len(r.PostForm) != 1 || r.PostForm.Get("biz_content") == "" {
			t.Errorf("query %v, body %v: want biz_content alone in the body", q, r.PostForm)
		}
		return 200, `{"code":"10000","msg":"Success","user_id":"2088000000000001"}`, true
	})
	c.AppAuthToken = "tok"
	resp, err := c.TwoStageUse(context.Background(), gateway.TwoStageUseRequest{DynamicID: "286861260475412123", SenceNo: "T01_s1", PayPID: "2088702093900999"})
	if err != nil || resp.UserID != "2088000000000001" {
		t.Fatalf("resp %+v err %v", resp, err)
	}
	for k, want := range map[string]string{"app_id": "2021000000000001", "method": gateway.MethodTwoStageUse, "format": "JSON", "charset": "utf-8", "sign_type": "RSA2", "version": "1.0", "app_auth_token": "tok"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if _, err := time.ParseInLocation(gateway.TimestampLayout, got["timestamp"], gateway.Shanghai); err != nil {
		t.Errorf("timestamp %q: %v", got["timestamp"], err)
	}
	if err := gateway.Verify([]byte(gateway.SignContent(got)), got["sign"], vectorPublicKey(t), gateway.RSA2); err != nil {
		t.Errorf("request signature: %v", err)
	}
}

func TestValidationStopsTheRequest(t *testing.T) {
	c, calls := fakeGateway(t, func(*http.Request) (int, string, bool) { return 200, `{"code":"10000","msg":"Success"}`, true })
	ctx := context.Background()
	amount := gateway.Amount(2500)
	pay := func(mut func(*gateway.TradePayRequest)) error {
		r := gateway.TradePayRequest{OutTradeNo: "T01_1", AuthCode: "286861260475412123", Subject: "x", TotalAmount: amount}
		mut(&r)
		_, err := c.TradePay(ctx, r)
		return err
	}
	cases := map[string]func() error{
		"pay: no out_trade_no":       func() error { return pay(func(r *gateway.TradePayRequest) { r.OutTradeNo = "" }) },
		"pay: out_trade_no too long": func() error { return pay(func(r *gateway.TradePayRequest) { r.OutTradeNo = strings.Repeat("a", 65) }) },
		"pay: out_trade_no charset":  func() error { return pay(func(r *gateway.TradePayRequest) { r.OutTradeNo = "T01-1" }) },
		"pay: not an alipay code":    func() error { return pay(func(r *gateway.TradePayRequest) { r.AuthCode = "134567890123456789" }) },
		"pay: code too short":        func() error { return pay(func(r *gateway.TradePayRequest) { r.AuthCode = "281234567890123" }) },
		"pay: zero amount":           func() error { return pay(func(r *gateway.TradePayRequest) { r.TotalAmount = 0 }) },
		"pay: amount over max":       func() error { return pay(func(r *gateway.TradePayRequest) { r.TotalAmount = gateway.MaxAmount + 1 }) },
		"pay: no subject":            func() error { return pay(func(r *gateway.TradePayRequest) { r.Subject = "" }) },
		"pay: subject too long":      func() error { return pay(func(r *gateway.TradePayRequest) { r.Subject = strings.Repeat("商", 257) }) },
		"pay: operator too long":     func() error { return pay(func(r *gateway.TradePayRequest) { r.OperatorID = strings.Repeat("o", 29) }) },
		"pay: bad scene":             func() error { return pay(func(r *gateway.TradePayRequest) { r.Scene = "wave_code" }) },
		"pay: bad dynamic token": func() error {
			return pay(func(r *gateway.TradePayRequest) {
				r.ExtendParams = map[string]string{"DYNAMIC_TOKEN_OUT_BIZ_NO": "a b"}
			})
		},
		"decode: no sence_no": func() error {
			_, err := c.TwoStageUse(ctx, gateway.TwoStageUseRequest{DynamicID: "286861260475412123", PayPID: "1"})
			return err
		},
		"decode: sence_no too long": func() error {
			_, err := c.TwoStageUse(ctx, gateway.TwoStageUseRequest{DynamicID: "286861260475412123", SenceNo: strings.Repeat("s", 129), PayPID: "1"})
			return err
		},
		"decode: no pay_pid": func() error {
			_, err := c.TwoStageUse(ctx, gateway.TwoStageUseRequest{DynamicID: "286861260475412123", SenceNo: "s"})
			return err
		},
		"query: neither number":  func() error { _, err := c.TradeQuery(ctx, gateway.TradeQueryRequest{}); return err },
		"cancel: neither number": func() error { _, err := c.TradeCancel(ctx, gateway.TradeCancelRequest{}); return err },
		"consult: no principal":  func() error { _, err := c.SceneConsult(ctx, gateway.ConsultRequest{Scene: "s"}); return err },
		"consult: no scene": func() error {
			_, err := c.SceneConsult(ctx, gateway.ConsultRequest{Principal: gateway.UserPrincipal{UserID: "2088"}})
			return err
		},
		"consult: email too long": func() error {
			_, err := c.SceneConsult(ctx, gateway.ConsultRequest{Principal: gateway.UserPrincipal{Email: strings.Repeat("e", 201)}, Scene: "s"})
			return err
		},
		"award: no user": func() error { _, err := c.InviteAward(ctx, gateway.AwardRequest{OutBizNo: "1"}); return err },
		"award: mobile too long": func() error {
			_, err := c.InviteAward(ctx, gateway.AwardRequest{Mobile: "12345678901234567"})
			return err
		},
		"agreement: no product code": func() error {
			_, err := c.AgreementQuery(ctx, gateway.AgreementQueryRequest{AlipayUserID: "2088"})
			return err
		},
		"agreement: no user": func() error {
			_, err := c.AgreementQuery(ctx, gateway.AgreementQueryRequest{PersonalProductCode: "P"})
			return err
		},
		"agreement: third party type": func() error {
			_, err := c.AgreementQuery(ctx, gateway.AgreementQueryRequest{PersonalProductCode: "P", AlipayUserID: "2088", ThirdPartyType: "X"})
			return err
		},
	}
	for name, call := range cases {
		err := call()
		var ve *gateway.ValidationError
		if gateway.KindOf(err) != gateway.Invalid || !errors.As(err, &ve) {
			t.Errorf("%s: err = %v, want a validation error", name, err)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d invalid requests reached the gateway", n)
	}
}

func FuzzDecodeReply(f *testing.F) {
	raw := readVector(f, "reply.raw")
	sig := readVector(f, "reply.rsa2.sig")
	key := gateway.ResponseKey(gateway.MethodTradePay)
	for _, s := range []string{
		`{"` + key + `":` + raw + `,"sign":"` + sig + `"}`,
		`{"sign":"` + sig + `","` + key + `":` + raw + `}`,
		`{"error_response":{"code":"40002","msg":"x"},"sign":"AAAA"}`,
		`{"` + key + `":{"code":"10000"}}`, `[]`, `{}`, `{"a":`, `null`,
	} {
		f.Add([]byte(s))
	}
	c := &gateway.Client{AppID: "1", PrivateKey: vectorKey(f), AlipayPublicKey: vectorPublicKey(f)}
	f.Fuzz(func(t *testing.T, body []byte) {
		var out gateway.TradePayResponse
		err := c.Decode(gateway.MethodTradePay, body, &out)
		r, perr := gateway.ParseReply(body, gateway.MethodTradePay)
		if err == nil {
			// Only a reply whose exact response bytes carry a valid
			// signature may ever be a success.
			// (Or, as the Java SDK allows, whose bytes with `\/` unescaped do.)
			unescaped := []byte(strings.ReplaceAll(string(r.Raw), `\/`, `/`))
			if perr != nil || (r.Verify(vectorPublicKey(t), gateway.RSA2) != nil &&
				gateway.Verify(unescaped, r.Sign, vectorPublicKey(t), gateway.RSA2) != nil) {
				t.Fatalf("unverified body decoded as success: %q", body)
			}
		}
		if perr == nil && !strings.Contains(string(body), string(r.Raw)) {
			t.Fatalf("Raw is not a slice of the body")
		}
	})
}
