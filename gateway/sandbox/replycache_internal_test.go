package sandbox

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"testing"

	"posagent/gateway"
)

func TestReplyCacheIsBounded(t *testing.T) {
	c := newReplyCache(3)
	key := func(i int) [sha256.Size]byte { return sha256.Sum256([]byte{byte(i)}) }
	for i := range 5 {
		c.put(key(i), []byte{byte(i)})
	}
	if c.len() != 3 {
		t.Fatalf("%d entries, want 3", c.len())
	}
	for i := range 5 {
		b, ok := c.get(key(i))
		if ok != (i >= 2) || (ok && b[0] != byte(i)) {
			t.Errorf("entry %d: %v %v", i, b, ok)
		}
	}
	var off *replyCache = newReplyCache(-1)
	off.put(key(1), []byte{1})
	if _, ok := off.get(key(1)); ok || off.len() != 0 {
		t.Fatal("a disabled cache cached")
	}
}

func TestIdenticalRepliesAreSignedOnce(t *testing.T) {
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	req := &request{signType: gateway.RSA2}
	v := gateway.TradeQueryResponse{Common: success, TradeNo: "1", OutTradeNo: "T1", TradeStatus: statusSuccess}
	b1, err := s.encodeReply(req, gateway.ResponseKey(gateway.MethodTradeQuery), v)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := s.encodeReply(req, gateway.ResponseKey(gateway.MethodTradeQuery), v)
	if s.replies.len() != 1 || &b1[0] != &b2[0] {
		t.Fatalf("identical replies signed twice (cache has %d)", s.replies.len())
	}
	// Another sign type, key or body is another entry.
	s.encodeReply(&request{signType: gateway.RSA}, gateway.ResponseKey(gateway.MethodTradeQuery), v)
	s.encodeReply(req, gateway.ResponseKey(gateway.MethodTradePay), v)
	v.TradeStatus = statusClosed
	s.encodeReply(req, gateway.ResponseKey(gateway.MethodTradeQuery), v)
	if s.replies.len() != 4 {
		t.Fatalf("cache has %d entries, want 4", s.replies.len())
	}
	// Every cached body verifies under its own sign type.
	r, err := gateway.ParseReply(b1, gateway.MethodTradeQuery)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Verify(&s.keys.alipay.PublicKey, gateway.RSA2); err != nil {
		t.Fatal(err)
	}
	bad := corruptSign(b1)
	r, _ = gateway.ParseReply(bad, gateway.MethodTradeQuery)
	if err := r.Verify(&s.keys.alipay.PublicKey, gateway.RSA2); err == nil || len(bad) != len(b1) {
		t.Fatal("corruptSign left a valid signature")
	}
	if string(b2) == string(bad) {
		t.Fatal("corruptSign changed the cached body")
	}
}

func TestParseFormKeepsTheFirstValue(t *testing.T) {
	p := map[string]string{}
	if !parseForm(p, "a=1&b=%E6%B5%8B+x&a=2&&c") || p["a"] != "1" || p["b"] != "测 x" || p["c"] != "" {
		t.Fatalf("%v", p)
	}
	if parseForm(p, "d=%zz") {
		t.Fatal("bad escape accepted")
	}
	r, _ := http.NewRequest(http.MethodPost, "http://x/gateway.do?method=q&charset=utf-8", strings.NewReader("method=body&biz_content=%7B%7D"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	got, ok := readParams(r)
	if !ok || got["method"] != "q" || got["biz_content"] != "{}" {
		t.Fatalf("%v %v", got, ok)
	}
	r, _ = http.NewRequest(http.MethodPost, "http://x/gateway.do", strings.NewReader(strings.Repeat("a", maxBodyBytes+1)))
	if _, ok := readParams(r); ok {
		t.Fatal("oversized body accepted")
	}
}

func TestTestCodeOf(t *testing.T) {
	for code, want := range map[string]testCode{
		"289999999901234567":       {sc: scWaitThenPaid, n: 2},
		"2899999999123000":         {sc: scFrozen, n: 3},
		"289999999917912345678901": {sc: scPayUnknownNotFound, n: 9},
		"289999999918212345":       {sc: scRefundBalance, n: 2},
		"289999999999012345":       {}, // unlisted
		"289999999801234567":       {}, // not the marker
		"281234567890123456":       {},
		"2899999999":               {},
	} {
		if got := testCodeOf(code); got != want {
			t.Errorf("%s: %+v, want %+v", code, got, want)
		}
	}
}
