package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Length limits of the id keys. terminal_id goes into every out_trade_no (≤64)
// and sence_no together with a timestamp and a sequence, hence the tight 16.
const (
	maxStoreIDLen    = 32
	maxTerminalIDLen = 16
)

var idRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// Validate checks what decoding cannot: enumerations, ranges, the relations
// between keys, and, unless the gateway is the sandbox, that the merchant's
// credentials are set and the key files readable. It reports every problem,
// each a *ConfigError naming file, line (when the key is in the file) and key;
// several are joined with errors.Join.
func (c *Config) Validate() error {
	v := validator{cfg: c}

	t := c.Terminal
	if t.StoreID != "" {
		v.id("terminal.store_id", t.StoreID, maxStoreIDLen)
	}
	if t.TerminalID == "" {
		v.fail("terminal.terminal_id", "required: it is part of every out_trade_no and sence_no")
	} else {
		v.id("terminal.terminal_id", t.TerminalID, maxTerminalIDLen)
	}
	v.required("terminal.data_dir", t.DataDir)
	if c.Data.Retention < Duration(minRetention) {
		v.fail("data.retention", fmt.Sprintf("must be at least %s (a day's takings are reconciled the next day, and again while Alipay's bill is not ready), not %s", Duration(minRetention), c.Data.Retention))
	}

	a := c.Alipay
	if !a.Sandbox() {
		v.httpURL("alipay.gateway", a.Gateway, `must be "sandbox" or an http(s) URL such as "https://openapi.alipay.com/gateway.do"`)
		v.digits("alipay.app_id", a.AppID)
		v.digits("alipay.pay_pid", a.PayPID)
		v.readable("alipay.app_private_key_file", a.AppPrivateKeyFile)
		if a.CertMode() {
			v.certMode(a, time.Now())
		} else {
			v.readable("alipay.alipay_public_key_file", a.AlipayPublicKeyFile)
		}
	}
	if a.SignType != SignTypeRSA2 && a.SignType != SignTypeRSA {
		v.fail("alipay.sign_type", fmt.Sprintf("must be %q or %q, not %q", SignTypeRSA2, SignTypeRSA, a.SignType))
	}
	v.positive("alipay.timeout", a.Timeout)

	s := c.Scanner
	v.required("scanner.device", s.Device)
	if s.Baud <= 0 {
		v.fail("scanner.baud", fmt.Sprintf("must be > 0, not %d", s.Baud))
	}
	v.nonNegative("scanner.frame_gap", s.FrameGap)
	v.nonNegative("scanner.dedupe_window", s.DedupeWindow)

	ch := c.Checkout
	v.positive("checkout.query_interval", ch.QueryInterval)
	if v.positive("checkout.decision_deadline", ch.DecisionDeadline) && ch.DecisionDeadline <= ch.QueryInterval {
		if _, inFile := v.cfg.src.lines["checkout.decision_deadline"]; inFile || v.cfg.src.lines["checkout.query_interval"] == 0 {
			v.fail("checkout.decision_deadline", fmt.Sprintf("must be longer than checkout.query_interval (%s), not %s", ch.QueryInterval, ch.DecisionDeadline))
		} else {
			// The file sets only query_interval: blame the line that does.
			v.fail("checkout.query_interval", fmt.Sprintf("must be shorter than checkout.decision_deadline (%s, its default), not %s", ch.DecisionDeadline, ch.QueryInterval))
		}
	}
	if ch.OnDecodeUnavailable != OnDecodeAbort && ch.OnDecodeUnavailable != OnDecodePayWithoutCoupons {
		v.fail("checkout.on_decode_unavailable", fmt.Sprintf("must be %q or %q, not %q", OnDecodeAbort, OnDecodePayWithoutCoupons, ch.OnDecodeUnavailable))
	}
	v.positive("checkout.late_pay_window", ch.LatePayWindow)
	v.positive("checkout.attention_recheck", ch.AttentionRecheck)
	v.positive("checkout.scan_timeout", ch.ScanTimeout)

	if c.Coupons.ReportURL != "" {
		v.httpURL("coupons.report_url", c.Coupons.ReportURL, "must be empty or an http(s) URL")
	}

	v.positive("queue.max_age", c.Queue.MaxAge)

	if _, port, err := net.SplitHostPort(c.API.Listen); err != nil {
		v.fail("api.listen", fmt.Sprintf("must be host:port such as \"127.0.0.1:8089\", not %q", c.API.Listen))
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		v.fail("api.listen", fmt.Sprintf("bad port %q in %q", port, c.API.Listen))
	}
	v.required("api.token_file", c.API.TokenFile)
	for _, o := range c.API.CORSOrigins {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			v.fail("api.cors_origins", fmt.Sprintf("%q is not an origin; write scheme://host[:port] such as \"http://register.local:3000\"", o))
		}
	}
	for _, h := range c.API.Hosts {
		if h == "" || strings.ContainsAny(h, "/ ") {
			v.fail("api.hosts", fmt.Sprintf("%q is not a host name; write a name such as \"till-01.store.lan\"", h))
		}
	}

	v.validateReconcile(c.Reconcile) // config_reconcile.go

	l := c.Log
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		v.fail("log.level", fmt.Sprintf("must be debug, info, warn or error, not %q", l.Level))
	}
	if l.MaxSizeMB < 0 {
		v.fail("log.max_size_mb", fmt.Sprintf("must be >= 0, not %d", l.MaxSizeMB))
	}
	if l.MaxBackups < 0 {
		v.fail("log.max_backups", fmt.Sprintf("must be >= 0, not %d", l.MaxBackups))
	}
	v.positive("log.heartbeat", l.Heartbeat)

	return joinConfigErrors(v.errs, 0)
}

