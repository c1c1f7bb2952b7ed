package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/events"
)

// DefaultAwardWait is how long POST /v1/awards waits for its job to finish
// before answering 202 with the job still queued.
const DefaultAwardWait = 3 * time.Second

// MaxWait is the longest hold GET /v1/checkouts/{id}?wait= grants.
const MaxWait = 60 * time.Second

// Config configures a Server. Token, Checkouts, Jobs and Users are
// required; the zero value of every other field means its default.
type Config struct {
	// Token is the bearer token every route but /healthz requires (see
	// LoadOrCreateToken). Required, at least 16 characters.
	Token string
	// Checkouts is the checkout engine. Required.
	Checkouts Checkouts
	// Jobs is the durable queue; an award_receive handler should be
	// registered on it for POST /v1/awards to complete. Required.
	Jobs Jobs
	// Users calls the gateway's user methods (consult, agreements).
	// Required.
	Users UserAPIs
	// DB is the database GET /v1/backup copies. Default nil: that route
	// answers 404.
	DB *bolt.DB
	// Status fills GET /v1/status. Default: only Version, the queue depth
	// and the checkout counts.
	Status func(ctx context.Context) Status
	// Version is reported by GET /v1/status when Status is nil. Default "".
	Version string
	// ConsultScene is the scene POST /v1/consult uses when the request
	// names none ([marketing] consult_scene). Default "": the request must
	// name one.
	ConsultScene string
	// Logger receives one debug line per request (event api_request) and
	// error lines for internal errors and panics. Default: no logging.
	Logger *zerolog.Logger
	// AwardWait is how long POST /v1/awards waits for the award job before
	// answering 202 (queued). Default 3 s; negative: do not wait.
	AwardWait time.Duration
	// GatewayTimeout bounds a consult or agreement query made for a
	// request, on top of the gateway client's own timeout. Default 20 s.
	GatewayTimeout time.Duration
	// Listen is the address the API listens on ([api] listen); its host is
	// one of the Host names the API answers to. Default "": only the
	// loopback names.
	Listen string
	// Hosts are further Host names the API answers to ([api] hosts), with
	// or without a port. Requests for any other Host get 421, a guard
	// against DNS rebinding from a web page opened on the till. Default
	// none: localhost, 127.0.0.1, [::1] and Listen's host only.
	Hosts []string
	// Metrics is gathered by GET /metrics (Prometheus text format). Default
	// nil: that route answers 404.
	Metrics prometheus.Gatherer
	// Events is the change feed GET /v1/events streams. Default nil: that
	// route answers 404.
	Events *events.Broker
	// CORSOrigins are the browser origins (scheme://host[:port]) allowed to
	// call the API ([api] cors_origins). Default none.
	CORSOrigins []string
	// Refunds serves the refund routes (SPEC §11). Default: Checkouts, when
	// it implements Refunds (*checkout.Engine does); else those routes
	// answer 404.
	Refunds Refunds
	// RefundWait is how long POST /v1/checkouts/{id}/refunds waits for the
	// refund's outcome before answering it pending. Default 3 s; negative:
	// do not wait.
	RefundWait time.Duration
	// Reports gives GET /v1/reports/daily. Default nil: that route answers
	// 404.
	Reports Reports
	// Reconciler runs POST /v1/reconciliations and keeps GET
	// /v1/reconciliations/{date}. Default nil: those routes answer 404.
	Reconciler Reconciler
}

// Server is the local API; it implements http.Handler. Create it with New.
type Server struct {
	cfg     Config
	log     *zerolog.Logger
	token   [sha256.Size]byte
	mux     *http.ServeMux
	handler http.Handler
}

// New checks cfg and builds the server with the routes of SPEC §6.
func New(cfg Config) (*Server, error) {
	switch {
	case len(cfg.Token) < 16:
		return nil, errors.New("api: the token must be at least 16 characters")
	case cfg.Checkouts == nil || cfg.Jobs == nil || cfg.Users == nil:
		return nil, errors.New("api: New needs Checkouts, Jobs and Users")
	}
	if cfg.AwardWait == 0 {
		cfg.AwardWait = DefaultAwardWait
	}
	if cfg.GatewayTimeout <= 0 {
		cfg.GatewayTimeout = 20 * time.Second
	}
	s := &Server{cfg: cfg, log: cfg.Logger, token: sha256.Sum256([]byte(cfg.Token)), mux: http.NewServeMux()}
	if s.log == nil {
		nop := zerolog.Nop()
		s.log = &nop
	}
	s.routes()
	s.handler = s.logRequests(s.recoverPanics(s.checkHost(s.cors(s.authenticate(s.mux)))))
	return s, nil
}

// routePublic is the health check, which needs no token.
const routePublic = "GET /healthz"

// publicRoutes need no token: the health check, and the status page's
// login form, login and static files (the page itself asks for the token).
var publicRoutes = map[string]bool{
	routePublic:      true,
	"GET /{$}":       true,
	"POST /login":    true,
	"GET /ui/{file}": true,
}

// route is one route of the API: its pattern, handler and the query
// parameters it reads. Any other query parameter is refused with 400, so a
// typo (?stat=paid) is never silently ignored. openapi.json describes
// exactly these routes and parameters (TestOpenAPIDescribesEveryRoute).
type route struct {
	pattern string
	h       http.HandlerFunc
	query   []string
}

