package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/text/encoding/simplifiedchinese"

	"posagent/gateway"
)

// selfSigned returns a PEM certificate for pub with the given name and
// serial, signed by signer.
func selfSigned(t testing.TB, name pkix.Name, serial *big.Int, pub, signer any) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: name, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestCertSN checks the SN recipe of the official SDKs: MD5 hex of the
// issuer DN written CN first ("CN=…,OU=…,O=…,C=…") followed by the
// decimal serial; the root SN joins the RSA roots' SNs with "_" and skips
// other algorithms.
func TestCertSN(t *testing.T) {
	key := vectorKey(t)
	name := pkix.Name{Country: []string{"CN"}, Organization: []string{"Ant Financial"},
		OrganizationalUnit: []string{"Certification Authority"}, CommonName: "Ant Financial Certification Authority Class 2 R1"}
	serial, _ := new(big.Int).SetString("4523000016800000123456789", 10)
	rsaRoot := selfSigned(t, name, serial, &key.PublicKey, key)
	want := md5hex("CN=Ant Financial Certification Authority Class 2 R1,OU=Certification Authority,O=Ant Financial,C=CN4523000016800000123456789")
	ch, err := gateway.ParseCertChain(rsaRoot)
	if err != nil || ch.SN != want {
		t.Fatalf("SN = %q, %v; want %q", ch.SN, err, want)
	}

	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecRoot := selfSigned(t, pkix.Name{CommonName: "EC root"}, big.NewInt(7), &ec.PublicKey, ec)
	serial2 := big.NewInt(99)
	rsaRoot2 := selfSigned(t, pkix.Name{CommonName: "R2", Country: []string{"CN"}}, serial2, &key.PublicKey, key)
	for _, tc := range []struct {
		name   string
		bundle []byte
		want   string
		err    bool
	}{
		{"one RSA root", rsaRoot, want, false},
		{"RSA and ECDSA roots", append(append([]byte{}, rsaRoot...), ecRoot...), want, false},
		{"ECDSA first", append(append([]byte{}, ecRoot...), rsaRoot...), want, false},
		{"two RSA roots", append(append([]byte{}, rsaRoot...), rsaRoot2...), want + "_" + md5hex("CN=R2,C=CN99"), false},
		{"only ECDSA", ecRoot, "", true},
		{"not PEM", []byte("hello"), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := gateway.RootCertSN(tc.bundle)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("RootCertSN = %q, %v; want %q (error %v)", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestReplyShapes drives the decoder with each reply shape real gateways
// send, signed with the vector key.
func TestReplyShapes(t *testing.T) {
	key := vectorKey(t)
	method := gateway.MethodTradePay
	rk := gateway.ResponseKey(method)
	signed := func(raw string) string {
		b, err := gateway.EncodeReply(rk, []byte(raw), key, gateway.RSA2)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	gbk := func(s string) string {
		b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	paid := `{"code":"10000","msg":"Success","trade_no":"2026","out_trade_no":"T01_1","total_amount":"25.00","buyer_user_id":"2088000000000001"}`
	for _, tc := range []struct {
		name       string
		body       string
		kind       gateway.Kind
		unverified bool
		code, sub  string
		subMsg     string
		check      func(*gateway.TradePayResponse) bool
	}{
		{name: "signed success", body: signed(paid), kind: gateway.Success,
			check: func(r *gateway.TradePayResponse) bool { return r.TotalAmount == 2500 && r.TradeNo == "2026" }},
		{name: "signed business failure", body: signed(`{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_HAS_CLOSE","sub_msg":"交易已关闭"}`),
			kind: gateway.Failure, code: "40004", sub: "ACQ.TRADE_HAS_CLOSE", subMsg: "交易已关闭"},
		{name: "unsigned error reply keeps its code", body: `{"` + rk + `":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}}`,
			kind: gateway.Unknown, unverified: true, code: "40002", sub: "isv.invalid-app-id", subMsg: "无效的AppID参数"},
		{name: "unsigned error_response", body: `{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id"}}`,
			kind: gateway.Unknown, unverified: true, code: "40002", sub: "isv.invalid-app-id"},
		{name: "bad signature on a success", body: strings.Replace(signed(paid), "25.00", "99.00", 1),
			kind: gateway.Unknown, unverified: true, code: "10000"},
		{name: "escaped slash signed unescaped", body: strings.ReplaceAll(signed(`{"code":"10000","msg":"Success","trade_no":"a/b","total_amount":"1.00"}`), `a/b`, `a\/b`),
			kind: gateway.Success, check: func(r *gateway.TradePayResponse) bool { return r.TradeNo == "a/b" }},
		{name: "GBK sub_msg decoded after verification", body: signed(gbk(`{"code":"40004","msg":"Business Failed","sub_code":"ACQ.SYSTEM_ERROR","sub_msg":"系统错误"}`)),
			kind: gateway.Failure, code: "40004", sub: "ACQ.SYSTEM_ERROR", subMsg: "系统错误"},
		{name: "empty optional amount", body: signed(`{"code":"10000","msg":"Success","trade_no":"2026","total_amount":"25.00","receipt_amount":"","buyer_pay_amount":""}`),
			kind: gateway.Success, check: func(r *gateway.TradePayResponse) bool { return r.TotalAmount == 2500 && r.ReceiptAmount == 0 }},
		{name: "bad amount leaves the struct untouched", body: signed(`{"code":"10000","msg":"Success","trade_no":"2026","total_amount":"1.234"}`),
			kind: gateway.Unknown, check: func(r *gateway.TradePayResponse) bool { return r.TradeNo == "sentinel" }},
		{name: "20001 is unauthorized", body: signed(`{"code":"20001","msg":"Insufficient Token Permissions","sub_code":"aop.invalid-app-auth-token","sub_msg":"无效的应用授权令牌"}`),
			kind: gateway.Unauthorized, code: "20001", sub: "aop.invalid-app-auth-token", subMsg: "无效的应用授权令牌"},
		{name: "openid buyer", body: signed(`{"code":"10000","msg":"Success","trade_no":"1","total_amount":"1.00","buyer_open_id":"074abc"}`),
			kind: gateway.Success, check: func(r *gateway.TradePayResponse) bool { return r.BuyerOpenID == "074abc" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &gateway.Client{AppID: "1", PrivateKey: key, AlipayPublicKey: &key.PublicKey}
			out := gateway.TradePayResponse{TradeNo: "sentinel"}
			err := c.Decode(method, []byte(tc.body), &out)
			if got := gateway.KindOf(err); got != tc.kind {
				t.Fatalf("kind = %v (%v), want %v", got, err, tc.kind)
			}
			var ge *gateway.Error
			if err != nil {
				if !errors.As(err, &ge) || ge.Unverified != tc.unverified || ge.Code != tc.code || ge.SubCode != tc.sub || (tc.subMsg != "" && ge.SubMsg != tc.subMsg) {
					t.Fatalf("error %#v", err)
				}
				if tc.unverified && (!errors.Is(err, gateway.ErrBadSignature) || gateway.SubCodeOf(err) != "" || gateway.IsUnreachable(err)) {
					t.Fatalf("unverified %v: want ErrBadSignature, no SubCodeOf, not unreachable", err)
				}
				if tc.unverified && (out.TradeNo != "sentinel" || c.Health().VerifyFailures != 1 || c.Health().Problem == "") {
					t.Fatalf("unverified reply touched the struct (%+v) or was not counted (%+v)", out, c.Health())
				}
			}
			if tc.check != nil && !tc.check(&out) {
				t.Fatalf("decoded %+v", out)
			}
		})
	}
}

// TestDecodeSystemErrorIsNotUnreachable: the decode's SYSTEM_ERROR is an
// answer of the gateway.
func TestDecodeSystemErrorIsNotUnreachable(t *testing.T) {
	key := vectorKey(t)
	m := gateway.MethodTwoStageUse
	body, _ := gateway.EncodeReply(gateway.ResponseKey(m), []byte(`{"code":"40004","msg":"Business Failed","sub_code":"SYSTEM_ERROR","sub_msg":"系统繁忙"}`), key, gateway.RSA2)
	c := &gateway.Client{AppID: "1", PrivateKey: key, AlipayPublicKey: &key.PublicKey}
	var out gateway.TwoStageUseResponse
	err := c.Decode(m, body, &out)
	if gateway.IsUnreachable(err) || gateway.KindOf(err) != gateway.Failure || gateway.SubCodeOf(err) != "SYSTEM_ERROR" {
		t.Fatalf("err = %v", err)
	}
	if h := c.Health(); !h.Reachable || h.Problem != "" {
		t.Fatalf("health %+v", h)
	}
}

// FuzzReplyShapes feeds the decoder, in certificate mode, with seeds of
// every reply shape: whatever the body, a success needs a reply that
// verifies and an error never both claims and passes verification.
func FuzzReplyShapes(f *testing.F) {
	key := vectorKey(f)
	rk := gateway.ResponseKey(gateway.MethodTradeQuery)
	root := selfSigned(f, pkix.Name{CommonName: "root"}, big.NewInt(1), &key.PublicKey, key)
	ch, err := gateway.ParseCertChain(root)
	if err != nil {
		f.Fatal(err)
	}
	rb, err := gateway.ParseRootBundle(root)
	if err != nil {
		f.Fatal(err)
	}
	for _, raw := range []string{
		`{"code":"10000","msg":"Success","trade_status":"TRADE_SUCCESS","total_amount":"1.00"}`,
		`{"code":"10000","msg":"Success","total_amount":""}`,
		`{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST"}`,
		`{"code":"20001","msg":"x","sub_code":"aop.invalid-app-auth-token"}`,
		`{"code":"10000","msg":"a/b"}`,
	} {
		b, _ := gateway.EncodeCertReply(rk, []byte(raw), ch.SN, key, gateway.RSA2)
		f.Add(b)
		f.Add([]byte(strings.ReplaceAll(string(b), "/", `\/`)))
		f.Add([]byte(`{"` + rk + `":` + raw + `}`))
		f.Add([]byte(`{"` + rk + `":` + raw + `,"alipay_cert_sn":"00","sign":"AAAA"}`))
	}
	c := &gateway.Client{AppID: "1", PrivateKey: key, AppCert: ch, AlipayCert: ch, AlipayRoot: rb,
		HTTPClient: noNetwork(), URL: "http://127.0.0.1:1/gateway.do", Timeout: time.Second}
	if b, _ := gateway.EncodeCertReply(rk, []byte(`{"code":"10000","msg":"Success","total_amount":""}`), ch.SN, key, gateway.RSA2); c.Decode(gateway.MethodTradeQuery, b, new(gateway.TradeQueryResponse)) != nil {
		f.Fatal("a signed certificate-mode reply does not decode: ", c.Decode(gateway.MethodTradeQuery, b, new(gateway.TradeQueryResponse)))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var out gateway.TradeQueryResponse
		err := c.Decode(gateway.MethodTradeQuery, body, &out)
		var ge *gateway.Error
		if errors.As(err, &ge) && ge.Unverified && ge.Kind != gateway.Unknown {
			t.Fatalf("unverified reply of kind %v", ge.Kind)
		}
		if gateway.KindOf(err) == gateway.Unknown && out != (gateway.TradeQueryResponse{}) {
			t.Fatalf("struct half-filled on error %v: %+v", err, out)
		}
	})
}

// noNetwork is an HTTP client whose every request fails at once.
func noNetwork() *http.Client {
	return &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("no network in this test")
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestHealthLogsConfigProblems: a refused app signature and a refused
// app_auth_token are logged at error level and named by Health.
func TestHealthLogsConfigProblems(t *testing.T) {
	key := vectorKey(t)
	m := gateway.MethodTradeQuery
	var logs strings.Builder
	lg := zerolog.New(&logs)
	c := &gateway.Client{AppID: "1", PrivateKey: key, AlipayPublicKey: &key.PublicKey, Logger: &lg}
	for _, tc := range []struct{ raw, event, problem string }{
		{`{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature","sub_msg":"验签出错"}`, "gateway_config_rejected", "app_private_key_file does not match"},
		{`{"code":"20001","msg":"Insufficient Token Permissions","sub_code":"aop.app-auth-token-time-out"}`, "gateway_unauthorized", "app_auth_token"},
	} {
		logs.Reset()
		body, _ := gateway.EncodeReply(gateway.ResponseKey(m), []byte(tc.raw), key, gateway.RSA2)
		c.Decode(m, body, new(gateway.TradeQueryResponse))
		if !strings.Contains(logs.String(), `"level":"error"`) || !strings.Contains(logs.String(), tc.event) {
			t.Errorf("log %q: want an error-level %s line", logs.String(), tc.event)
		}
		if h := c.Health(); !strings.Contains(h.Problem, tc.problem) {
			t.Errorf("health problem %q, want …%s…", h.Problem, tc.problem)
		}
	}
	// A business answer clears both.
	body, _ := gateway.EncodeReply(gateway.ResponseKey(m), []byte(`{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST"}`), key, gateway.RSA2)
	c.Decode(m, body, new(gateway.TradeQueryResponse))
	if h := c.Health(); h.Problem != "" {
		t.Errorf("problem %q after a business answer", h.Problem)
	}
}

// FuzzCertFiles feeds the certificate file parsers (config files and the
// downloaded gateway certificate are outside bytes): they never panic, and
// what parses has an MD5-hex SN.
func FuzzCertFiles(f *testing.F) {
	key := vectorKey(f)
	root := selfSigned(f, pkix.Name{CommonName: "root", Country: []string{"CN"}}, big.NewInt(12345), &key.PublicKey, key)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecRoot := selfSigned(f, pkix.Name{CommonName: "ec"}, big.NewInt(2), &ec.PublicKey, ec)
	f.Add(root)
	f.Add(append(append([]byte{}, root...), ecRoot...))
	f.Add(ecRoot)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("not pem"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if ch, err := gateway.ParseCertChain(data); err == nil && len(ch.SN) != 32 {
			t.Fatalf("SN %q", ch.SN)
		}
		if sn, err := gateway.RootCertSN(data); err == nil && len(sn)%33 != 32 {
			t.Fatalf("root SN %q", sn)
		}
		gateway.ParseRootBundle(data)
	})
}
