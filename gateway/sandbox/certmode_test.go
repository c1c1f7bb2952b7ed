package sandbox_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"posagent/gateway"
	"posagent/gateway/sandbox"
)

func startCfg(t *testing.T, cfg sandbox.Config) *sandbox.Sandbox {
	t.Helper()
	s, err := sandbox.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCertModeCallsAndRotation(t *testing.T) {
	dir := t.TempDir()
	s := startCfg(t, sandbox.Config{Dir: dir, CertMode: true})
	p := s.KeyPaths()
	for _, f := range []string{p.AppCert, p.AlipayCert, p.AlipayRootCert} {
		if _, err := os.Stat(f); err != nil {
			t.Fatal(err)
		}
	}
	var info strings.Builder
	s.Info(&info)
	for _, k := range []string{"app_cert: ", "alipay_cert: ", "alipay_root_cert: "} {
		if !strings.Contains(info.String(), k) {
			t.Errorf("Info lacks %q:\n%s", k, info.String())
		}
	}
	// The root bundle holds an RSA and an ECDSA root; only the RSA one counts.
	bundle, _ := os.ReadFile(p.AlipayRootCert)
	if n := strings.Count(string(bundle), "BEGIN CERTIFICATE"); n != 2 {
		t.Fatalf("root bundle holds %d certificates, want 2", n)
	}
	sn, err := gateway.RootCertSN(bundle)
	if err != nil || strings.Contains(sn, "_") || len(sn) != 32 {
		t.Fatalf("root SN %q, %v: want one MD5", sn, err)
	}

	certDir := t.TempDir()
	c := s.Client()
	c.CertDir = certDir
	ctx := context.Background()
	if _, err := c.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: "none"}); gateway.SubCodeOf(err) != "ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("cert mode query: %v", err)
	}
	// A client whose app certificate is another one is refused by SN.
	other := startCfg(t, sandbox.Config{CertMode: true}).Client()
	c2 := s.Client()
	c2.AppCert = other.AppCert
	_, err = c2.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: "none"})
	var ge *gateway.Error
	if !errors.As(err, &ge) || ge.SubCode != "isv.invalid-app-cert-sn" || gateway.KindOf(err) != gateway.Rejected {
		t.Fatalf("other app cert: %v", err)
	}
	before := c.Health().AlipayCertSN
	resp, err := http.Post(strings.TrimSuffix(s.URL(), "gateway.do")+"sandbox/rotate-cert", "application/json", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("rotate: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := c.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: "none"}); gateway.SubCodeOf(err) != "ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("after rotation: %v", err)
	}
	after := c.Health().AlipayCertSN
	if after == before || after == "" {
		t.Fatalf("cert SN %q → %q: the rotated certificate is not in use", before, after)
	}
	if _, err := os.Stat(filepath.Join(certDir, "alipay_cert_"+after+".pem")); err != nil {
		t.Errorf("the fetched certificate is not kept: %v", err)
	}

	// The same folder loads the same certificates again.
	s2, err := sandbox.New(sandbox.Config{Dir: dir, CertMode: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Client().TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: "none"}); gateway.SubCodeOf(err) != "ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("reloaded: %v", err)
	}
	if s2.Client().AppCert.SN != s.Client().AppCert.SN {
		t.Error("reloading the folder issued a new app certificate")
	}
}

func TestCertModeRejectsAForeignRotatedCert(t *testing.T) {
	s := startCfg(t, sandbox.Config{CertMode: true})
	c := s.Client()
	// Trust another sandbox's root: the rotated certificate does not chain to it.
	c.AlipayRoot = startCfg(t, sandbox.Config{CertMode: true}).Client().AlipayRoot
	if _, err := s.RotateCert(); err != nil {
		t.Fatal(err)
	}
	_, err := c.TradeQuery(context.Background(), gateway.TradeQueryRequest{OutTradeNo: "none"})
	if gateway.KindOf(err) != gateway.Unknown || !errors.Is(err, gateway.ErrBadSignature) {
		t.Fatalf("err = %v, want unknown bad signature", err)
	}
	if h := c.Health(); h.VerifyFailures != 1 || !strings.Contains(h.Problem, "certificate") {
		t.Fatalf("health %+v", h)
	}
}