// table lists every route of SPEC §6 but the catch-all.
func (s *Server) table() []route {
	return []route{
		{"POST /v1/checkouts", s.createCheckout, nil},
		{"GET /v1/checkouts", s.listCheckouts, []string{"state", "limit", "before", "order_id"}},
		{"GET /v1/checkouts/{id}", s.getCheckout, []string{"wait", "since"}},
		{"POST /v1/checkouts/{id}/cancel", s.cancelCheckout, nil},
		{"POST /v1/checkouts/{id}/resolve", s.resolveCheckout, nil},
		{"POST /v1/checkouts/{id}/refunds", s.createRefund, nil},
		{"GET /v1/checkouts/{id}/refunds", s.listCheckoutRefunds, nil},
		{"GET /v1/refunds", s.listRefunds, []string{"state", "date", "limit"}},
		{"GET /v1/jobs", s.listJobs, []string{"state", "kind", "limit", "before"}},
		{"GET /v1/jobs/{id}", s.getJob, nil},
		{"POST /v1/jobs/{id}/retry", s.retryJob, nil},
		{"DELETE /v1/jobs/{id}", s.dropJob, nil},
		{"POST /v1/coupons", s.importCoupons, nil},
		{"GET /v1/coupons", s.listCoupons, []string{"user_id"}},
		{"POST /v1/consult", s.consult, nil},
		{"POST /v1/awards", s.award, nil},
		{"GET /v1/users/{user_id}/agreements", s.agreements, []string{"personal_product_code", "sign_scene", "third_party_type", "product_code"}},
		{"GET /v1/reports/daily", s.dailyReport, []string{"date"}},
		{"POST /v1/reconciliations", s.reconcileDay, nil},
		{"GET /v1/reconciliations/{date}", s.getReconciliation, nil},
		{"GET /v1/status", s.getStatus, nil},
		{"GET /v1/backup", s.backup, nil},
		{"GET /v1/openapi.json", s.openAPI, nil},
		{"GET /v1/events", s.streamEvents, []string{"last_event_id"}},
		{"GET /metrics", s.metrics, nil},
		{routePublic, s.healthz, nil},
		{"GET /{$}", s.page, nil},
		{"POST /login", s.login, nil},
		{"POST /logout", s.logout, nil},
		{"GET /ui/{file}", s.pageFile, nil},
	}
}

func (s *Server) routes() {
	for _, rt := range s.table() {
		s.mux.HandleFunc(rt.pattern, onlyQuery(rt.query, rt.h))
	}
	// Everything else: a JSON 404, or 405 when another method has the path.
	s.mux.HandleFunc("/", s.noRoute)
}

// onlyQuery refuses a request with a query parameter not in names.
func onlyQuery(names []string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k := range r.URL.Query() {
			if !slices.Contains(names, k) {
				if len(names) == 0 {
					writeError(w, errorf(http.StatusBadRequest, "BAD_QUERY", "%s takes no query parameters; remove %q", r.Pattern, k))
				} else {
					writeError(w, errorf(http.StatusBadRequest, "BAD_QUERY", "unknown query parameter %q; %s takes %s", k, r.Pattern, strings.Join(names, ", ")))
				}
				return
			}
		}
		h(w, r)
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// probeMethods are tried to tell a 405 from a 404.
var probeMethods = []string{http.MethodGet, http.MethodPost, http.MethodDelete}

func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range probeMethods {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, errorf(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "%s %s is not allowed; use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
		return
	}
	writeError(w, errorf(http.StatusNotFound, "NOT_FOUND", "no route %s %s", r.Method, r.URL.Path))
}

// authenticate requires the bearer token, or the status page's session
// cookie, on every route but the public ones. A request authenticated by
// the cookie that changes anything must also carry the session's CSRF
// token (403 otherwise). The comparison of tokens is of SHA-256 digests in
// constant time, so neither the token's bytes nor its length leak through
// timing.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := s.mux.Handler(r); publicRoutes[pattern] {
			next.ServeHTTP(w, r)
			return
		}
		h := r.Header.Get("Authorization")
		if h == "" {
			if sess := s.session(r); sess != "" {
				if !safeMethod(r.Method) && !s.validCSRF(r, sess) {
					writeError(w, errorf(http.StatusForbidden, "CSRF", "the page's CSRF token is missing or wrong; reload the page"))
					return
				}
				next.ServeHTTP(w, r)
				return
			}
		}
		scheme, tok, ok := strings.Cut(h, " ")
		if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="posagent"`)
			writeError(w, errorf(http.StatusUnauthorized, "UNAUTHORIZED", "send Authorization: Bearer <token>, with the token from api.token_file"))
			return
		}
		if !s.validToken(tok) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="posagent", error="invalid_token"`)
			writeError(w, errorf(http.StatusUnauthorized, "UNAUTHORIZED", "the bearer token is wrong; use the token from api.token_file"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// validToken compares tok with the API token in constant time.
func (s *Server) validToken(tok string) bool {
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	return subtle.ConstantTimeCompare(sum[:], s.token[:]) == 1
}

// recoverPanics turns a panic in a handler into a 500 (when nothing was
// written yet) and an error log line with the stack.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error().Str("event", "api_panic").Str("method", r.Method).Str("path", r.URL.Path).
				Str("panic", fmt.Sprint(v)).Bytes("stack", debug.Stack()).Msg("panic in an API handler")
			if rec, ok := w.(*statusRecorder); !ok || rec.status == 0 {
				writeError(w, errorf(http.StatusInternalServerError, "INTERNAL", "internal error; see the posagent log"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// logRequests writes one debug line per request: method, path (without the
// query), route, status, duration. Never headers or bodies: they may hold
// the token or payment codes.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.log.Debug().Str("event", "api_request").Str("method", r.Method).Str("path", r.URL.Path).
			Str("route", r.Pattern).Int("status", rec.status).Int64("bytes", rec.bytes).
			Dur("duration", time.Since(start)).Str("remote", r.RemoteAddr).Msg("api request")
	})
}

// statusRecorder remembers the status and size of a reply.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
