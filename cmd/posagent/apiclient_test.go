package main

import (
	"context"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway/sandbox"
	"posagent/queue"
)

// apiEnv is a real daemon core (engine, queue, in-process sandbox gateway)
// behind the real local API on 127.0.0.1, and a config file that points the
// operator verbs at it.
type apiEnv struct {
	tb     testing.TB
	Engine *checkout.Engine
	Queue  *queue.Queue
	Server *httptest.Server
	Config string // path of the config file
	Token  string
}

const testToken = "cli-test-token-0123456789"

func mustOpenAPIEnv(tb testing.TB) *apiEnv {
	tb.Helper()
	dir := tb.TempDir()
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	gw := sb.Client() // in process: no socket
	gw.Timeout = 2 * time.Second
	db, err := bolt.Open(filepath.Join(dir, "posagent.db"), 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	q, err := queue.Open(db, queue.Options{BaseBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, ProbeInterval: 50 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	q.Handle(queue.KindAwardReceive, queue.NewAwardHandler(gw))
	e, err := checkout.New(db, q, gw, checkout.Options{
		TerminalID: "T01", PayPID: sb.PayPID(),
		QueryInterval: 20 * time.Millisecond, DecisionDeadline: 2 * time.Second, DrainTimeout: time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.Run(ctx)
	}()
	if err := e.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	srv, err := api.New(api.Config{
		Token: testToken, Checkouts: e, Jobs: q, Users: gw, Version: "test",
		ConsultScene: "CLI_SCENE", AwardWait: 2 * time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	if !strings.HasPrefix(hs.URL, "http://127.0.0.1:") {
		tb.Fatalf("test server not on loopback: %s", hs.URL)
	}
	tb.Cleanup(func() {
		hs.Close()
		e.Close()
		stop()
		<-done
		db.Close()
	})
	tokenFile := filepath.Join(dir, "api.token")
	if err := os.WriteFile(tokenFile, []byte(testToken+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg := writeConfig(tb, dir, "[api]\nlisten = '"+strings.TrimPrefix(hs.URL, "http://")+"'\ntoken_file = '"+tokenFile+"'\n")
	return &apiEnv{tb: tb, Engine: e, Queue: q, Server: hs, Config: cfg, Token: testToken}
}

// run runs a verb against the env's daemon.
func (en *apiEnv) run(verb string, args ...string) (code int, stdout, stderr string) {
	en.tb.Helper()
	return runMain(en.tb, append([]string{verb, "--config", en.Config}, args...)...)
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestNotRunning(t *testing.T) {
	dir := t.TempDir()
	addr := closedAddr(t)
	// No token file yet (the daemon never started) and a token file
	// present: either way the operator learns the daemon is not running.
	noToken := writeConfig(t, dir, "[api]\nlisten = '"+addr+"'\ntoken_file = '"+filepath.Join(dir, "none.token")+"'\n")
	dir2 := t.TempDir()
	tokenFile := filepath.Join(dir2, "api.token")
	os.WriteFile(tokenFile, []byte(testToken), 0o600)
	withToken := writeConfig(t, dir2, "[api]\nlisten = '"+addr+"'\ntoken_file = '"+tokenFile+"'\n")
	want := "posagent is not running at " + addr + " (connection refused)"
	for _, cfg := range []string{noToken, withToken} {
		for _, args := range [][]string{
			{"status"},
			{"pay", "--order", "A1", "--amount", "1.00"},
			{"checkouts"},
			{"jobs"},
			{"coupons", "list"},
			{"consult", "--scene", "S", "--user-id", "2088000000000002"},
			{"award", "--mobile", "13800000001", "--out-biz-no", "X"},
			{"agreements", "--user-id", "2088000000000002", "--personal-product-code", "GENERAL_WITHHOLDING_P"},
		} {
			code, _, stderr := runMain(t, append(append([]string{args[0]}, "--config", cfg), args[1:]...)...)
			if code != 1 || !strings.Contains(stderr, want) {
				t.Errorf("%v (%s) = %d %q, want 1 and %q", args, filepath.Base(filepath.Dir(cfg)), code, stderr, want)
			}
		}
	}
}

func TestAPIAddr(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8089": "127.0.0.1:8089",
		"0.0.0.0:8089":   "127.0.0.1:8089",
		":8089":          "127.0.0.1:8089",
		"[::]:8089":      "127.0.0.1:8089",
		"[::1]:8089":     "[::1]:8089",
		"pos.local:8089": "pos.local:8089",
	} {
		if got := apiAddr(in); got != want {
			t.Errorf("apiAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }
