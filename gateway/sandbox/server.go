package sandbox

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"posagent/gateway"
)

// Sandbox is a running gateway simulator. Create it with New; serve it with
// Start (its own listener) or mount Handler in a server of your own. All
// methods are safe for concurrent use.
type Sandbox struct {
	cfg     Config
	keys    keySet
	paths   KeyPaths
	ledger  *ledger
	faults  faultState
	replies *replyCache
	handler http.Handler
	certs   *certState // nil unless Config.CertMode

	mu   sync.Mutex
	srv  *http.Server
	ln   net.Listener
	url  string
	done chan struct{} // closed when Serve has returned
}

// handlerFunc answers one gateway method; it returns the value of the
// response member.
type handlerFunc func(s *Sandbox, req *request, now time.Time) any

var handlers = map[string]handlerFunc{
	gateway.MethodTwoStageUse:          (*Sandbox).twoStageUse,
	gateway.MethodTradePay:             (*Sandbox).tradePay,
	gateway.MethodTradeQuery:           (*Sandbox).tradeQuery,
	gateway.MethodTradeCancel:          (*Sandbox).tradeCancel,
	gateway.MethodSceneConsult:         (*Sandbox).sceneConsult,
	gateway.MethodInviteAward:          (*Sandbox).inviteAward,
	gateway.MethodAgreementQuery:       (*Sandbox).agreementQuery,
	gateway.MethodTradeRefund:          (*Sandbox).tradeRefund,
	gateway.MethodTradeRefundQuery:     (*Sandbox).tradeRefundQuery,
	gateway.MethodBillDownloadURLQuery: (*Sandbox).billDownloadURLQuery,
	gateway.MethodAlipayCertDownload:   (*Sandbox).alipayCertDownload,
}

// New makes a sandbox: it loads the keys from cfg.Dir, generating them the
// first time, and applies cfg.Faults. Errors: a key folder or key file that
// cannot be read, written or parsed, a public key file that does not match
// its private key, and faults that fail Faults.Validate (ErrBadFaults).
func New(cfg Config) (*Sandbox, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Faults.Validate(); err != nil {
		return nil, err
	}
	keys, paths, err := loadOrCreateKeys(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Sandbox{
		cfg:     cfg,
		keys:    keys,
		paths:   paths,
		ledger:  newLedger(),
		replies: newReplyCache(cfg.ReplyCacheSize),
	}
	if cfg.CertMode {
		if s.certs, err = newCertState(cfg.Dir, keys, cfg.AppID, &s.paths); err != nil {
			return nil, err
		}
	}
	s.faults.set(cfg.Faults)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /gateway.do", s.serveGateway)
	mux.HandleFunc("GET /gateway.do", s.serveGateway)
	mux.HandleFunc("GET /sandbox/trades", s.serveTrades)
	mux.HandleFunc("GET /sandbox/faults", s.serveFaults)
	mux.HandleFunc("POST /sandbox/faults", s.serveFaults)
	mux.HandleFunc("GET /sandbox/bills/{date}", s.serveBill)
	mux.HandleFunc("GET /sandbox/bill-rows", s.serveBillRows)
	mux.HandleFunc("POST /sandbox/bill-rows", s.serveBillRows)
	mux.HandleFunc("DELETE /sandbox/bill-rows", s.serveBillRows)
	mux.HandleFunc("POST /sandbox/rotate-cert", s.serveRotateCert)
	s.handler = mux
	return s, nil
}

// Handler serves POST (and GET) /gateway.do, GET /sandbox/trades,
// GET/POST /sandbox/faults, GET /sandbox/bills/{date} (the zipped trade
// bills that bill.downloadurl.query points to) and GET/POST/DELETE
// /sandbox/bill-rows (see BillRow).
func (s *Sandbox) Handler() http.Handler { return s.handler }

// serveGateway answers one OpenAPI call: parse, authenticate, inject faults,
// handle, sign, reply. Every reply is HTTP 200 with a signed body, as the
// real gateway's.
func (s *Sandbox) serveGateway(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	req, resp, plan, ok := s.handle(r)
	if !ok {
		return // the caller gave up during the injected latency; nothing was done
	}
	if plan.drop && !plan.fail {
		s.logCall(req, resp, "drop_after_commit", start)
		dropConnection(w)
		return
	}
	body, err := s.encodeReply(req, req.key(), resp)
	if err != nil {
		// Only a broken key gets here; a reply that cannot be signed is not sent.
		http.Error(w, "sandbox: cannot sign reply: "+err.Error(), http.StatusInternalServerError)
		return
	}
	var faults []string
	if plan.fail {
		faults = append(faults, "fail_20000")
	}
	if plan.badSign {
		faults = append(faults, "bad_sign")
		body = corruptSign(body)
	}
	if plan.unsignedError && isErrorReply(resp) {
		faults = append(faults, "unsigned_error")
		body = stripSign(body)
	}
	if plan.escapedSlash {
		faults = append(faults, "escaped_slash")
		body = escapeSlashes(body)
	}
	s.logCall(req, resp, strings.Join(faults, ","), start)
	h := w.Header()
	h.Set("Content-Type", "text/html;charset="+req.charset.String())
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// handle turns a call into the value of its reply and the faults planned
// for it. ok is false when the caller gave up during the injected latency.
func (s *Sandbox) handle(r *http.Request) (req *request, resp any, plan faultPlan, ok bool) {
	req, perr := parseRequest(r)
	if perr != nil {
		return req, *perr, plan, true
	}
	if aerr := s.authenticate(req, s.cfg.Now()); aerr != nil {
		return req, *aerr, plan, true
	}
	plan = s.faults.plan(req.method)
	if plan.latency > 0 && !sleep(r.Context(), plan.latency) {
		return req, nil, plan, false
	}
	if plan.fail {
		return req, errSystemBusy, plan, true
	}
	return req, s.withOpenID(handlers[req.method](s, req, s.cfg.Now())), plan, true
}

// sleep waits d or until ctx is done; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// dropConnection closes the client's connection without a reply.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	// No hijacking (HTTP/2, an in-process transport): abort the handler,
	// which makes the server reset the stream without a reply.
	panic(http.ErrAbortHandler)
}

func (s *Sandbox) logCall(req *request, resp any, fault string, start time.Time) {
	if s.cfg.Logger == nil {
		return
	}
	code, sub := replyCodes(resp)
	ev := s.cfg.Logger.Debug()
	if fault != "" {
		ev = s.cfg.Logger.Info()
	}
	ev.Str("event", "sandbox_call").Str("method", req.params["method"]).
		Str("reply_code", code).Str("sub_code", sub).Str("fault", fault).
		Dur("took", time.Since(start)).Msg("sandbox gateway call")
}

// replyCodes digs code and sub_code out of a handler's reply for the log.
func replyCodes(resp any) (code, sub string) {
	var c gateway.Common
	switch v := resp.(type) {
	case gateway.Common:
		c = v
	case gateway.TwoStageUseResponse:
		c = v.Common
	case gateway.TradePayResponse:
		c = v.Common
	case gateway.TradeQueryResponse:
		c = v.Common
	case gateway.TradeCancelResponse:
		c = v.Common
	case gateway.ConsultResponse:
		c = v.Common
	case gateway.AwardResponse:
		c = v.Common
	case gateway.AgreementQueryResponse:
		c = v.Common
	case gateway.TradeRefundResponse:
		c = v.Common
	case gateway.TradeRefundQueryResponse:
		c = v.Common
	case gateway.BillDownloadURLQueryResponse:
		c = v.Common
	case alipayCertDownloadResponse:
		c = v.Common
	}
	return c.Code, c.SubCode
}

// serveTrades answers GET /sandbox/trades with the ledger.
func (s *Sandbox) serveTrades(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Trades())
}

