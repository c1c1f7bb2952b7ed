package outage_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"time"

	"posagent/clock"
)

// call is one HTTP request a client sent over a link, as the client saw
// it.
type call struct {
	At     time.Time // fake clock when it was sent
	End    time.Time // when it returned (zero while under way)
	Method string    // gateway method, or "coupon_report"
	Key    string    // out_trade_no, out_biz_no or Idempotency-Key
	Err    error     // transport error: no answer
}

// callLog is an http.RoundTripper that records every request when it is
// sent, and its outcome when it returns.
type callLog struct {
	clk      *clock.Fake
	next     http.RoundTripper
	describe func(r *http.Request, body []byte) (method, key string)

	mu    sync.Mutex
	calls []*call
}

func (l *callLog) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			body, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	c := &call{At: l.clk.Now()}
	c.Method, c.Key = l.describe(req, body)
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
	resp, err := l.next.RoundTrip(req)
	l.mu.Lock()
	c.End, c.Err = l.clk.Now(), err
	l.mu.Unlock()
	return resp, err
}

// since returns the calls sent from index i on, as they are now, and the
// next index.
func (l *callLog) since(i int) ([]call, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]call, 0, len(l.calls)-i)
	for _, c := range l.calls[i:] {
		out = append(out, *c)
	}
	return out, len(l.calls)
}

// get returns call i as it is now.
func (l *callLog) get(i int) call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return *l.calls[i]
}

// gatewayCall reads the method and the idempotency key of a gateway
// request from its query string and form body.
func gatewayCall(rawQuery string, body []byte) (method, key string) {
	p, _ := url.ParseQuery(rawQuery)
	if f, err := url.ParseQuery(string(body)); err == nil {
		for k, v := range f {
			p[k] = append(p[k], v...)
		}
	}
	var biz struct {
		OutTradeNo string `json:"out_trade_no"`
		OutBizNo   string `json:"out_biz_no"`
	}
	_ = json.Unmarshal([]byte(p.Get("biz_content")), &biz)
	key = biz.OutTradeNo
	if key == "" {
		key = biz.OutBizNo
	}
	return p.Get("method"), key
}

// hold keeps the reply of one call from leaving until the link goes down:
// the remote acts (applyFirst) or not, and the caller never hears.
type hold struct {
	method, key string // key "" matches any
	applyFirst  bool
}

// holds is a set of one-shot holds.
type holds struct {
	mu   sync.Mutex
	list []hold
}

func (h *holds) add(x hold) {
	h.mu.Lock()
	h.list = append(h.list, x)
	h.mu.Unlock()
}

// take removes and returns the hold matching method and key.
func (h *holds) take(method, key string) (hold, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, x := range h.list {
		if x.method == method && (x.key == "" || x.key == key) {
			h.list = append(h.list[:i], h.list[i+1:]...)
			return x, true
		}
	}
	return hold{}, false
}

// gatewayFront is the gateway end of its link: the sandbox's handler, with
// holds, and a count of the calls that reached it per method and key.
type gatewayFront struct {
	sandbox http.Handler
	link    *link
	holds   holds

	mu      sync.Mutex
	handled map[string]int // method NUL key → calls that reached the gateway
}

func (f *gatewayFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the connection went away
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	method, key := gatewayCall(r.URL.RawQuery, body)
	f.mu.Lock()
	f.handled[method+"\x00"+key]++
	f.mu.Unlock()
	if h, ok := f.holds.take(method, key); ok {
		if h.applyFirst {
			f.sandbox.ServeHTTP(httptest.NewRecorder(), r)
		}
		f.link.waitCut()
		return
	}
	f.sandbox.ServeHTTP(w, r)
}

func (f *gatewayFront) count(method, key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.handled[method+"\x00"+key]
}

// reportBackend is the merchant backend of [coupons] report_url: it
// applies each report once per Idempotency-Key, as a backend must, and
// counts what it received.
type reportBackend struct {
	link  *link
	holds holds // method "coupon_report", key = coupon_id

	mu       sync.Mutex
	received map[string]int // Idempotency-Key → requests
	applied  []string       // keys, in the order first applied
}

func (b *reportBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	body, err := io.ReadAll(r.Body)
	var rep struct {
		CouponID   string `json:"coupon_id"`
		OutTradeNo string `json:"out_trade_no"`
	}
	if err != nil || key == "" || json.Unmarshal(body, &rep) != nil || rep.CouponID == "" {
		http.Error(w, `{"error":"bad report"}`, http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	b.received[key]++
	b.mu.Unlock()
	h, held := b.holds.take("coupon_report", rep.CouponID)
	if held && !h.applyFirst {
		b.link.waitCut() // lost on the way: never applied
		return
	}
	b.apply(key)
	if held {
		b.link.waitCut() // applied; the reply is lost
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"ok":true,"key":%q}`+"\n", key)
}

func (b *reportBackend) apply(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, k := range b.applied {
		if k == key {
			return
		}
	}
	b.applied = append(b.applied, key)
}

func (b *reportBackend) snapshot() (received map[string]int, applied []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	received = make(map[string]int, len(b.received))
	for k, v := range b.received {
		received[k] = v
	}
	return received, append([]string(nil), b.applied...)
}
