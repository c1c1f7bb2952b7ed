package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway/sandbox"
	"posagent/queue"
)

// fuzzRoutes are the JSON-body routes FuzzAPIRequests drives; the first
// byte of the input picks one.
var fuzzRoutes = []string{"/v1/checkouts", "/v1/coupons", "/v1/consult", "/v1/awards"}

// fuzzServer is the real API over a real engine and queue on a temp bbolt
// file, with the gateway sandbox called in process (no socket), built once
// per fuzzing process.
type fuzzServer struct {
	srv   *api.Server
	e     *checkout.Engine
	token string
	logs  *tailBuf
}

// tailBuf keeps the last 64 KiB of the log: a fuzzing process runs for
// minutes.
type tailBuf struct {
	mu sync.Mutex
	b  []byte
}

func (l *tailBuf) Write(p []byte) (int, error) {
	const keep = 64 << 10
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if len(l.b) > 2*keep {
		l.b = append(l.b[:0], l.b[len(l.b)-keep:]...)
	}
	return len(p), nil
}

func (l *tailBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}

func mustOpenFuzzServer(f *testing.F) *fuzzServer {
	f.Helper()
	dir := f.TempDir()
	logs := &tailBuf{}
	log := zerolog.New(logs).Level(zerolog.WarnLevel)
	sb, err := sandbox.New(sandbox.Config{Dir: filepath.Join(dir, "sandbox")})
	if err != nil {
		f.Fatal(err)
	}
	gw := sb.Client() // not started: calls the handler in process
	gw.Timeout = 5 * time.Second
	// NoSync: the fuzzer wants executions, not durability.
	db, err := bolt.Open(filepath.Join(dir, "posagent.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second, NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	q, err := queue.Open(db, queue.Options{Logger: &log, BaseBackoff: 10 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		db.Close()
		f.Fatal(err)
	}
	q.Handle(queue.KindAwardReceive, queue.NewAwardHandler(gw))
	e, err := checkout.New(db, q, gw, checkout.Options{
		TerminalID: "T01",
		StoreID:    "S001",
		PayPID:     sb.PayPID(),
		// Short waits: a fuzzed auth_code can be a sandbox test code that
		// waits for the buyer or answers the decode "unknown".
		QueryInterval:     20 * time.Millisecond,
		DecisionDeadline:  200 * time.Millisecond,
		DecodeRetryWindow: 50 * time.Millisecond,
		DrainTimeout:      time.Second,
		Logger:            &log,
	})
	if err != nil {
		db.Close()
		f.Fatal(err)
	}
	ctx, stopQ := context.WithCancel(context.Background())
	qDone := make(chan struct{})
	go func() {
		defer close(qDone)
		q.Run(ctx)
	}()
	if err := e.Start(context.Background()); err != nil {
		f.Fatal(err)
	}
	token := "fuzz-token-0123456789abcdef"
	srv, err := api.New(api.Config{
		Token: token, Checkouts: e, Jobs: q, Users: gw, Version: "fuzz",
		Logger: &log, AwardWait: -1, // answer at once: 200 when done already, else 202
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		e.Close()
		stopQ()
		<-qDone
		db.Close()
	})
	return &fuzzServer{srv: srv, e: e, token: token, logs: logs}
}

// FuzzAPIRequests sends fuzzed JSON bodies to the POST routes that take
// one (the first byte picks the route) and checks the contract of every
// reply: never a 5xx (a panic is recovered as a 500), JSON always, and
// every error {"error":{"code","message"}} with both set.
func FuzzAPIRequests(f *testing.F) {
	fs := mustOpenFuzzServer(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		path := fuzzRoutes[int(data[0])%len(fuzzRoutes)]
		body := data[1:]
		if path == "/v1/checkouts" {
			fs.freeScanSlot(t)
		}
		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+fs.token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		fs.srv.ServeHTTP(rec, req)
		reply := rec.Body.Bytes()
		status := rec.Code

		if status >= 500 {
			t.Fatalf("POST %s %q: %d %s\nlog:\n%s", path, body, status, reply, fs.logs.String())
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("POST %s %q: %d with Content-Type %q", path, body, status, ct)
		}
		if !json.Valid(reply) {
			t.Fatalf("POST %s %q: %d with a body that is not JSON: %q", path, body, status, reply)
		}
		if status < 200 || status > 299 {
			var e map[string]json.RawMessage
			var inner struct {
				Code    *string `json:"code"`
				Message *string `json:"message"`
			}
			if json.Unmarshal(reply, &e) != nil || len(e) != 1 || json.Unmarshal(e["error"], &inner) != nil ||
				inner.Code == nil || *inner.Code == "" || inner.Message == nil || *inner.Message == "" {
				t.Fatalf("POST %s %q: %d with %s, want {\"error\":{\"code\",\"message\"}}", path, body, status, reply)
			}
			return
		}
		if path == "/v1/checkouts" && status == http.StatusCreated {
			var c checkout.Checkout
			if err := json.Unmarshal(reply, &c); err != nil || c.ID == "" {
				t.Fatalf("POST %s %q: 201 with %s: %v", path, body, reply, err)
			}
		}
	})
}

// freeScanSlot lets a decode under way finish (a second or so at most)
// and abandons the checkout awaiting a scan: either holds the terminal's
// one scan slot, and every later create would be a 409.
func (fs *fuzzServer) freeScanSlot(t *testing.T) {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		cs, err := fs.e.List(checkout.ListFilter{State: checkout.Decoding, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			break
		}
	}
	cs, err := fs.e.List(checkout.ListFilter{State: checkout.AwaitingScan})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if _, err := fs.e.Cancel(context.Background(), c.ID); err != nil && !errors.Is(err, checkout.ErrConflict) {
			t.Fatalf("cancel %s: %v", c.ID, err)
		}
	}
}
