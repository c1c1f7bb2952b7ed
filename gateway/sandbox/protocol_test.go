package sandbox_test

import (
	"bytes"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"posagent/gateway"
)

// rawCall is a hand-built gateway request, for what the typed client will
// not send.
type rawCall struct {
	method  string
	biz     string            // biz_content as sent (already in the charset)
	params  map[string]string // overrides of the common parameters; "" deletes one
	key     *rsa.PrivateKey   // signing key; default the app key
	tamper  map[string]string // changed after signing
	split   bool              // common parameters in the URL, biz_content in the body
	get     bool              // everything in the query string of a GET
	noCType bool              // POST without a Content-Type
}

// rawReply is a verified reply.
type rawReply struct {
	key    string
	raw    []byte
	common gateway.Common
}

// do sends c and returns the reply, failing the test unless the reply is
// HTTP 200 and its signature verifies over the exact bytes sent.
func (e *env) do(c rawCall) rawReply {
	e.t.Helper()
	appPriv, _ := e.s.Keys()
	key := c.key
	if key == nil {
		key = appPriv
	}
	p := map[string]string{
		"app_id":      e.s.AppID(),
		"method":      c.method,
		"format":      "JSON",
		"charset":     "utf-8",
		"sign_type":   "RSA2",
		"timestamp":   e.clk.Now().In(gateway.Shanghai).Format(gateway.TimestampLayout),
		"version":     "1.0",
		"biz_content": c.biz,
	}
	for k, v := range c.params {
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
	}
	st := gateway.SignType(p["sign_type"])
	if st != gateway.RSA {
		st = gateway.RSA2
	}
	if _, ok := c.params["sign"]; !ok {
		sig, err := gateway.Sign([]byte(gateway.SignContent(p)), key, st)
		if err != nil {
			e.t.Fatal(err)
		}
		p["sign"] = sig
	}
	for k, v := range c.tamper {
		p[k] = v
	}
	query, body := url.Values{}, url.Values{}
	for k, v := range p {
		switch {
		case c.get, c.split && k != "biz_content":
			query.Set(k, v)
		default:
			body.Set(k, v)
		}
	}
	u := e.s.URL()
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var req *http.Request
	var err error
	if c.get {
		req, err = http.NewRequest(http.MethodGet, u, nil)
	} else {
		req, err = http.NewRequest(http.MethodPost, u, strings.NewReader(body.Encode()))
		if !c.noCType {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset="+p["charset"])
		}
	}
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data := readAll(e.t, resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("HTTP %s: %s", resp.Status, data)
	}
	method := c.method
	if method == "" {
		method = "none"
	}
	r, err := gateway.ParseReply(data, method)
	if err != nil {
		e.t.Fatalf("reply %s: %v", data, err)
	}
	_, alipayPub := e.s.Keys()
	if err := r.Verify(alipayPub, st); err != nil {
		e.t.Fatalf("reply signature: %v\n%s", err, data)
	}
	var common gateway.Common
	if err := json.Unmarshal(r.Raw, &common); err != nil {
		e.t.Fatalf("reply member: %v", err)
	}
	return rawReply{key: r.Key, raw: r.Raw, common: common}
}

