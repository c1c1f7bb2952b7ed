package gateway_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"posagent/gateway"
	"posagent/gateway/sandbox"
)

// BenchmarkGatewayCall measures one client call (build, sign, send, verify,
// decode) against the sandbox, next to the floor measured in the same run:
// one RSA-2048 sign plus one verify, which every call must pay. The
// "x_floor" metric is the ratio; the target is ≤ 1.15 for posagent's own
// work: the inproc/ cases, where the client's HTTP stack hands the request
// to the sandbox's handler without a socket. The loopback cases add a real
// TCP round trip over 127.0.0.1 (kernel and scheduler time that a real
// gateway's network round trip dwarfs), reported beside them.
//
// The cert/ cases do the same in certificate mode.
//
//	go test -run x -bench BenchmarkGatewayCall -benchmem -count 5 ./gateway/
func BenchmarkGatewayCall(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	content := []byte(`app_id=2021000000000001&biz_content={"out_trade_no":"T01_1"}&charset=utf-8&format=JSON&method=alipay.trade.query&sign_type=RSA2&timestamp=2026-01-01 12:00:00&version=1.0`)
	floorOnce := func() {
		sig, err := gateway.Sign(content, key, gateway.RSA2)
		if err != nil {
			b.Fatal(err)
		}
		if err := gateway.Verify(content, sig, &key.PublicKey, gateway.RSA2); err != nil {
			b.Fatal(err)
		}
	}
	measureFloor := func(n int) time.Duration {
		start := time.Now()
		for range n {
			floorOnce()
		}
		return time.Since(start) / time.Duration(n)
	}

	b.Run("floor", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			floorOnce()
		}
	})

	for _, mode := range []struct {
		prefix   string
		cert     bool
		loopback bool
	}{{"inproc/", false, false}, {"inproc/cert/", true, false}, {"", false, true}, {"cert/", true, true}} {
		benchmarkGatewayCalls(b, mode.prefix, mode.cert, mode.loopback, measureFloor)
	}
}

// benchmarkGatewayCalls runs the calls against a sandbox in public key or
// certificate mode (each reply then carries alipay_cert_sn, checked
// against the SNs computed once at the client's start).
func benchmarkGatewayCalls(b *testing.B, prefix string, cert, loopback bool, measureFloor func(int) time.Duration) {
	sb, err := sandbox.New(sandbox.Config{CertMode: cert})
	if err != nil {
		b.Fatal(err)
	}
	if loopback {
		if err := sb.Start("127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
	}
	defer sb.Close()
	c := sb.Client()
	ctx := context.Background()
	pay := gateway.TradePayRequest{OutTradeNo: "BENCH_1", AuthCode: "286861260475412123", Subject: "bench", TotalAmount: 100}
	if _, err := c.TradePay(ctx, pay); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"trade.query", func() error {
			_, err := c.TradeQuery(ctx, gateway.TradeQueryRequest{OutTradeNo: "BENCH_1"})
			return err
		}},
		{"trade.pay/idempotent", func() error {
			_, err := c.TradePay(ctx, pay)
			return err
		}},
	} {
		b.Run(prefix+tc.name, func(b *testing.B) {
			floor := measureFloor(50)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for b.Loop() {
				if err := tc.call(); err != nil {
					b.Fatal(err)
				}
			}
			per := time.Since(start) / time.Duration(b.N)
			b.StopTimer()
			floor = (floor + measureFloor(50)) / 2
			b.ReportMetric(float64(floor.Nanoseconds()), "floor-ns")
			b.ReportMetric(float64(per)/float64(floor), "x_floor")
		})
	}
}