func TestOpenIDAndAppAuthToken(t *testing.T) {
	s := startCfg(t, sandbox.Config{OpenID: true, AppAuthToken: "202612BBtok"})
	c := s.Client()
	ctx := context.Background()
	d, err := c.TwoStageUse(ctx, gateway.TwoStageUseRequest{DynamicID: "286861260475412123", SenceNo: "T01_s1", PayPID: s.PayPID()})
	if err != nil || d.OpenID == "" || d.UserID != "" {
		t.Fatalf("decode %+v %v: want open_id only", d, err)
	}
	pay, err := c.TradePay(ctx, gateway.TradePayRequest{OutTradeNo: "T01_1", AuthCode: "286861260475412999", Subject: "x", TotalAmount: 100})
	if err != nil || pay.BuyerOpenID == "" || pay.BuyerUserID != "" {
		t.Fatalf("pay %+v %v", pay, err)
	}
	q, err := c.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: "T01_1"})
	if err != nil || q.BuyerOpenID != pay.BuyerOpenID {
		t.Fatalf("query %+v %v", q, err)
	}
	for _, tok := range []string{"", "wrong"} {
		c.AppAuthToken = tok
		_, err := c.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: "T01_1"})
		if gateway.KindOf(err) != gateway.Unauthorized || !errors.Is(err, gateway.ErrUnauthorized) || gateway.IsUnreachable(err) {
			t.Fatalf("token %q: %v, want unauthorized", tok, err)
		}
		if h := c.Health(); h.Unauthorized != "aop.invalid-app-auth-token" || h.Problem == "" {
			t.Fatalf("health %+v", h)
		}
	}
}

func TestReplyShapeFaults(t *testing.T) {
	s := startCfg(t, sandbox.Config{Faults: sandbox.Faults{UnsignedError: 1}})
	c := s.Client()
	ctx := context.Background()
	_, err := c.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: "none"})
	var ge *gateway.Error
	if !errors.As(err, &ge) || !ge.Unverified || ge.Code != "40004" || ge.SubCode != "ACQ.TRADE_NOT_EXIST" ||
		gateway.KindOf(err) != gateway.Unknown || gateway.SubCodeOf(err) != "" || gateway.IsUnreachable(err) {
		t.Fatalf("unsigned error: %#v", err)
	}
	if h := c.Health(); h.VerifyFailures != 1 || !h.Reachable || !strings.Contains(h.Problem, "key or certificate") {
		t.Fatalf("health %+v", h)
	}
	// A success is still signed.
	if _, err := c.TradePay(ctx, gateway.TradePayRequest{OutTradeNo: "T01_2", AuthCode: "286861260475412998", Subject: "a/b", TotalAmount: 100}); err != nil {
		t.Fatal(err)
	}
	if c.Health().VerifyFailures != 0 {
		t.Fatal("a verified reply did not reset the failures")
	}

	s.SetFaults(sandbox.Faults{EscapedSlash: 1})
	_, err = c.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: "none/x"})
	if gateway.SubCodeOf(err) != "ACQ.TRADE_NOT_EXIST" {
		t.Fatalf("escaped slash: %v", err)
	}
	f, err := sandbox.ParseFaults([]byte(`{"unsigned_error":0.5,"escaped_slash":1}`))
	if err != nil || f.UnsignedError != 0.5 || f.EscapedSlash != 1 {
		t.Fatalf("%+v %v", f, err)
	}
}

// TestInProcessModes: the in-process sandbox (no socket, as with gateway =
// "sandbox") serves certificate mode, OpenID and app_auth_token too.
func TestInProcessModes(t *testing.T) {
	s, err := sandbox.New(sandbox.Config{CertMode: true, OpenID: true, AppAuthToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Client()
	d, err := c.TwoStageUse(context.Background(), gateway.TwoStageUseRequest{DynamicID: "286861260475412123", SenceNo: "T01_s1", PayPID: s.PayPID()})
	if err != nil || d.OpenID == "" {
		t.Fatalf("decode %+v %v", d, err)
	}
	if _, err := s.RotateCert(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TradeQuery(context.Background(), gateway.TradeQueryRequest{OutTradeNo: "none"}); gateway.KindOf(err) != gateway.Failure {
		t.Fatalf("after rotation: %v", err)
	}
	if _, err := sandbox.New(sandbox.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := (func() (string, error) {
		p, _ := sandbox.New(sandbox.Config{})
		return p.RotateCert()
	})(); err == nil {
		t.Fatal("RotateCert outside certificate mode: no error")
	}
}
