package sandbox_test

import (
	"bufio"
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"posagent/clock"
	"posagent/gateway"
	"posagent/gateway/sandbox"
)

// keyDir holds one set of keys for every sandbox of the test run: RSA key
// generation is the slowest thing here.
var keyDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sandbox-keys-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	keyDir = dir
	if _, err := sandbox.New(sandbox.Config{Dir: dir}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// start is the fake clock's first reading in every test.
var start = time.Date(2025, 3, 1, 10, 0, 0, 0, gateway.Shanghai)

// env is a started sandbox with a fake clock and a client wired to it.
type env struct {
	t   testing.TB
	s   *sandbox.Sandbox
	c   *gateway.Client
	clk *clock.Fake
	ctx context.Context
}

// mustStart starts a sandbox on a loopback port; it is closed with the test.
func mustStart(tb testing.TB, mods ...func(*sandbox.Config)) *env {
	tb.Helper()
	clk := clock.NewFake(start)
	cfg := sandbox.Config{Dir: keyDir, Now: clk.Now}
	for _, m := range mods {
		m(&cfg)
	}
	s, err := sandbox.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	c := s.Client()
	c.Timeout = 10 * time.Second
	return &env{t: tb, s: s, c: c, clk: clk, ctx: context.Background()}
}

var seq atomic.Int64

// newCode returns a fresh ordinary payment code (18 digits, prefix 28).
func newCode() string {
	return fmt.Sprintf("28%016d", 1_000_000+seq.Add(1))
}

// testCode returns a fresh test code of scenario ss with parameter n.
func testCode(ss, n int) string {
	return fmt.Sprintf("%s%02d%d%05d", sandbox.TestCodeMarker, ss, n, seq.Add(1)%100000)
}

// newNo returns a fresh out_trade_no / sence_no / out_biz_no.
func newNo(prefix string) string {
	return fmt.Sprintf("%s_%d_%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
}

func (e *env) decode(code, sence string) (*gateway.TwoStageUseResponse, error) {
	return e.c.TwoStageUse(e.ctx, gateway.TwoStageUseRequest{DynamicID: code, SenceNo: sence, PayPID: e.s.PayPID()})
}

func (e *env) pay(out, code string, amount gateway.Amount, token string) (*gateway.TradePayResponse, error) {
	req := gateway.TradePayRequest{OutTradeNo: out, AuthCode: code, Subject: "sandbox test", TotalAmount: amount}
	if token != "" {
		req.ExtendParams = map[string]string{gateway.DynamicTokenOutBizNoKey: token}
	}
	return e.c.TradePay(e.ctx, req)
}

func (e *env) query(out string) (*gateway.TradeQueryResponse, error) {
	return e.c.TradeQuery(e.ctx, gateway.TradeQueryRequest{OutTradeNo: out})
}

func (e *env) cancel(out string) (*gateway.TradeCancelResponse, error) {
	return e.c.TradeCancel(e.ctx, gateway.TradeCancelRequest{OutTradeNo: out})
}

// trade returns the ledger line of out, failing the test if there is none.
func (e *env) trade(out string) sandbox.Trade {
	e.t.Helper()
	for _, t := range e.s.Trades() {
		if t.OutTradeNo == out {
			return t
		}
	}
	e.t.Fatalf("no trade %s in the ledger", out)
	return sandbox.Trade{}
}

// want checks a call's result kind and sub_code ("" for none).
func want(tb testing.TB, err error, kind gateway.Kind, sub string) {
	tb.Helper()
	if got := gateway.KindOf(err); got != kind {
		tb.Fatalf("kind = %v, want %v (err: %v)", got, kind, err)
	}
	if got := gateway.SubCodeOf(err); got != sub {
		tb.Fatalf("sub_code = %q, want %q (err: %v)", got, sub, err)
	}
}

// gwCode is the gateway's "code" carried by err.
func gwCode(err error) string {
	var e *gateway.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestKeysGeneratedOnceAndReloaded(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	s1, err := sandbox.New(sandbox.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p := s1.KeyPaths()
	for _, f := range []struct {
		path, name, block string
		mode              os.FileMode
	}{
		{p.AppPrivate, sandbox.AppPrivateFile, "PRIVATE KEY", 0o600},
		{p.AppPublic, sandbox.AppPublicFile, "PUBLIC KEY", 0o644},
		{p.AlipayPrivate, sandbox.AlipayPrivateFile, "PRIVATE KEY", 0o600},
		{p.AlipayPublic, sandbox.AlipayPublicFile, "PUBLIC KEY", 0o644},
	} {
		if f.path != filepath.Join(dir, f.name) {
			t.Errorf("path %q, want %q", f.path, filepath.Join(dir, f.name))
		}
		data, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), "-----BEGIN "+f.block+"-----\n") {
			t.Errorf("%s does not start with a %s PEM block", f.name, f.block)
		}
		if fi, _ := os.Stat(f.path); runtime.GOOS != "windows" && fi.Mode().Perm() != f.mode {
			t.Errorf("%s mode %v, want %v", f.name, fi.Mode().Perm(), f.mode)
		}
	}
	// The files are what the sandbox uses: a client built from them works.
	appPriv, err := gateway.LoadPrivateKeyFile(p.AppPrivate)
	if err != nil {
		t.Fatal(err)
	}
	alipayPub, err := gateway.LoadPublicKeyFile(p.AlipayPublic)
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	c := &gateway.Client{URL: s1.URL(), AppID: s1.AppID(), PrivateKey: appPriv, AlipayPublicKey: alipayPub}
	_, err = c.TradeQuery(context.Background(), gateway.TradeQueryRequest{OutTradeNo: "nope"})
	want(t, err, gateway.Failure, "ACQ.TRADE_NOT_EXIST")

	// A second sandbox on the same folder loads the same keys.
	s2, err := sandbox.New(sandbox.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	a1, g1 := s1.Keys()
	a2, g2 := s2.Keys()
	if !a1.Equal(a2) || !g1.Equal(g2) {
		t.Fatal("keys changed on reload")
	}
}

func TestKeysRefuseMismatchedOrOrphanedPublicKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := sandbox.New(sandbox.Config{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	// Swap the app public key for the gateway's: it no longer matches.
	alipayPub, err := os.ReadFile(filepath.Join(dir, sandbox.AlipayPublicFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, sandbox.AppPublicFile), alipayPub, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := sandbox.New(sandbox.Config{Dir: dir}); err == nil || !strings.Contains(err.Error(), "not the public half") {
		t.Fatalf("mismatched public key: err = %v", err)
	}
	// A public key whose private key is gone is never overwritten.
	if err := os.Remove(filepath.Join(dir, sandbox.AppPrivateFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := sandbox.New(sandbox.Config{Dir: dir}); err == nil || !strings.Contains(err.Error(), "does not") {
		t.Fatalf("orphaned public key: err = %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, sandbox.AppPublicFile))
	if string(got) != string(alipayPub) {
		t.Fatal("orphaned public key was overwritten")
	}
}

func TestInfoPrintsTheSixLines(t *testing.T) {
	e := mustStart(t)
	var b strings.Builder
	e.s.Info(&b)
	got := map[string]string{}
	var order []string
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ": ")
		if !ok {
			t.Fatalf("line %q is not key: value", sc.Text())
		}
		got[k] = v
		order = append(order, k)
	}
	p := e.s.KeyPaths()
	wantLines := []struct{ k, v string }{
		{"gateway", e.s.URL()},
		{"app_id", sandbox.DefaultAppID},
		{"pay_pid", sandbox.DefaultPayPID},
		{"app_private_key", p.AppPrivate},
		{"app_public_key", p.AppPublic},
		{"alipay_public_key", p.AlipayPublic},
	}
	for i, w := range wantLines {
		if i >= len(order) || order[i] != w.k {
			t.Fatalf("line %d is %v, want key %q first six in order:\n%s", i, order, w.k, b.String())
		}
		if got[w.k] != w.v {
			t.Errorf("%s: %q, want %q", w.k, got[w.k], w.v)
		}
	}
	if !strings.HasPrefix(got["gateway"], "http://127.0.0.1:") || !strings.HasSuffix(got["gateway"], "/gateway.do") {
		t.Errorf("gateway %q", got["gateway"])
	}
}

func TestStartOnAnyAddressGivesADialableURL(t *testing.T) {
	s, err := sandbox.New(sandbox.Config{Dir: keyDir})
	if err != nil {
		t.Fatal(err)
	}
	if s.URL() != "" {
		t.Fatalf("URL before Start = %q", s.URL())
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err == nil {
		t.Fatal("second Start succeeded")
	}
	u, err := url.Parse(s.URL())
	if err != nil || u.Hostname() != "127.0.0.1" || u.Port() == "0" || u.Path != "/gateway.do" {
		t.Fatalf("URL %q", s.URL())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := http.Get(s.URL()); err == nil {
		t.Fatal("still serving after Close")
	}
}

func TestInProcessClientNeedsNoSocket(t *testing.T) {
	clk := clock.NewFake(start)
	s, err := sandbox.New(sandbox.Config{Dir: keyDir, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Client()
	ctx := context.Background()
	code, out := newCode(), newNo("T")
	if _, err := c.TradePay(ctx, gateway.TradePayRequest{OutTradeNo: out, AuthCode: code, Subject: "x", TotalAmount: 100}); err != nil {
		t.Fatal(err)
	}
	q, err := c.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: out})
	if err != nil || q.TradeStatus != gateway.TradeSuccess {
		t.Fatalf("query: %+v, %v", q, err)
	}
	// A dropped reply is an unknown result, and the trade took effect.
	s.SetFaults(sandbox.Faults{DropAfterCommit: 1, Methods: []string{gateway.MethodTradeCancel}})
	_, err = c.TradeCancel(ctx, gateway.TradeCancelRequest{OutTradeNo: out})
	want(t, err, gateway.Unknown, "")
	if tr := s.Trades()[0]; !tr.Refunded || tr.Status != gateway.TradeClosed {
		t.Fatalf("after dropped cancel: %+v", tr)
	}
}

// appKeyOther is a key the sandbox does not know, for bad signatures.
var appKeyOther = func() func(tb testing.TB) *rsa.PrivateKey {
	var k *rsa.PrivateKey
	return func(tb testing.TB) *rsa.PrivateKey {
		tb.Helper()
		if k == nil {
			s, err := sandbox.New(sandbox.Config{}) // in-memory keys
			if err != nil {
				tb.Fatal(err)
			}
			k, _ = s.Keys()
		}
		return k
	}
}()

func readAll(tb testing.TB, r io.Reader) []byte {
	tb.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
