package gateway

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// Shanghai is the zone of the gateway's timestamps. China has kept UTC+8
// without daylight saving since 1991, so a fixed zone is exact and needs no
// tz database (which Windows machines lack).
var Shanghai = time.FixedZone("Asia/Shanghai", 8*3600)

// TimestampLayout is the format of the "timestamp" parameter.
const TimestampLayout = "2006-01-02 15:04:05"

// Defaults for the zero values of Client fields.
const (
	DefaultTimeout       = 15 * time.Second
	DefaultMaxReplyBytes = 1 << 20
)

// Client calls the Alipay OpenAPI gateway. Set the fields, then use it from
// any number of goroutines; do not change fields after the first call.
type Client struct {
	// URL of gateway.do, e.g. "https://openapi.alipay.com/gateway.do". Required.
	URL string
	// AppID is the merchant application's app_id. Required.
	AppID string
	// SignType is RSA2 (default) or RSA.
	SignType SignType
	// PrivateKey is the app private key that signs requests. Required.
	PrivateKey *rsa.PrivateKey
	// AlipayPublicKey verifies replies. Required unless SkipVerify.
	AlipayPublicKey *rsa.PublicKey
	// AppAuthToken is sent as app_auth_token when set (calls on behalf of a
	// merchant that authorised this app). Never logged.
	AppAuthToken string
	// AppCert, AlipayCert and AlipayRoot switch on certificate mode (all
	// three or none): requests carry app_cert_sn and alipay_root_cert_sn,
	// replies are verified with the gateway certificate their
	// alipay_cert_sn names, and AlipayPublicKey is not used. A reply naming
	// a certificate not seen before makes the client fetch it
	// (alipay.open.app.alipaycert.download) and use it once it chains to
	// AlipayRoot. Default nil: public key mode.
	AppCert    *CertChain
	AlipayCert *CertChain
	AlipayRoot *RootBundle
	// CertDir keeps gateway certificates fetched after a rotation
	// (alipay_cert_<SN>.pem), and those kept there are trusted again at
	// start once they chain to AlipayRoot. Default "": memory only.
	CertDir string
	// Timeout bounds each call, on top of the caller's ctx. Default 15 s.
	Timeout time.Duration
	// HTTPClient sends the requests. Default: a client with a 5 s connect
	// timeout and a response-header timeout equal to Timeout.
	HTTPClient *http.Client
	// MaxReplyBytes caps a reply body; a longer one is an Unknown result.
	// Default 1 MiB.
	MaxReplyBytes int64
	// SkipVerify turns reply verification off. Only the sandbox may set it;
	// the first call logs a warning.
	SkipVerify bool
	// Logger receives one debug line per call (method, kind, duration) and
	// the SkipVerify warning. Default: no logging.
	Logger *zerolog.Logger
	// Now is the clock for timestamps. Default time.Now.
	Now func() time.Time
	// Observe, when set, is called after every call with its method, its
	// result (nil or an *Error) and how long it took: for metrics (see
	// Metrics) and for the reachability probe. It must not block.
	Observe func(method string, err error, took time.Duration)

	initOnce sync.Once
	http     *http.Client
	warnOnce sync.Once
	certs    *certStore // certificate mode; nil in public key mode
	initErr  error      // a certificate mode set-up that cannot work
	health   healthState

	// reachable is 1 after a call got a reply from the gateway, 0 after a
	// call could not reach it (transport error or timeout).
	reachable atomic.Int32
	lastSeen  atomic.Int64 // unix nanoseconds of the last reply
}