func TestProtocolErrors(t *testing.T) {
	e := mustStart(t)
	query := gateway.MethodTradeQuery
	biz := `{"out_trade_no":"nope"}`
	ts := func(d time.Duration) string {
		return start.Add(d).In(gateway.Shanghai).Format(gateway.TimestampLayout)
	}
	for _, tc := range []struct {
		name      string
		call      rawCall
		key       string // response member; default the method's
		code, sub string
	}{
		{name: "valid", call: rawCall{method: query, biz: biz}, code: "40004", sub: "ACQ.TRADE_NOT_EXIST"},
		{name: "missing sign", call: rawCall{method: query, biz: biz, params: map[string]string{"sign": ""}}, code: "40001", sub: "isv.missing-signature"},
		{name: "sign by another key", call: rawCall{method: query, biz: biz, key: appKeyOther(t)}, code: "40002", sub: "isv.invalid-signature"},
		{name: "sign not base64", call: rawCall{method: query, biz: biz, params: map[string]string{"sign": "%%%"}}, code: "40002", sub: "isv.invalid-signature"},
		{name: "biz_content changed after signing", call: rawCall{method: query, biz: biz, tamper: map[string]string{"biz_content": `{"out_trade_no":"other"}`}}, code: "40002", sub: "isv.invalid-signature"},
		{name: "unknown method", call: rawCall{method: "alipay.trade.nonexistent", biz: biz}, key: gateway.ErrorResponseKey, code: "40002", sub: "isv.invalid-method"},
		{name: "missing method", call: rawCall{biz: biz, params: map[string]string{"method": ""}}, key: gateway.ErrorResponseKey, code: "40001", sub: "isv.missing-method"},
		{name: "missing app_id", call: rawCall{method: query, biz: biz, params: map[string]string{"app_id": ""}}, code: "40001", sub: "isv.missing-app-id"},
		{name: "wrong app_id", call: rawCall{method: query, biz: biz, params: map[string]string{"app_id": "2021000000009999"}}, code: "40002", sub: "isv.invalid-app-id"},
		{name: "missing timestamp", call: rawCall{method: query, biz: biz, params: map[string]string{"timestamp": ""}}, code: "40001", sub: "isv.missing-timestamp"},
		{name: "timestamp 16 min ahead", call: rawCall{method: query, biz: biz, params: map[string]string{"timestamp": ts(16 * time.Minute)}}, code: "40002", sub: "isv.invalid-timestamp"},
		{name: "timestamp 16 min behind", call: rawCall{method: query, biz: biz, params: map[string]string{"timestamp": ts(-16 * time.Minute)}}, code: "40002", sub: "isv.invalid-timestamp"},
		{name: "timestamp 14 min behind", call: rawCall{method: query, biz: biz, params: map[string]string{"timestamp": ts(-14 * time.Minute)}}, code: "40004", sub: "ACQ.TRADE_NOT_EXIST"},
		{name: "timestamp in UTC", call: rawCall{method: query, biz: biz, params: map[string]string{"timestamp": start.UTC().Format(gateway.TimestampLayout)}}, code: "40002", sub: "isv.invalid-timestamp"},
		{name: "timestamp not a time", call: rawCall{method: query, biz: biz, params: map[string]string{"timestamp": "2025/03/01 10:00"}}, code: "40002", sub: "isv.invalid-timestamp"},
		{name: "missing sign_type", call: rawCall{method: query, biz: biz, params: map[string]string{"sign_type": ""}}, code: "40001", sub: "isv.missing-signature-type"},
		{name: "unknown sign_type", call: rawCall{method: query, biz: biz, params: map[string]string{"sign_type": "MD5"}}, code: "40002", sub: "isv.invalid-signature-type"},
		{name: "RSA (SHA1) sign_type", call: rawCall{method: query, biz: biz, params: map[string]string{"sign_type": "RSA"}}, code: "40004", sub: "ACQ.TRADE_NOT_EXIST"},
		{name: "format XML", call: rawCall{method: query, biz: biz, params: map[string]string{"format": "XML"}}, code: "40002", sub: "isv.invalid-format"},
		{name: "no format (Node SDK)", call: rawCall{method: query, biz: biz, params: map[string]string{"format": ""}}, code: "40004", sub: "ACQ.TRADE_NOT_EXIST"},
		{name: "unknown charset", call: rawCall{method: query, biz: biz, params: map[string]string{"charset": "latin1"}}, code: "40002", sub: "isv.invalid-charset"},
		{name: "missing version", call: rawCall{method: query, biz: biz, params: map[string]string{"version": ""}}, code: "40001", sub: "isv.missing-version"},
		{name: "biz_content not JSON", call: rawCall{method: query, biz: `{"out_trade_no":`}, code: "40002", sub: "isv.invalid-parameter"},
		{name: "biz_content an array", call: rawCall{method: query, biz: `["x"]`}, code: "40002", sub: "isv.invalid-parameter"},
		{name: "missing biz_content", call: rawCall{method: query}, code: "40004", sub: "ACQ.INVALID_PARAMETER"},
		{name: "params split URL/body (Java SDK)", call: rawCall{method: query, biz: biz, split: true}, code: "40004", sub: "ACQ.TRADE_NOT_EXIST"},
		{name: "all params in a GET query", call: rawCall{method: query, biz: biz, get: true}, code: "40004", sub: "ACQ.TRADE_NOT_EXIST"},
		{name: "POST without Content-Type", call: rawCall{method: query, biz: biz, noCType: true}, code: "40004", sub: "ACQ.TRADE_NOT_EXIST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			r := e.do(tc.call)
			wantKey := tc.key
			if wantKey == "" {
				wantKey = gateway.ResponseKey(tc.call.method)
			}
			if r.key != wantKey {
				t.Errorf("member %q, want %q", r.key, wantKey)
			}
			if r.common.Code != tc.code || r.common.SubCode != tc.sub {
				t.Errorf("got %s %s (%s), want %s %s", r.common.Code, r.common.SubCode, r.common.SubMsg, tc.code, tc.sub)
			}
			if r.common.Msg == "" || (tc.sub != "" && r.common.SubMsg == "") {
				t.Errorf("msg/sub_msg missing: %s", r.raw)
			}
		})
	}
}

func TestInvalidSignatureNamesTheVerifiedStringButNotBizContent(t *testing.T) {
	e := mustStart(t)
	code := newCode()
	r := e.do(rawCall{method: gateway.MethodTradeQuery, biz: `{"out_trade_no":"` + code + `"}`, key: appKeyOther(t)})
	if !strings.Contains(r.common.SubMsg, "app_id="+e.s.AppID()+"&charset=utf-8&format=JSON&method=alipay.trade.query&sign_type=RSA2&timestamp=") {
		t.Errorf("sub_msg does not show the verified string: %s", r.common.SubMsg)
	}
	if strings.Contains(r.common.SubMsg, code) {
		t.Errorf("sub_msg leaks biz_content: %s", r.common.SubMsg)
	}
}

