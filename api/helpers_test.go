package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/api"
	"posagent/checkout"
	"posagent/events"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/internal/logtest"
	"posagent/queue"
)

func TestMain(m *testing.M) {
	// Tests talk to 127.0.0.1 only: refuse any other dial.
	d := &net.Dialer{Timeout: 5 * time.Second}
	http.DefaultTransport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
			return nil, fmt.Errorf("test dialed %s: only loopback allowed", addr)
		}
		return d.DialContext(ctx, network, addr)
	}
	os.Exit(m.Run())
}

// logBuf collects the log lines of the code under test.
type logBuf = logtest.Buffer

// gatewayServer serves the sandbox's handler on a fixed loopback address
// that can be stopped and started again, to take the gateway offline.
type gatewayServer struct {
	tb   testing.TB
	h    http.Handler
	addr string

	mu  sync.Mutex
	srv *http.Server
}

func (g *gatewayServer) start() {
	g.tb.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.srv != nil {
		return
	}
	addr := g.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for range 50 { // the old socket may linger a moment after stop
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		g.tb.Fatalf("gateway listen %s: %v", addr, err)
	}
	g.addr = ln.Addr().String()
	g.srv = &http.Server{Handler: g.h, ReadHeaderTimeout: 5 * time.Second}
	go g.srv.Serve(ln)
}

func (g *gatewayServer) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.srv != nil {
		g.srv.Close()
		g.srv = nil
	}
}

// env is a real checkout engine and queue on a temp bbolt file, a sandbox
// gateway, and the API behind an httptest server on 127.0.0.1.
type env struct {
	tb     testing.TB
	SB     *sandbox.Sandbox
	GW     *gatewayServer
	DB     *bolt.DB
	Q      *queue.Queue
	E      *checkout.Engine
	API    *api.Server
	HTTP   *httptest.Server
	Client *api.Client
	Token  string
	Logs   *logBuf
}

type envOptions struct {
	AwardWait    time.Duration
	ConsultScene string
	Status       func(context.Context) api.Status
	Hosts        []string
	CORSOrigins  []string
	Events       *events.Broker
	Metrics      bool // serve the engine's and the queue's collectors
}

func mustOpenEnv(tb testing.TB, o envOptions) *env {
	tb.Helper()
	dir := tb.TempDir()
	logs := &logBuf{}
	log := zerolog.New(logs).Level(zerolog.DebugLevel).With().Timestamp().Logger()

	sb, err := sandbox.New(sandbox.Config{Dir: filepath.Join(dir, "sandbox")})
	if err != nil {
		tb.Fatal(err)
	}
	gs := &gatewayServer{tb: tb, h: sb.Handler()}
	gs.start()
	tb.Cleanup(gs.stop)
	gw := sb.Client() // in-process until pointed at the listener
	gw.URL = "http://" + gs.addr + "/gateway.do"
	gw.HTTPClient = nil
	gw.Timeout = 2 * time.Second

	db, err := bolt.Open(filepath.Join(dir, "posagent.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	q, err := queue.Open(db, queue.Options{
		Logger:        &log,
		BaseBackoff:   10 * time.Millisecond,
		MaxBackoff:    100 * time.Millisecond,
		ProbeInterval: 50 * time.Millisecond,
		JobTimeout:    5 * time.Second,
	})
	if err != nil {
		db.Close()
		tb.Fatal(err)
	}
	q.Handle(queue.KindAwardReceive, queue.NewAwardHandler(gw))
	e, err := checkout.New(db, q, gw, checkout.Options{
		TerminalID:        "T01",
		StoreID:           "S001",
		PayPID:            sb.PayPID(),
		QueryInterval:     20 * time.Millisecond,
		DecisionDeadline:  2 * time.Second,
		DecodeRetryWindow: 250 * time.Millisecond,
		DrainTimeout:      time.Second,
		Logger:            &log,
	})
	if err != nil {
		db.Close()
		tb.Fatal(err)
	}
	qctx, stopQ := context.WithCancel(context.Background())
	qDone := make(chan struct{})
	go func() {
		defer close(qDone)
		if err := q.Run(qctx); err != nil {
			tb.Errorf("queue.Run: %v", err)
		}
	}()
	if err := e.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	token := "test-token-0123456789abcdef"
	var reg *prometheus.Registry
	if o.Metrics {
		reg = prometheus.NewRegistry()
		reg.MustRegister(e.Collector(), q.Collector())
	}
	srv, err := api.New(api.Config{
		Token: token, Checkouts: e, Jobs: q, Users: gw,
		Status: o.Status, Version: "test", ConsultScene: o.ConsultScene,
		Logger: &log, AwardWait: o.AwardWait,
		Hosts: o.Hosts, CORSOrigins: o.CORSOrigins, Events: o.Events,
		Metrics: gatherer(reg),
	})
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	if !strings.HasPrefix(hs.URL, "http://127.0.0.1:") {
		tb.Fatalf("test server not on loopback: %s", hs.URL)
	}
	en := &env{tb: tb, SB: sb, GW: gs, DB: db, Q: q, E: e, API: srv, HTTP: hs,
		Client: api.NewClient(hs.URL, token), Token: token, Logs: logs}
	tb.Cleanup(func() {
		hs.Close()
		e.Close()
		stopQ()
		<-qDone
		db.Close()
	})
	return en
}