// serveFaults answers GET /sandbox/faults with the faults in force, and POST
// with a new set (the whole set is replaced; 400 with {"error":...} when the
// body is not valid faults).
func (s *Sandbox) serveFaults(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		f, err := ParseFaults(body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		s.SetFaults(f)
	}
	writeJSON(w, http.StatusOK, s.Faults())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// Trades returns the ledger in creation order, as GET /sandbox/trades does.
func (s *Sandbox) Trades() []Trade { return s.ledger.snapshot() }

// SetFaults replaces the faults in force and reseeds their RNG. Faults that
// fail Validate are applied as given; validate first when they come from
// outside (ParseFaults does).
func (s *Sandbox) SetFaults(f Faults) {
	s.faults.set(f)
	if s.cfg.Logger != nil {
		s.cfg.Logger.Info().Str("event", "sandbox_faults").Str("faults", f.String()).Msg("sandbox faults set")
	}
}

// Faults returns the faults in force.
func (s *Sandbox) Faults() Faults { return s.faults.get() }

// Keys returns the app private key (which signs requests) and the gateway
// public key (which verifies replies): what a merchant-side client needs.
func (s *Sandbox) Keys() (appPriv *rsa.PrivateKey, alipayPub *rsa.PublicKey) {
	return s.keys.app, &s.keys.alipay.PublicKey
}

// KeyPaths returns the key files (all empty when Config.Dir was).
func (s *Sandbox) KeyPaths() KeyPaths { return s.paths }

// AppID returns the app_id the sandbox accepts.
func (s *Sandbox) AppID() string { return s.cfg.AppID }

// PayPID returns the pay_pid the sandbox's decode accepts.
func (s *Sandbox) PayPID() string { return s.cfg.PayPID }

// Start listens on addr (e.g. "127.0.0.1:9090", or ":0" for any free port)
// and serves Handler in the background until Close. A sandbox starts once.
// Errors: the address cannot be listened on, or the sandbox was started
// already.
func (s *Sandbox) Start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		return errors.New("sandbox: already started")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sandbox: listen: %w", err)
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	s.srv, s.ln, s.done = srv, ln, make(chan struct{})
	s.url = "http://" + dialAddr(ln.Addr()) + "/gateway.do"
	go func(done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && s.cfg.Logger != nil {
			s.cfg.Logger.Error().Err(err).Str("event", "sandbox_serve").Msg("sandbox server stopped")
		}
	}(s.done)
	return nil
}