func TestClientWithRSA1SignType(t *testing.T) {
	e := mustStart(t)
	e.c.SignType = gateway.RSA
	out := newNo("T")
	if _, err := e.pay(out, newCode(), 1, ""); err != nil {
		t.Fatal(err)
	}
	if q, err := e.query(out); err != nil || q.TradeStatus != gateway.TradeSuccess {
		t.Fatalf("query %+v %v", q, err)
	}
}

func TestClientWithSkewedClockIsRefused(t *testing.T) {
	e := mustStart(t)
	e.c.Now = func() time.Time { return e.clk.Now().Add(20 * time.Minute) }
	_, err := e.query("x")
	want(t, err, gateway.Rejected, "isv.invalid-timestamp")
	if gwCode(err) != "40002" {
		t.Fatalf("code %q", gwCode(err))
	}
}

func gbk(t *testing.T, s string) string {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().String(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGBKRequestAndReply(t *testing.T) {
	e := mustStart(t)
	gbkParams := map[string]string{"charset": "GBK"}

	// A pay whose subject is Chinese, sent and signed in GBK.
	out, code := newNo("T"), newCode()
	biz := gbk(t, `{"out_trade_no":"`+out+`","scene":"bar_code","auth_code":"`+code+`","subject":"测试商品：矿泉水","total_amount":"3.50"}`)
	r := e.do(rawCall{method: gateway.MethodTradePay, biz: biz, params: gbkParams, split: true})
	if r.common.Code != "10000" {
		t.Fatalf("GBK pay: %s", r.raw)
	}
	if tr := e.trade(out); tr.TotalAmount != 350 || tr.Status != gateway.TradeSuccess {
		t.Fatalf("ledger: %+v", tr)
	}

	// The reply comes back in GBK, signed over the GBK bytes as sent.
	r = e.do(rawCall{method: gateway.MethodTradeQuery, biz: `{"out_trade_no":"nope"}`, params: gbkParams})
	if utf8.Valid(r.raw) {
		t.Fatalf("reply to a GBK request is UTF-8: %s", r.raw)
	}
	utf, err := simplifiedchinese.GBK.NewDecoder().Bytes(r.raw)
	if err != nil {
		t.Fatal(err)
	}
	var c gateway.Common
	if err := json.Unmarshal(utf, &c); err != nil || c.SubMsg != "交易不存在" {
		t.Fatalf("decoded reply %s (%v)", utf, err)
	}
	if bytes.Equal(utf, r.raw) {
		t.Fatal("GBK and UTF-8 replies are the same bytes; the test proves nothing")
	}

	// A GBK request signed over its UTF-8 form does not verify.
	appPriv, _ := e.s.Keys()
	utfBiz := `{"out_trade_no":"` + newNo("T") + `","auth_code":"` + newCode() + `","subject":"测试","total_amount":"1.00"}`
	p := map[string]string{
		"app_id": e.s.AppID(), "method": gateway.MethodTradePay, "format": "JSON", "charset": "GBK",
		"sign_type": "RSA2", "timestamp": start.Format(gateway.TimestampLayout), "version": "1.0", "biz_content": utfBiz,
	}
	sig, err := gateway.Sign([]byte(gateway.SignContent(p)), appPriv, gateway.RSA2)
	if err != nil {
		t.Fatal(err)
	}
	r = e.do(rawCall{method: gateway.MethodTradePay, biz: gbk(t, utfBiz), params: map[string]string{"charset": "GBK", "sign": sig}})
	if r.common.SubCode != "isv.invalid-signature" {
		t.Fatalf("UTF-8-signed GBK request: %s %s", r.common.Code, r.common.SubCode)
	}
}

func TestPayTotalAmountAsJSONNumber(t *testing.T) {
	e := mustStart(t)
	out := newNo("T")
	r := e.do(rawCall{method: gateway.MethodTradePay, biz: `{"out_trade_no":"` + out + `","scene":"bar_code","auth_code":"` + newCode() + `","subject":"s","total_amount":88.8}`})
	if r.common.Code != "10000" {
		t.Fatalf("pay: %s", r.raw)
	}
	if tr := e.trade(out); tr.TotalAmount != 8880 {
		t.Fatalf("amount %v", tr.TotalAmount)
	}
	r = e.do(rawCall{method: gateway.MethodTradePay, biz: `{"out_trade_no":"` + newNo("T") + `","auth_code":"` + newCode() + `","subject":"s","total_amount":"1.234"}`})
	if r.common.SubCode != "ACQ.INVALID_PARAMETER" {
		t.Fatalf("three decimals: %s", r.raw)
	}
}
