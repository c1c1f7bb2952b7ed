package checkout_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
)

// timingTransport adds the time spent inside HTTP round trips (the
// gateway's side: the sandbox's verify, handling and sign, plus loopback)
// to *spent.
type timingTransport struct {
	base  http.RoundTripper
	spent *atomic.Int64
}

func (t timingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	t.spent.Add(int64(time.Since(start)))
	return resp, err
}

// happyPathCommits is the number of bbolt commits from scan to paid: the
// decode intent, the pay intent and paid.
const happyPathCommits = 3

// BenchmarkCheckout measures one checkout from the scan handed in to the
// terminal state (paid), against the sandbox on loopback with no injected
// latency. It reports:
//
//	p50-ms, p99-ms          scan → paid, wall clock
//	gw-p50-ms               time inside gateway round trips (the sandbox)
//	agent-p50-ms, agent-p99-ms  scan → paid minus the gateway's time: the
//	                        agent's own overhead
//	floor-ms                2 RSA signs + 2 RSA verifies (the client's
//	                        share of a decode and a pay) + 3 bbolt commits
//	                        with fsync on the same disk, measured in the
//	                        same run
//	agent/floor             agent-p50-ms / floor-ms
func BenchmarkCheckout(b *testing.B) {
	sb := MustOpenSandbox(b, sandbox.Config{})
	dir := b.TempDir()
	env := MustOpenEngine(b, sb, filepath.Join(dir, "posagent.db"), checkout.Options{
		QueryInterval: time.Second, DecisionDeadline: 10 * time.Second,
	})
	var spent atomic.Int64
	env.GW.HTTPClient = &http.Client{Transport: timingTransport{base: http.DefaultTransport, spent: &spent}}
	ctx := context.Background()

	floor := newFloorMeter(b, sb, dir)
	var total, agent, gw []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := env.mustCreate(2500)
		code := NormalCode()
		spent.Store(0)
		b.StartTimer()
		start := time.Now()
		if _, err := env.E.Scan(ctx, code); err != nil {
			b.Fatal(err)
		}
		got, err := env.E.Wait(ctx, c.ID)
		d := time.Since(start)
		b.StopTimer()
		if err != nil || got.State != checkout.Paid {
			b.Fatalf("%+v %v", got, err)
		}
		g := time.Duration(spent.Load())
		total, gw, agent = append(total, d), append(gw, g), append(agent, d-g)
		floor.round()
		b.StartTimer()
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(pct(total, 50)), "p50-ms")
	b.ReportMetric(ms(pct(total, 99)), "p99-ms")
	b.ReportMetric(ms(pct(gw, 50)), "gw-p50-ms")
	b.ReportMetric(ms(pct(agent, 50)), "agent-p50-ms")
	b.ReportMetric(ms(pct(agent, 99)), "agent-p99-ms")
	b.ReportMetric(ms(pct(floor.rounds, 50)), "floor-ms")
	b.ReportMetric(ms(pct(floor.crypto, 50)), "floor-crypto-ms")
	b.ReportMetric(ms(pct(floor.commits, 50)), "floor-commits-ms")
	b.ReportMetric(float64(pct(agent, 50))/float64(pct(floor.rounds, 50)), "agent/floor")
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

// floorMeter measures the floor of one checkout: 2 request signatures
// with the app key (RSA-2048, RSA2), 2 reply verifications with a 2048-bit
// public key, and happyPathCommits bbolt commits (one checkout-sized Put
// each, with fsync) in its own database on the same disk. The benchmark
// runs one round after every checkout, so both see the same machine.
type floorMeter struct {
	b        *testing.B
	appPriv  *rsa.PrivateKey
	gwPub    *rsa.PublicKey
	content  []byte
	reply    []byte
	replySig string
	db       *bolt.DB
	val      []byte
	n        int

	rounds, crypto, commits []time.Duration
}

func newFloorMeter(b *testing.B, sb *sandbox.Sandbox, dir string) *floorMeter {
	b.Helper()
	appPriv, _ := sb.Keys()
	m := &floorMeter{
		b:       b,
		appPriv: appPriv,
		content: []byte(`app_id=2021000000000001&biz_content={"out_trade_no":"T01_20260301120000000_ABCDEFGHJK","scene":"bar_code","auth_code":"281234567890123456","subject":"test order","total_amount":"25.00"}&charset=utf-8&format=JSON&method=alipay.trade.pay&sign_type=RSA2&timestamp=2026-03-01 12:00:00&version=1.0`),
		reply:   []byte(`{"code":"10000","msg":"Success","trade_no":"2026030122001400001","out_trade_no":"T01_20260301120000000_ABCDEFGHJK","total_amount":"25.00"}`),
		val:     make([]byte, 600), // about one checkout record
	}
	gwKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	m.gwPub = &gwKey.PublicKey
	if m.replySig, err = gateway.Sign(m.reply, gwKey, gateway.RSA2); err != nil {
		b.Fatal(err)
	}
	if m.db, err = bolt.Open(filepath.Join(dir, "floor.db"), 0o600, nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.db.Close() })
	if err := m.db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists([]byte("f")); return err }); err != nil {
		b.Fatal(err)
	}
	return m
}

func (m *floorMeter) round() {
	start := time.Now()
	for j := 0; j < 2; j++ {
		if _, err := gateway.Sign(m.content, m.appPriv, gateway.RSA2); err != nil {
			m.b.Fatal(err)
		}
		if err := gateway.Verify(m.reply, m.replySig, m.gwPub, gateway.RSA2); err != nil {
			m.b.Fatal(err)
		}
	}
	mid := time.Now()
	for j := 0; j < happyPathCommits; j++ {
		m.n++
		err := m.db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("f")).Put([]byte{byte(m.n >> 8), byte(m.n)}, m.val)
		})
		if err != nil {
			m.b.Fatal(err)
		}
	}
	end := time.Now()
	m.rounds = append(m.rounds, end.Sub(start))
	m.crypto = append(m.crypto, mid.Sub(start))
	m.commits = append(m.commits, end.Sub(mid))
}
