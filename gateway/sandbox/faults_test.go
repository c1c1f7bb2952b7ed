package sandbox_test

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"posagent/gateway"
	"posagent/gateway/sandbox"
)

func TestFaultFail20000HasNoEffect(t *testing.T) {
	var logs bytes.Buffer
	log := zerolog.New(&logs).Level(zerolog.DebugLevel)
	e := mustStart(t, func(c *sandbox.Config) { c.Logger = &log })
	e.s.SetFaults(sandbox.Faults{Fail20000: 1, Methods: []string{gateway.MethodTradePay}})
	out, code := newNo("T"), newCode()
	_, err := e.pay(out, code, 100, "")
	want(t, err, gateway.Unknown, "isp.unknow-error")
	if gwCode(err) != "20000" {
		t.Fatalf("code %q", gwCode(err))
	}
	if !strings.Contains(logs.String(), `"fault":"fail_20000"`) || strings.Contains(logs.String(), code[2:len(code)-4]) {
		t.Fatalf("log lines:\n%s", logs.String())
	}
	// query is not in methods: it answers, and there is no trade.
	_, err = e.query(out)
	want(t, err, failure, "ACQ.TRADE_NOT_EXIST")
	if n := len(e.s.Trades()); n != 0 {
		t.Fatalf("%d trades after a 20000", n)
	}
}

func TestFaultDropAfterCommit(t *testing.T) {
	e := mustStart(t)
	e.s.SetFaults(sandbox.Faults{DropAfterCommit: 1, Methods: []string{gateway.MethodTradePay}})
	out, code := newNo("T"), newCode()
	_, err := e.pay(out, code, 100, "")
	want(t, err, gateway.Unknown, "")
	if gwCode(err) != "" || !gateway.IsUnreachable(err) {
		t.Fatalf("a dropped reply should look like a lost connection: %v", err)
	}
	// The pay was committed: the trade is there and paid, exactly once.
	q, err := e.query(out)
	if err != nil || q.TradeStatus != gateway.TradeSuccess {
		t.Fatalf("query after drop: %+v %v", q, err)
	}
	e.s.SetFaults(sandbox.Faults{})
	if _, err := e.pay(out, code, 100, ""); err != nil {
		t.Fatalf("repeat after drop: %v", err)
	}
	if n := len(e.s.Trades()); n != 1 {
		t.Fatalf("%d trades, want 1", n)
	}
}

