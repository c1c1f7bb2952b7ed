package gateway_test

import (
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"posagent/gateway"
)

// The vectors under testdata/vectors were computed by openssl alone
// (make-vectors.sh), independently of this package.

func readVector(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func vectorKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := gateway.LoadPrivateKeyFile(filepath.Join("testdata", "vectors", "test-only-app-pkcs8.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func vectorPublicKey(t testing.TB) *rsa.PublicKey {
	t.Helper()
	k, err := gateway.LoadPublicKeyFile(filepath.Join("testdata", "vectors", "test-only-app-public-spki.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var vectorParams = map[string]string{
	"app_id":         "2021000000000001",
	"method":         "alipay.trade.pay",
	"format":         "JSON",
	"charset":        "utf-8",
	"sign_type":      "RSA2",
	"timestamp":      "2026-01-01 12:00:00",
	"version":        "1.0",
	"app_auth_token": "", // empty: left out of the sign string
	"biz_content":    `{"out_trade_no":"T01_20260101_0001","scene":"bar_code","auth_code":"286861260475412123","subject":"Coffee & cake <2>","total_amount":"25.00","extend_params":{"DYNAMIC_TOKEN_OUT_BIZ_NO":"T01_sence_1"}}`,
	"sign":           "ignored",
}

func TestSignContentMatchesVector(t *testing.T) {
	if got, want := gateway.SignContent(vectorParams), readVector(t, "pay.signstring"); got != want {
		t.Fatalf("sign string\n got %s\nwant %s", got, want)
	}
}

func TestSignMatchesOpenSSL(t *testing.T) {
	content := []byte(readVector(t, "pay.signstring"))
	for _, keyFile := range []string{"test-only-app-pkcs8.txt", "test-only-app-pkcs1.txt", "test-only-app-pkcs8-bare.txt"} {
		key, err := gateway.LoadPrivateKeyFile(filepath.Join("testdata", "vectors", keyFile))
		if err != nil {
			t.Fatalf("%s: %v", keyFile, err)
		}
		for _, tc := range []struct {
			st  gateway.SignType
			sig string
		}{{gateway.RSA2, "pay.rsa2.sig"}, {gateway.RSA, "pay.rsa.sig"}} {
			got, err := gateway.Sign(content, key, tc.st)
			if err != nil {
				t.Fatal(err)
			}
			if want := readVector(t, tc.sig); got != want {
				t.Errorf("%s %s: signature differs from openssl's", keyFile, tc.st)
			}
		}
	}
}

func TestVerifyOpenSSLSignatureWithBothPublicKeyForms(t *testing.T) {
	content := []byte(readVector(t, "pay.signstring"))
	for _, f := range []string{"test-only-app-public-spki.txt", "test-only-app-public-bare.txt"} {
		pub, err := gateway.LoadPublicKeyFile(filepath.Join("testdata", "vectors", f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := gateway.Verify(content, readVector(t, "pay.rsa2.sig"), pub, gateway.RSA2); err != nil {
			t.Errorf("%s RSA2: %v", f, err)
		}
		if err := gateway.Verify(content, readVector(t, "pay.rsa.sig"), pub, gateway.RSA); err != nil {
			t.Errorf("%s RSA: %v", f, err)
		}
		if err := gateway.Verify(content, readVector(t, "pay.rsa.sig"), pub, gateway.RSA2); err == nil {
			t.Errorf("%s: an RSA (SHA1) signature verified as RSA2", f)
		}
	}
}

// The client's own request must sign to exactly the openssl vector when its
// clock and biz_content match: this pins the whole request-building path.
func TestClientParamsMatchVector(t *testing.T) {
	c := &gateway.Client{
		URL: "http://127.0.0.1:1/gateway.do", AppID: "2021000000000001", PrivateKey: vectorKey(t),
		Now: func() time.Time { return time.Date(2026, 1, 1, 4, 0, 0, 0, time.UTC) }, // 12:00 in Shanghai
	}
	amount, _ := gateway.ParseAmount("25.00")
	req := gateway.TradePayRequest{
		OutTradeNo: "T01_20260101_0001", Scene: "bar_code", AuthCode: "286861260475412123",
		Subject: "Coffee & cake <2>", TotalAmount: amount,
		ExtendParams: map[string]string{gateway.DynamicTokenOutBizNoKey: "T01_sence_1"},
	}
	biz, err := gateway.MarshalBizContent(&req)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Params(gateway.MethodTradePay, biz)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.Get("sign"), readVector(t, "pay.rsa2.sig"); got != want {
		t.Fatalf("client signature differs from openssl's\nbiz_content %s", v.Get("biz_content"))
	}
	if !strings.Contains(v.Get("biz_content"), `"DYNAMIC_TOKEN_OUT_BIZ_NO"`) {
		t.Fatal("extend_params key was not sent verbatim")
	}
}

func TestParseKeyErrors(t *testing.T) {
	for _, in := range []string{"", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"} {
		if _, err := gateway.ParsePrivateKey([]byte(in)); err == nil {
			t.Errorf("ParsePrivateKey(%q) succeeded", in)
		}
		if _, err := gateway.ParsePublicKey([]byte(in)); err == nil {
			t.Errorf("ParsePublicKey(%q) succeeded", in)
		}
	}
	if _, err := gateway.LoadPrivateKeyFile(filepath.Join(t.TempDir(), "missing.pem")); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing key file: error %v does not name the file", err)
	}
}