// validator collects the problems Validate finds.
type validator struct {
	cfg  *Config
	errs []*ConfigError
}

func (v *validator) fail(key, msg string) {
	name := v.cfg.src.name
	if name == "" {
		name = "built-in defaults"
	}
	v.errs = append(v.errs, &ConfigError{File: name, Line: v.cfg.src.lines[key], Key: key, Msg: msg})
}

func (v *validator) required(key, s string) {
	if s == "" {
		v.fail(key, "required")
	}
}

func (v *validator) id(key, s string, max int) {
	switch {
	case len(s) > max:
		v.fail(key, fmt.Sprintf("%q is longer than %d characters", s, max))
	case !idRE.MatchString(s):
		v.fail(key, fmt.Sprintf("%q may hold only letters, digits and _", s))
	}
}

func (v *validator) digits(key, s string) {
	switch {
	case s == "":
		v.fail(key, "required when alipay.gateway is not \"sandbox\"")
	case len(s) > 32 || strings.Trim(s, "0123456789") != "":
		v.fail(key, fmt.Sprintf("%q is not an Alipay id (up to 32 digits)", s))
	}
}

func (v *validator) httpURL(key, s, msg string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.fail(key, fmt.Sprintf("%s, not %q", msg, s))
	}
}

// readable checks that a required key file can be opened for reading.
func (v *validator) readable(key, path string) {
	if path == "" {
		v.fail(key, "required when alipay.gateway is not \"sandbox\"")
		return
	}
	f, err := os.Open(path)
	if err != nil {
		v.fail(key, fmt.Sprintf("cannot read key file: %v", err))
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		v.fail(key, fmt.Sprintf("%s is a folder, not a key file", path))
	}
}

func (v *validator) positive(key string, d Duration) bool {
	if d <= 0 {
		v.fail(key, fmt.Sprintf("must be > 0, not %s", d))
		return false
	}
	return true
}

func (v *validator) nonNegative(key string, d Duration) {
	if d < 0 {
		v.fail(key, fmt.Sprintf("must be >= 0 (0 = off), not %s", d))
	}
}
