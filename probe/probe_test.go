package probe_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"posagent/clock"
	"posagent/gateway"
	"posagent/probe"
)

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

var errDown = errors.New("dial tcp 127.0.0.1:9: connection refused")

func TestProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(t0)
		var down atomic.Bool
		var checks atomic.Int32
		p, err := probe.New(probe.Options{Name: "gateway", Clock: clk, Check: func(context.Context) error {
			checks.Add(1)
			if down.Load() {
				return errDown
			}
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		synctest.Wait()
		if !p.Online() || checks.Load() != 0 {
			t.Fatalf("at start: online %v, %d checks; want online and no check", p.Online(), checks.Load())
		}

		// A real call finds it unreachable: offline, checked at once.
		down.Store(true)
		changed := p.Changed()
		p.Unreachable(errors.New("trade.cancel: connection refused"))
		synctest.Wait()
		select {
		case <-changed:
		default:
			t.Fatal("Changed not closed on going offline")
		}
		st := p.Status()
		if st.Online || !st.Since.Equal(t0) || st.LastError != errDown.Error() || checks.Load() != 1 || st.Name != "gateway" {
			t.Fatalf("offline: %+v, %d checks", st, checks.Load())
		}
		// More reports while offline change nothing but the error.
		changed = p.Changed()
		p.Unreachable(errors.New("again"))
		synctest.Wait()
		select {
		case <-changed:
			t.Fatal("Changed closed without a change")
		default:
		}
		// Then a check every interval (default 5 s).
		for i := 2; i <= 5; i++ {
			clk.Advance(probe.DefaultInterval - time.Millisecond)
			synctest.Wait()
			if checks.Load() != int32(i-1) {
				t.Fatalf("check %d early", i)
			}
			clk.Advance(time.Millisecond)
			synctest.Wait()
			if checks.Load() != int32(i) {
				t.Fatalf("%d checks after %d intervals", checks.Load(), i-1)
			}
		}
		// Back: the next check gets an answer.
		down.Store(false)
		changed = p.Changed()
		clk.Advance(probe.DefaultInterval)
		synctest.Wait()
		select {
		case <-changed:
		default:
			t.Fatal("Changed not closed on coming back")
		}
		if st := p.Status(); !st.Online || st.LastError != "" || !st.Since.Equal(clk.Now()) {
			t.Fatalf("back: %+v", st)
		}
		n := checks.Load()
		clk.Advance(time.Hour)
		synctest.Wait()
		if checks.Load() != n {
			t.Fatal("checked while online")
		}

		// Reachable (a real call got an answer) ends an outage too.
		down.Store(true)
		p.Unreachable(errDown)
		synctest.Wait()
		p.Reachable()
		if !p.Online() {
			t.Fatal("Reachable did not bring it online")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestNewOptions(t *testing.T) {
	check := func(context.Context) error { return nil }
	for _, o := range []probe.Options{
		{},
		{Check: check, Interval: 11 * time.Second},
		{Check: check, Interval: -time.Second},
	} {
		if _, err := probe.New(o); err == nil {
			t.Errorf("New(%+v): no error", o)
		}
	}
	p, err := probe.New(probe.Options{Check: check, Interval: probe.MaxInterval})
	if err != nil || p.Interval() != probe.MaxInterval || p.Name() != "remote" {
		t.Fatalf("New = %v, %v", p, err)
	}
}

func TestHTTPCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			t.Errorf("method %s", r.Method)
		}
		http.Error(w, "no", http.StatusMethodNotAllowed) // an answer all the same
	}))
	check := probe.HTTPCheck(srv.URL+"/redemptions", srv.Client())
	if err := check(context.Background()); err != nil {
		t.Fatalf("answered with 405: %v", err)
	}
	srv.Close()
	if err := check(context.Background()); err == nil {
		t.Fatal("closed server: no error")
	}
}

type fakeQuerier struct{ err error }

func (f fakeQuerier) TradeQuery(_ context.Context, req gateway.TradeQueryRequest) (*gateway.TradeQueryResponse, error) {
	if req.OutTradeNo != probe.CheckTradeNo {
		return nil, errors.New("unexpected out_trade_no " + req.OutTradeNo)
	}
	return &gateway.TradeQueryResponse{}, f.err
}

func TestGatewayCheck(t *testing.T) {
	m := gateway.MethodTradeQuery
	for _, c := range []struct {
		err     error
		offline bool
	}{
		{nil, false},
		{&gateway.Error{Method: m, Kind: gateway.Failure, Code: "40004", SubCode: "ACQ.TRADE_NOT_EXIST"}, false},
		{&gateway.Error{Method: m, Kind: gateway.Rejected, Code: "40006"}, false},
		{&gateway.Error{Method: m, Kind: gateway.Unknown, Code: "20000"}, false},
		{&gateway.Error{Method: m, Kind: gateway.Unknown, Err: &net.OpError{Op: "dial", Net: "tcp", Err: errDown}}, true},
	} {
		err := probe.GatewayCheck(fakeQuerier{c.err})(context.Background())
		if (err != nil) != c.offline {
			t.Errorf("answer %v: check = %v, want offline %v", c.err, err, c.offline)
		}
	}
}
