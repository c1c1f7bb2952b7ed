package sandbox_test

import (
	"context"
	"crypto/rsa"
	"testing"
	"time"

	"posagent/gateway"
	"posagent/gateway/sandbox"
)

// BenchmarkRoundTrip compares a client call over loopback (sign the request,
// the sandbox verifies it and signs its reply, the client verifies the
// reply) with the floor of one RSA-2048 sign and one verify. Repeated
// queries of one trade give identical replies, whose signature comes from
// the sandbox's cache; "uncached" switches the cache off. The x_floor metric
// is the round trip's time divided by the floor's, both timed in the same
// loop, one after the other, so that load from elsewhere on the machine
// weighs on both alike. "in-process" calls the handler with no socket,
// which leaves out the loopback and the scheduling of two goroutines.
func BenchmarkRoundTrip(b *testing.B) {
	appPriv, _ := newBenchKeys(b)
	content := []byte(`app_id=2021000000000001&biz_content={"out_trade_no":"T_1"}&charset=utf-8&format=JSON&method=alipay.trade.query&sign_type=RSA2&timestamp=2025-03-01 10:00:00&version=1.0`)
	floorOp := func() {
		sig, err := gateway.Sign(content, appPriv, gateway.RSA2)
		if err != nil {
			b.Fatal(err)
		}
		if err := gateway.Verify(content, sig, &appPriv.PublicKey, gateway.RSA2); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("floor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			floorOp()
		}
	})
	for _, bc := range []struct {
		name      string
		cache     int
		inProcess bool
	}{{"query", 0, false}, {"query-uncached", -1, false}, {"query-in-process", 0, true}} {
		b.Run(bc.name, func(b *testing.B) {
			e := mustStart(b, func(c *sandbox.Config) { c.Now = time.Now; c.ReplyCacheSize = bc.cache })
			e.c.Now = time.Now
			if bc.inProcess {
				e.s.Close()
				s, err := sandbox.New(sandbox.Config{Dir: keyDir})
				if err != nil {
					b.Fatal(err)
				}
				e.s, e.c = s, s.Client()
			}
			out := newNo("T")
			if _, err := e.pay(out, newCode(), 100, ""); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			var rt, floor time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				t0 := time.Now()
				floorOp()
				floor += time.Since(t0)
				b.StartTimer()
				t0 = time.Now()
				if _, err := e.c.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: out}); err != nil {
					b.Fatal(err)
				}
				rt += time.Since(t0)
			}
			b.ReportMetric(float64(rt)/float64(floor), "x_floor")
		})
	}
}

func newBenchKeys(b *testing.B) (*rsa.PrivateKey, *rsa.PublicKey) {
	s, err := sandbox.New(sandbox.Config{Dir: keyDir})
	if err != nil {
		b.Fatal(err)
	}
	return s.Keys()
}
