package sandbox

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"posagent/gateway"
)

// BenchmarkHandler is the sandbox's own cost of a call: parse, verify the
// request, handle, and the (cached) signed reply, with no network.
func BenchmarkHandler(b *testing.B) {
	s, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	c := s.Client()
	now := time.Now()
	c.Now = func() time.Time { return now }
	params, err := c.Params(gateway.MethodTradeQuery, []byte(`{"out_trade_no":"T_1"}`))
	if err != nil {
		b.Fatal(err)
	}
	body := params.Encode()
	h := s.Handler()
	b.ReportAllocs()
	for b.Loop() {
		r, _ := http.NewRequest(http.MethodPost, "http://x/gateway.do", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
		w := &bufferedWriter{header: make(http.Header)}
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatal(w.status)
		}
	}
}

func BenchmarkVerifyOnly(b *testing.B) {
	s, _ := New(Config{})
	content := []byte(strings.Repeat("x", 200))
	sig, _ := gateway.Sign(content, s.keys.app, gateway.RSA2)
	for b.Loop() {
		gateway.Verify(content, sig, &s.keys.app.PublicKey, gateway.RSA2)
	}
}