// dialAddr turns a listener address into one a client can dial: an
// unspecified host (":0", "0.0.0.0", "::") becomes loopback.
func dialAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// URL returns the gateway URL, "http://HOST:PORT/gateway.do", once Start has
// succeeded; "" before.
func (s *Sandbox) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// Close stops the server started by Start: the listener and every
// connection are closed at once, and Close waits for the serving goroutine.
// It is a no-op on a sandbox that was not started, and safe to call twice.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Close()
	<-done
	return err
}

// Shutdown stops the server started by Start gracefully: no new calls are
// accepted and the calls under way finish, until ctx is done.
func (s *Sandbox) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	err := srv.Shutdown(ctx)
	if err == nil {
		<-done
	}
	return err
}

// Client returns a new gateway client wired to this sandbox: its URL, app_id,
// app private key, gateway public key and clock (so request timestamps
// follow an injected Config.Now). Before Start it calls Handler in process,
// with no socket. Set Logger, Timeout etc. on it as on any client.
func (s *Sandbox) Client() *gateway.Client {
	c := &gateway.Client{
		URL:             s.URL(),
		AppID:           s.cfg.AppID,
		PrivateKey:      s.keys.app,
		AlipayPublicKey: &s.keys.alipay.PublicKey,
		AppAuthToken:    s.cfg.AppAuthToken,
		Now:             s.cfg.Now,
	}
	if s.certs != nil {
		c.AppCert, _ = gateway.ParseCertChain(s.certs.appPEM)
		first, _ := s.certs.certPEM(s.certs.first)
		c.AlipayCert, _ = gateway.ParseCertChain(first)
		c.AlipayRoot, _ = gateway.ParseRootBundle(s.certs.rootPEM)
	}
	if c.URL == "" {
		c.URL = inProcessURL
		c.HTTPClient = &http.Client{Transport: handlerTransport{s.handler}}
	}
	return c
}

// Info prints what a merchant-side configuration needs, one "key: value" a
// line: gateway, app_id, pay_pid, app_private_key, app_public_key,
// alipay_public_key (SPEC §3), then trades, faults and test_codes.
func (s *Sandbox) Info(w io.Writer) {
	gw := s.URL()
	base := ""
	if gw == "" {
		gw = "(not listening; in process only)"
	} else {
		base = gw[:len(gw)-len("/gateway.do")]
	}
	p := s.paths
	orMem := func(path string) string {
		if path == "" {
			return "(in memory)"
		}
		return path
	}
	fmt.Fprintf(w, "gateway: %s\n", gw)
	fmt.Fprintf(w, "app_id: %s\n", s.cfg.AppID)
	fmt.Fprintf(w, "pay_pid: %s\n", s.cfg.PayPID)
	fmt.Fprintf(w, "app_private_key: %s\n", orMem(p.AppPrivate))
	fmt.Fprintf(w, "app_public_key: %s\n", orMem(p.AppPublic))
	fmt.Fprintf(w, "alipay_public_key: %s\n", orMem(p.AlipayPublic))
	if s.certs != nil {
		fmt.Fprintf(w, "app_cert: %s\n", orMem(p.AppCert))
		fmt.Fprintf(w, "alipay_cert: %s\n", orMem(p.AlipayCert))
		fmt.Fprintf(w, "alipay_root_cert: %s\n", orMem(p.AlipayRootCert))
	}
	if s.cfg.AppAuthToken != "" {
		fmt.Fprintf(w, "app_auth_token: %s\n", s.cfg.AppAuthToken)
	}
	if base != "" {
		fmt.Fprintf(w, "trades: %s/sandbox/trades\n", base)
		fmt.Fprintf(w, "faults: %s/sandbox/faults (%s)\n", base, s.Faults())
		fmt.Fprintf(w, "bills: %s/sandbox/bills/YYYY-MM-DD (rows to add or alter: %s/sandbox/bill-rows)\n", base, base)
		if s.certs != nil {
			fmt.Fprintf(w, "rotate_cert: POST %s/sandbox/rotate-cert\n", base)
		}
	}
	fmt.Fprintf(w, "test_codes: %sSSN… (see gateway/sandbox/TESTCODES.md)\n", TestCodeMarker)
}
