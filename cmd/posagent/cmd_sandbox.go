package main

import (
	"context"
	"path/filepath"
	"posagent/gateway/sandbox"
	"strings"
	"time"
)

// SandboxCommand implements "posagent sandbox": the embedded Alipay gateway
// simulator as a server of its own, for trying posagent or a register
// integration, or an official Alipay SDK, with no Alipay account.
type SandboxCommand struct {
	Streams
	Config ConfigFlag
	// Listen is the address to serve on. Default "127.0.0.1:9090".
	Listen string
	// Dir holds the app and gateway key pairs, generated once. Default: the
	// folder "sandbox" in terminal.data_dir.
	Dir string
	// Faults, also settable at run time with POST /sandbox/faults.
	Latency         time.Duration // added to every reply; default 0
	DropAfterCommit float64       // probability, 0..1, of dropping a reply after the trade commits
	Fail20000       float64       // probability, 0..1, of answering 20000 (unknown)
	BadSign         float64       // probability, 0..1, of a bad reply signature
	UnsignedError   float64       // probability, 0..1, of an error reply without sign
	EscapedSlash    float64       // probability, 0..1, of a reply with '/' sent as `\/`
	// CancelUnseenNotExist: a cancel of an unseen out_trade_no answers
	// ACQ.TRADE_NOT_EXIST and leaves the number open. Default false.
	CancelUnseenNotExist bool
	// CertMode, OpenID and AppAuthToken: see sandbox.Config.
	CertMode     bool
	OpenID       bool
	AppAuthToken string
	FaultMethods []string // methods the faults apply to; empty: all
}

// ParseFlags reads the command line into c.
func (c *SandboxCommand) ParseFlags(args []string) error {
	fs := newFlagSet("sandbox", "[--listen ADDR] [--dir DIR] [fault flags]", `
Serves a faithful local stand-in for https://openapi.alipay.com/gateway.do at
POST /gateway.do: it verifies every request signature with the app public key
and signs every reply with its own key, exactly as the real gateway does.

On first start it generates an app key pair and a gateway key pair under DIR
(app_private.pem, app_public.pem, alipay_private.pem, alipay_public.pem) and
then prints, one "key: value" per line: gateway, app_id, pay_pid,
app_private_key, app_public_key, alipay_public_key. Put those into [alipay]
of a posagent config to run against this sandbox.

Payment codes of 16-24 digits starting 25-30 are valid for 60 s after first
seen. GET /sandbox/trades lists the ledger; POST /sandbox/faults changes the
fault flags below while running.

--cert-mode makes it a certificate-mode gateway: it also issues under DIR a
root bundle (an RSA and an ECDSA root), an app certificate and a gateway
certificate, prints app_cert, alipay_cert and alipay_root_cert lines, checks
app_cert_sn and alipay_root_cert_sn, and POST /sandbox/rotate-cert issues a
new gateway certificate. --openid answers open_id instead of user_id.
--app-auth-token TOKEN answers 20001 aop.invalid-app-auth-token to every call
without that token.`, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.Listen, "listen", "127.0.0.1:9090", "serve on `ADDR` (host:port)")
	fs.StringVar(&c.Dir, "dir", "", "keep the key pairs in `DIR` (default: data_dir/sandbox)")
	fs.DurationVar(&c.Latency, "latency", 0, "add `DURATION` to every reply")
	fs.Float64Var(&c.DropAfterCommit, "drop-after-commit", 0, "drop this `fraction` (0..1) of replies after the trade commits")
	fs.Float64Var(&c.Fail20000, "fail-20000", 0, "answer this `fraction` (0..1) of calls with 20000 (unknown result)")
	fs.Float64Var(&c.BadSign, "bad-sign", 0, "sign this `fraction` (0..1) of replies badly")
	fs.Float64Var(&c.UnsignedError, "unsigned-error", 0, "send this `fraction` (0..1) of error replies without sign")
	fs.Float64Var(&c.EscapedSlash, "escaped-slash", 0, "send this `fraction` (0..1) of replies with '/' escaped as \\/ (signed unescaped)")
	fs.BoolVar(&c.CancelUnseenNotExist, "cancel-unseen-not-exist", false, "answer a cancel of an unseen out_trade_no with ACQ.TRADE_NOT_EXIST and leave the number open")
	fs.BoolVar(&c.CertMode, "cert-mode", false, "be a certificate-mode gateway (公钥证书模式)")
	fs.BoolVar(&c.OpenID, "openid", false, "be an OpenID app: the decode answers open_id instead of user_id")
	fs.StringVar(&c.AppAuthToken, "app-auth-token", "", "accept only calls carrying this app_auth_token `TOKEN` (else 20001)")
	methods := fs.String("fault-methods", "", "apply the faults only to these comma-separated `METHODS` (default: all)")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if c.Latency < 0 {
		return usageErrorf("--latency must be >= 0, not %s", c.Latency)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"drop-after-commit", c.DropAfterCommit}, {"fail-20000", c.Fail20000}, {"bad-sign", c.BadSign},
		{"unsigned-error", c.UnsignedError}, {"escaped-slash", c.EscapedSlash}} {
		if !(p.v >= 0 && p.v <= 1) {
			return usageErrorf("--%s must be between 0 and 1, not %g", p.name, p.v)
		}
	}
	c.FaultMethods = nil
	for _, m := range strings.Split(*methods, ",") {
		if m = strings.TrimSpace(m); m != "" {
			c.FaultMethods = append(c.FaultMethods, m)
		}
	}
	return nil
}

// Run implements Command.
func (c *SandboxCommand) Run(ctx context.Context, args []string) error {
	if err := c.ParseFlags(args); err != nil {
		return err
	}
	cfg, err := c.Config.Load()
	if err != nil {
		return err
	}
	if c.Dir == "" {
		c.Dir = filepath.Join(cfg.Terminal.DataDir, "sandbox")
	}
	return c.run(ctx, cfg)
}

// run serves the sandbox until ctx is cancelled.
func (c *SandboxCommand) run(ctx context.Context, cfg Config) error {
	logs, err := openLog(LogConfig{Level: cfg.Log.Level}, c.Stderr)
	if err != nil {
		return err
	}
	log := logs.Logger.With().Str("component", "sandbox").Logger()
	faults := sandbox.Faults{
		Latency: c.Latency, DropAfterCommit: c.DropAfterCommit, Fail20000: c.Fail20000,
		BadSign: c.BadSign, Methods: c.FaultMethods,
		UnsignedError: c.UnsignedError, EscapedSlash: c.EscapedSlash,
		CancelUnseenNotExist: c.CancelUnseenNotExist,
	}
	if err := faults.Validate(); err != nil {
		return usageErrorf("%v", err)
	}
	sb, err := sandbox.New(sandbox.Config{Dir: c.Dir, Logger: &log, Faults: faults,
		CertMode: c.CertMode, OpenID: c.OpenID, AppAuthToken: c.AppAuthToken})
	if err != nil {
		return err
	}
	if err := sb.Start(c.Listen); err != nil {
		return err // "sandbox: listen: …"
	}
	sb.Info(c.Stdout)
	log.Warn().Str("event", "sandbox_started").Str("url", sb.URL()).
		Msg("SANDBOX gateway: simulated Alipay, no real money moves")
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return sb.Shutdown(sctx)
}