func (c *Client) init() {
	c.initOnce.Do(func() {
		c.http = c.HTTPClient
		if c.http == nil {
			d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
			c.http = &http.Client{Transport: &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           d.DialContext,
				TLSHandshakeTimeout:   5 * time.Second,
				ResponseHeaderTimeout: c.timeout(),
				MaxIdleConnsPerHost:   8,
				IdleConnTimeout:       90 * time.Second,
			}}
		}
		c.reachable.Store(1)
		c.certs, c.initErr = c.newCertStore()
	})
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Reachable reports whether the last call got a reply from the gateway (of
// any code), and when a reply was last seen (zero if never).
func (c *Client) Reachable() (bool, time.Time) {
	c.init()
	var seen time.Time
	if ns := c.lastSeen.Load(); ns != 0 {
		seen = time.Unix(0, ns)
	}
	return c.reachable.Load() == 1, seen
}

// Params builds the signed form parameters of a call. It is exported for
// tests and tools that need to see exactly what would be sent.
func (c *Client) Params(method string, bizContent []byte) (url.Values, error) {
	c.init()
	st := c.SignType
	if st == "" {
		st = RSA2
	}
	p := map[string]string{
		"app_id":      c.AppID,
		"method":      method,
		"format":      "JSON",
		"charset":     "utf-8",
		"sign_type":   string(st),
		"timestamp":   c.now().In(Shanghai).Format(TimestampLayout),
		"version":     "1.0",
		"biz_content": string(bizContent),
	}
	if c.AppAuthToken != "" {
		p["app_auth_token"] = c.AppAuthToken
	}
	if c.certs != nil {
		p["app_cert_sn"] = c.certs.appSN
		p["alipay_root_cert_sn"] = c.certs.rootSN
	}
	sig, err := Sign([]byte(SignContent(p)), c.PrivateKey, st)
	if err != nil {
		return nil, err
	}
	v := make(url.Values, len(p)+1)
	for k, x := range p {
		v.Set(k, x)
	}
	v.Set("sign", sig)
	return v, nil
}

// MarshalBizContent encodes biz_content as the client sends it: compact JSON
// without HTML escaping, as the SDKs do.
func MarshalBizContent(biz any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(biz); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// commonResponse is the part of every response that classifies it.
type commonResponse struct {
	Code    string `json:"code"`
	Msg     string `json:"msg"`
	SubCode string `json:"sub_code,omitempty"`
	SubMsg  string `json:"sub_msg,omitempty"`
}

// Common is embedded in every typed response.
type Common = commonResponse

// call sends one request and decodes the verified response into out (a
// pointer to a struct embedding Common). The returned error is nil only for
// code 10000; otherwise it is an *Error whose Kind says what the caller may
// conclude. out is filled whenever the gateway's answer could be verified,
// also for 10003 and 40004.
func (c *Client) call(ctx context.Context, method string, biz any, out any) error {
	c.init()
	start := c.now()
	err := c.do(ctx, method, biz, out)
	took := c.now().Sub(start)
	if c.Observe != nil {
		c.Observe(method, err, took)
	}
	if c.Logger != nil {
		ev := c.Logger.Debug()
		if err != nil {
			ev = c.Logger.Info()
		}
		ev.Str("event", "gateway_call").Str("method", method).
			Str("kind", KindOf(err).String()).Str("sub_code", SubCodeOf(err)).
			Dur("took", took).Msg("gateway call")
	}
	return err
}

func (c *Client) do(ctx context.Context, method string, biz any, out any) error {
	body, err := c.send(ctx, method, biz)
	if err != nil {
		return err
	}
	return c.decode(ctx, method, body, out)
}

// send signs and posts one request and returns the reply body of an HTTP
// 200. The common parameters go in the URL query string, biz_content in the
// form body, as the official SDKs send them.
func (c *Client) send(ctx context.Context, method string, biz any) ([]byte, error) {
	fail := func(kind Kind, err error) error { return &Error{Method: method, Kind: kind, Err: err} }
	if c.initErr != nil {
		return nil, fail(Invalid, c.initErr)
	}
	bizJSON, err := MarshalBizContent(biz)
	if err != nil {
		return nil, fail(Invalid, err)
	}
	params, err := c.Params(method, bizJSON)
	if err != nil {
		return nil, fail(Invalid, err)
	}
	form := url.Values{"biz_content": params["biz_content"]}
	params.Del("biz_content")
	u := c.URL
	if strings.Contains(u, "?") {
		u += "&" + params.Encode()
	} else {
		u += "?" + params.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fail(Invalid, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	resp, err := c.http.Do(req)
	if err != nil {
		c.reachable.Store(0)
		return nil, fail(Unknown, err)
	}
	defer resp.Body.Close()
	limit := c.MaxReplyBytes
	if limit <= 0 {
		limit = DefaultMaxReplyBytes
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		c.reachable.Store(0)
		return nil, fail(Unknown, fmt.Errorf("read reply: %w", err))
	}
	// From here on the gateway has answered: it is reachable, whatever it said.
	c.reachable.Store(1)
	c.lastSeen.Store(c.now().UnixNano())
	if int64(len(body)) > limit {
		return nil, fail(Unknown, fmt.Errorf("%w: reply larger than %d bytes", ErrBadReply, limit))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fail(Unknown, fmt.Errorf("%w: HTTP %s", ErrBadReply, resp.Status))
	}
	return body, nil
}

// decode verifies body and fills out. It is split from do so tests and fuzz
// targets can drive it with raw bytes. out (when not nil) is either left
// untouched or filled whole, never half-filled.
func (c *Client) decode(ctx context.Context, method string, body []byte, out any) error {
	c.init()
	fail := func(kind Kind, err error) error { return &Error{Method: method, Kind: kind, Err: err} }
	r, err := ParseReply(body, method)
	if err != nil {
		return fail(Unknown, err)
	}
	if c.SkipVerify {
		c.warnOnce.Do(func() {
			if c.Logger != nil {
				c.Logger.Warn().Str("event", "verify_off").Msg("gateway reply signatures are NOT verified (sandbox only)")
			}
		})
	} else if err := c.verifyReply(ctx, method, r); err != nil {
		e := unverifiedError(method, r, err)
		c.health.verifyFailed(c, e)
		return e
	}
	raw := r.Raw
	if !utf8.Valid(raw) {
		// A GBK/GB18030 reply: decoded only now, after verification over
		// the bytes as sent.
		if u, err := gb18030ToUTF8(raw); err == nil {
			raw = u
		}
	}
	var common commonResponse
	if err := json.Unmarshal(raw, &common); err != nil {
		return fail(Unknown, fmt.Errorf("%w: %v", ErrBadReply, err))
	}
	kind := kindOfCode(common.Code)
	if r.Key == ErrorResponseKey && kind == Success {
		// An error_response never carries a result.
		kind = Unknown
	}
	if out != nil && r.Key != ErrorResponseKey {
		if err := unmarshalWhole(raw, out); err != nil {
			return fail(Unknown, fmt.Errorf("%w: %v", ErrBadReply, err))
		}
	}
	c.health.verified(c, kind, common.SubCode)
	if kind == Success {
		return nil
	}
	e := &Error{Method: method, Kind: kind, Code: common.Code, Msg: common.Msg, SubCode: common.SubCode, SubMsg: common.SubMsg}
	if common.Code == "" {
		e.Err = fmt.Errorf("%w: no code", ErrBadReply)
	}
	if kind == Unauthorized {
		e.Err = ErrUnauthorized
	}
	return e
}

// IsUnreachable reports whether err means the gateway could not be reached
// at all (as opposed to answering with an error).
func IsUnreachable(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Kind != Unknown || e.Code != "" {
		return false
	}
	return !errors.Is(e.Err, ErrBadReply) && !errors.Is(e.Err, ErrBadSignature)
}
