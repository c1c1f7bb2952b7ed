package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"

	"posagent/gateway"
)

// request is one call to gateway.do, parsed.
type request struct {
	// params are the parameters as sent: percent-decoded, their bytes still
	// in the request's charset. The signature covers exactly these bytes.
	params   map[string]string
	charset  charset
	method   string // "" until known to be one of gateway.Methods
	signType gateway.SignType
	// biz is biz_content converted to UTF-8 ("{}" when absent).
	biz []byte
}

// key is the member the reply to req goes in: the method's response member
// once the method is known, error_response before.
func (r *request) key() string {
	if r.method == "" {
		return gateway.ErrorResponseKey
	}
	return gateway.ResponseKey(r.method)
}

// charset is the charset of a request's parameters and of its reply.
type charset int

const (
	charsetUTF8 charset = iota
	charsetGBK
	charsetGB18030
)

// parseCharset reads the charset parameter; absent means utf-8.
func parseCharset(s string) (charset, bool) {
	switch strings.ToLower(s) {
	case "", "utf-8", "utf8":
		return charsetUTF8, true
	case "gbk", "gb2312", "cp936":
		return charsetGBK, true
	case "gb18030":
		return charsetGB18030, true
	}
	return charsetUTF8, false
}

func (c charset) String() string {
	switch c {
	case charsetGBK:
		return "GBK"
	case charsetGB18030:
		return "GB18030"
	}
	return "utf-8"
}

func (c charset) encoding() encoding.Encoding {
	switch c {
	case charsetGBK:
		return simplifiedchinese.GBK
	case charsetGB18030:
		return simplifiedchinese.GB18030
	}
	return nil
}

// toUTF8 converts bytes of charset c to UTF-8.
func (c charset) toUTF8(b []byte) ([]byte, error) {
	e := c.encoding()
	if e == nil {
		return b, nil
	}
	return e.NewDecoder().Bytes(b)
}

// fromUTF8 converts UTF-8 to charset c; characters c cannot hold become '?'
// (the sandbox's own texts are all representable in GBK).
func (c charset) fromUTF8(b []byte) ([]byte, error) {
	e := c.encoding()
	if e == nil {
		return b, nil
	}
	return encoding.ReplaceUnsupported(e.NewEncoder()).Bytes(b)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readParams collects the parameters of r from the query string and, for a
// POST with a form body (application/x-www-form-urlencoded, or no content
// type), from the body, as the SDKs send them: the Java and Node SDKs put the
// common parameters in the URL and biz_content in the body. A name present
// in both keeps its query-string value, as a servlet container reads it.
func readParams(r *http.Request) (map[string]string, bool) {
	params := make(map[string]string, 12)
	ok := parseForm(params, r.URL.RawQuery)
	if r.Method != http.MethodPost || r.Body == nil {
		return params, ok
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return params, ok
		}
	}
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	n, err := buf.ReadFrom(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil || n > maxBodyBytes {
		return params, false
	}
	// One copy out of the pooled buffer; the values are substrings of it.
	return params, parseForm(params, buf.String()) && ok
}

// parseForm adds the pairs of a urlencoded string to dst, keeping values
// already there. It reports false if an escape was malformed.
func parseForm(dst map[string]string, s string) bool {
	ok := true
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			ok = false
			continue
		}
		if _, seen := dst[k]; !seen {
			dst[k] = v
		}
	}
	return ok
}

// parseRequest reads r's parameters and settles the charset and method, the
// two things the reply's layout depends on. A non-nil Common is the error to
// answer with.
func parseRequest(r *http.Request) (*request, *gateway.Common) {
	params, ok := readParams(r)
	req := &request{params: params, signType: gateway.RSA2}
	cs, csOK := parseCharset(params["charset"])
	req.charset = cs
	if st := gateway.SignType(params["sign_type"]); st == gateway.RSA {
		req.signType = st
	}
	m := params["method"]
	if slices.Contains(gateway.Methods, m) {
		req.method = m
	}
	switch {
	case !ok:
		return req, &errInvalidParameter
	case !csOK:
		return req, &errInvalidCharset
	case m == "":
		return req, &errMissingMethod
	case req.method == "":
		return req, &errInvalidMethod
	}
	return req, nil
}