func TestFaultBadSign(t *testing.T) {
	e := mustStart(t)
	out := newNo("T")
	if _, err := e.pay(out, newCode(), 100, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.query(out); err != nil { // cached now
		t.Fatal(err)
	}
	e.s.SetFaults(sandbox.Faults{BadSign: 1})
	_, err := e.query(out)
	want(t, err, gateway.Unknown, "")
	if !errors.Is(err, gateway.ErrBadSignature) {
		t.Fatalf("err = %v, want ErrBadSignature", err)
	}
	// The corruption never reaches the signature cache.
	e.s.SetFaults(sandbox.Faults{})
	if _, err := e.query(out); err != nil {
		t.Fatalf("after bad_sign: %v", err)
	}
}

func TestFaultLatencyAndMethodFilter(t *testing.T) {
	e := mustStart(t)
	const lat = 150 * time.Millisecond
	e.s.SetFaults(sandbox.Faults{Latency: lat, Methods: []string{gateway.MethodTradePay}})
	t0 := time.Now()
	if _, err := e.pay(newNo("T"), newCode(), 100, ""); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < lat {
		t.Fatalf("pay took %v, latency %v", d, lat)
	}
	t0 = time.Now()
	_, err := e.query("x")
	want(t, err, failure, "ACQ.TRADE_NOT_EXIST")
	if d := time.Since(t0); d >= lat {
		t.Fatalf("query (not in methods) took %v", d)
	}
	// A caller that gives up during the latency leaves nothing behind.
	e.c.Timeout = lat / 3
	out := newNo("T")
	_, err = e.pay(out, newCode(), 100, "")
	want(t, err, gateway.Unknown, "")
	time.Sleep(lat)
	for _, tr := range e.s.Trades() {
		if tr.OutTradeNo == out {
			t.Fatal("a call abandoned during the latency took effect")
		}
	}
}

func TestFaultsAreSeeded(t *testing.T) {
	e := mustStart(t)
	pattern := func() string {
		e.s.SetFaults(sandbox.Faults{Fail20000: 0.5, Seed: 42})
		var b strings.Builder
		for range 24 {
			_, err := e.query("x")
			if gwCode(err) == "20000" {
				b.WriteByte('F')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	p1, p2 := pattern(), pattern()
	if p1 != p2 {
		t.Fatalf("same seed, different faults:\n%s\n%s", p1, p2)
	}
	if !strings.Contains(p1, "F") || !strings.Contains(p1, ".") {
		t.Fatalf("p=0.5 over 24 calls gave %s", p1)
	}
}

func TestFaultsEndpoint(t *testing.T) {
	e := mustStart(t)
	base := strings.TrimSuffix(e.s.URL(), "/gateway.do") + "/sandbox/faults"
	post := func(body string) (int, string) {
		t.Helper()
		resp, err := http.Post(base, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, string(readAll(t, resp.Body))
	}
	status, body := post(`{"latency":"300ms","drop_after_commit":0.2,"fail_20000":0.1,"bad_sign":0,"methods":["alipay.trade.pay"]}`)
	if status != 200 {
		t.Fatalf("%d %s", status, body)
	}
	wantF := sandbox.Faults{Latency: 300 * time.Millisecond, DropAfterCommit: 0.2, Fail20000: 0.1, Methods: []string{gateway.MethodTradePay}}
	if got := e.s.Faults(); !reflect.DeepEqual(got, wantF) {
		t.Fatalf("faults %+v, want %+v", got, wantF)
	}
	resp, err := http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sandbox.ParseFaults(readAll(t, resp.Body))
	resp.Body.Close()
	if err != nil || !reflect.DeepEqual(got, wantF) {
		t.Fatalf("GET: %+v %v", got, err)
	}
	for _, bad := range []string{
		`{"fail_20000":2}`,
		`{"bad_sign":-0.1}`,
		`{"latency":"soon"}`,
		`{"latency":"-1s"}`,
		`{"latency":"1h"}`,
		`{"methods":["alipay.trade.close"]}`,
		`{"drop_after_comit":0.5}`,
		`not json`,
	} {
		if status, body := post(bad); status != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: %d %s", bad, status, body)
		}
	}
	if got := e.s.Faults(); !reflect.DeepEqual(got, wantF) {
		t.Fatalf("a refused POST changed the faults: %+v", got)
	}
	// An empty object switches everything off.
	if status, _ := post(`{}`); status != 200 || e.s.Faults().Active() {
		t.Fatalf("reset: %d %+v", status, e.s.Faults())
	}
}

func TestFaultFlags(t *testing.T) {
	var f sandbox.Faults
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.RegisterFlags(fs)
	err := fs.Parse([]string{"--latency", "250ms", "--drop-after-commit", "0.2", "--fail-20000", "0.1", "--bad-sign", "0.05",
		"--fault-methods", "alipay.trade.pay, alipay.trade.query", "--fault-seed", "7"})
	if err != nil {
		t.Fatal(err)
	}
	wantF := sandbox.Faults{Latency: 250 * time.Millisecond, DropAfterCommit: 0.2, Fail20000: 0.1, BadSign: 0.05,
		Methods: []string{gateway.MethodTradePay, gateway.MethodTradeQuery}, Seed: 7}
	if !reflect.DeepEqual(f, wantF) {
		t.Fatalf("%+v, want %+v", f, wantF)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	f.Methods = []string{"alipay.trade.pya"}
	if err := f.Validate(); !errors.Is(err, sandbox.ErrBadFaults) {
		t.Fatalf("typo in methods: %v", err)
	}
	if _, err := sandbox.New(sandbox.Config{Dir: keyDir, Faults: sandbox.Faults{BadSign: 1.5}}); !errors.Is(err, sandbox.ErrBadFaults) {
		t.Fatalf("New with bad faults: %v", err)
	}
}