// do sends a raw request with the token and returns status, headers and
// the decoded JSON body (nil when the body is not JSON).
func (en *env) do(method, path, body string, hdr ...string) (int, http.Header, map[string]any) {
	en.tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, en.HTTP.URL+path, rd)
	if err != nil {
		en.tb.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+en.Token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		en.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		m = nil
	}
	return resp.StatusCode, resp.Header, m
}

// errCode returns the error.code of a decoded error body.
func errCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func errMessage(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

var seq atomic.Int64

func init() { seq.Store(time.Now().UnixNano() % 1e8) }

// newOrderID is a fresh order id.
func newOrderID() string { return fmt.Sprintf("ORD-%d", seq.Add(1)) }

// normalCode is a fresh ordinary payment code (prefix 28, not a test code).
func normalCode() string { return fmt.Sprintf("28%016d", seq.Add(1)%1e16) }

// newMobile is a fresh mobile number ending in an odd digit (a NEW user in
// the sandbox).
func newMobile() string { return fmt.Sprintf("138%07d1", seq.Add(1)%1e7) }

// mustCreate creates a checkout through the client.
func (en *env) mustCreate(amount string) checkout.Checkout {
	en.tb.Helper()
	a, err := gateway.ParseAmount(amount)
	if err != nil {
		en.tb.Fatal(err)
	}
	c, created, err := en.Client.CreateCheckout(context.Background(), api.CreateCheckoutRequest{
		OrderID: newOrderID(), Amount: a, Subject: "Test order",
	})
	if err != nil || !created {
		en.tb.Fatalf("create: %v (created %v)", err, created)
	}
	return c
}

// settle cancels c if it is still awaiting a scan, freeing the scan slot.
func (en *env) settle(c checkout.Checkout) {
	en.tb.Helper()
	if _, err := en.Client.CancelCheckout(context.Background(), c.ID); err != nil {
		en.tb.Fatalf("cancel %s: %v", c.ID, err)
	}
}

// nopUsers is a UserAPIs that is never called.
type nopUsers struct{}

func (nopUsers) SceneConsult(context.Context, gateway.ConsultRequest) (*gateway.ConsultResponse, error) {
	return nil, errors.New("not here")
}

func (nopUsers) AgreementQuery(context.Context, gateway.AgreementQueryRequest) (*gateway.AgreementQueryResponse, error) {
	return nil, errors.New("not here")
}

func zerologTo(w io.Writer) *zerolog.Logger {
	l := zerolog.New(w).Level(zerolog.DebugLevel)
	return &l
}

func newLoopbackServer(tb testing.TB, h http.Handler) *httptest.Server {
	tb.Helper()
	hs := httptest.NewServer(h)
	if !strings.HasPrefix(hs.URL, "http://127.0.0.1:") {
		tb.Fatalf("test server not on loopback: %s", hs.URL)
	}
	tb.Cleanup(hs.Close)
	return hs
}

func queueFilter(state, kind string, limit int) queue.Filter {
	return queue.Filter{State: state, Kind: kind, Limit: limit}
}

// gatherer is reg as a Gatherer, nil when reg is nil (no metrics served).
func gatherer(reg *prometheus.Registry) prometheus.Gatherer {
	if reg == nil {
		return nil
	}
	return reg
}