// authenticate checks the common parameters and the signature of req, in
// the order the real gateway reports them, and fills req.biz.
func (s *Sandbox) authenticate(req *request, now time.Time) *gateway.Common {
	p := req.params
	switch appID := p["app_id"]; {
	case appID == "":
		return &errMissingAppID
	case appID != s.cfg.AppID:
		return &errInvalidAppID
	}
	if f := p["format"]; f != "" && !strings.EqualFold(f, "JSON") {
		return &errInvalidFormat
	}
	switch st := p["sign_type"]; st {
	case "":
		return &errMissingSignType
	case string(gateway.RSA2), string(gateway.RSA):
	default:
		return &errInvalidSignType
	}
	if p["sign"] == "" {
		return &errMissingSignature
	}
	ts := p["timestamp"]
	if ts == "" {
		return &errMissingTimestamp
	}
	t, err := time.ParseInLocation(gateway.TimestampLayout, ts, gateway.Shanghai)
	if err != nil || t.Sub(now).Abs() > TimestampWindow {
		return &errInvalidTimestamp
	}
	if p["version"] == "" {
		return &errMissingVersion
	}
	if c := s.certs; c != nil {
		switch {
		case p["app_cert_sn"] == "":
			return &errMissingAppCertSN
		case p["app_cert_sn"] != c.appSN:
			return &errInvalidAppCertSN
		case p["alipay_root_cert_sn"] == "":
			return &errMissingRootCertSN
		case p["alipay_root_cert_sn"] != c.rootSN:
			return &errInvalidRootCertSN
		}
	}
	content := gateway.SignContent(p)
	if err := gateway.Verify([]byte(content), p["sign"], &s.keys.app.PublicKey, req.signType); err != nil {
		e := invalidSignature(signContentWithoutBiz(p))
		return &e
	}
	biz, err := req.charset.toUTF8([]byte(p["biz_content"]))
	if err != nil {
		return &errInvalidBizContent
	}
	if len(bytes.TrimSpace(biz)) == 0 {
		biz = []byte("{}")
	}
	if !json.Valid(biz) || bytes.TrimSpace(biz)[0] != '{' {
		return &errInvalidBizContent
	}
	req.biz = biz
	if tok := s.cfg.AppAuthToken; tok != "" && p["app_auth_token"] != tok {
		return &errInvalidAppAuthToken
	}
	return nil
}

// signContentWithoutBiz is the string the gateway verified, biz_content left out.
func signContentWithoutBiz(p map[string]string) string {
	q := make(map[string]string, len(p))
	for k, v := range p {
		if k != "biz_content" {
			q[k] = v
		}
	}
	return gateway.SignContent(q)
}

// encodeReply lays out and signs the reply to req: the JSON of v under key,
// converted to the request's charset, then "sign" over exactly those bytes
// (gateway.EncodeReply). Identical replies come from the cache.
func (s *Sandbox) encodeReply(req *request, key string, v any) ([]byte, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	raw := bytes.TrimRight(buf.Bytes(), "\n")
	raw, err := req.charset.fromUTF8(raw)
	if err != nil {
		return nil, err
	}
	priv, certSN := s.keys.alipay, ""
	if s.certs != nil {
		priv, certSN = s.certs.signer()
	}
	ck := replyCacheKey(req.signType, key+"\x00"+certSN, raw)
	if body, ok := s.replies.get(ck); ok {
		return body, nil
	}
	body, err := gateway.EncodeCertReply(key, raw, certSN, priv, req.signType)
	if err != nil {
		return nil, err
	}
	s.replies.put(ck, body)
	return body, nil
}

func replyCacheKey(st gateway.SignType, key string, raw []byte) [sha256.Size]byte {
	h := sha256.New()
	io.WriteString(h, string(st))
	h.Write([]byte{0})
	io.WriteString(h, key)
	h.Write([]byte{0})
	h.Write(raw)
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// corruptSign returns a copy of a reply body whose signature is still
// well-formed base64 of the right length but does not verify.
func corruptSign(body []byte) []byte {
	const marker = `"sign":"`
	i := bytes.LastIndex(body, []byte(marker))
	if i < 0 {
		return body
	}
	start := i + len(marker)
	end := bytes.IndexByte(body[start:], '"')
	if end < 0 {
		return body
	}
	sig, err := base64.StdEncoding.DecodeString(string(body[start : start+end]))
	if err != nil || len(sig) == 0 {
		return body
	}
	sig[len(sig)/2] ^= 0x01
	out := make([]byte, 0, len(body))
	out = append(out, body[:start]...)
	out = append(out, base64.StdEncoding.EncodeToString(sig)...)
	return append(out, body[start+end:]...)
}

// parseBiz decodes a request's biz_content into in and validates it as the
// client would: the sandbox refuses what the real gateway refuses.
func parseBiz(biz []byte, in interface{ Validate() error }) error {
	if err := json.Unmarshal(biz, in); err != nil {
		return err
	}
	return in.Validate()
}
