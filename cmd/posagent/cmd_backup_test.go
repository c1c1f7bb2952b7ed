package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/api"
	"posagent/checkout"
	"posagent/gateway"
	"posagent/gateway/sandbox"
	"posagent/internal/logtest"
	"posagent/queue"
)

// liveDaemon is "posagent run" started in-process on a scratch data_dir.
type liveDaemon struct {
	Config  string // the config file
	DataDir string
	Client  *api.Client
	Stderr  *logtest.Buffer
	stop    func() int // cancels the run and returns its exit status
}

// mustStartDaemon runs "posagent run --config" in-process on the embedded
// sandbox, the scanner on an empty stdin, and waits until /healthz answers.
// Cleanup stops it (if the test did not).
func mustStartDaemon(tb testing.TB) *liveDaemon {
	tb.Helper()
	return mustStartDaemonIn(tb, tb.TempDir())
}

// mustStartDaemonIn is mustStartDaemon on dir, whose data folder "data"
// may hold a database already.
func mustStartDaemonIn(tb testing.TB, dir string) *liveDaemon {
	tb.Helper()
	addr := closedLoopbackAddr(tb)
	cfg := writeConfig(tb, dir, fmt.Sprintf(`[terminal]
data_dir = "data"

[api]
listen = %q
token_file = "data/api.token"

[log]
file = "logs/posagent.log"
`, addr))
	d := &liveDaemon{Config: cfg, DataDir: filepath.Join(dir, "data"), Stderr: &logtest.Buffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		m := &Main{Streams{Stdin: strings.NewReader(""), Stdout: d.Stderr, Stderr: d.Stderr}}
		done <- m.Run(ctx, []string{"run", "--config", cfg})
	}()
	var once sync.Once
	code := -1
	d.stop = func() int {
		once.Do(func() {
			cancel()
			code = <-done
		})
		return code
	}
	tb.Cleanup(func() { d.stop() })
	d.Client = api.NewClient("http://"+addr, "")
	for i := 0; ; i++ {
		select {
		case code := <-done:
			tb.Fatalf("posagent run exited %d:\n%s", code, d.Stderr)
		default:
		}
		if d.Client.Health(context.Background()) == nil {
			break
		}
		if i == 600 {
			tb.Fatalf("posagent run did not answer /healthz:\n%s", d.Stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tok, err := api.ReadToken(filepath.Join(d.DataDir, "api.token"))
	if err != nil {
		tb.Fatal(err)
	}
	d.Client.Token = tok
	return d
}

// pay runs one checkout to its end through the API, the register giving
// the code (auth_code), and returns its id.
func (d *liveDaemon) pay(tb testing.TB, amount gateway.Amount) string {
	tb.Helper()
	id, err := d.tryPay(amount)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// tryPay is pay for goroutines other than the test's.
func (d *liveDaemon) tryPay(amount gateway.Amount) (string, error) {
	ctx := context.Background()
	co, _, err := d.Client.CreateCheckout(ctx, api.CreateCheckoutRequest{
		OrderID: newOrder(), Amount: amount, Subject: "backup test", AuthCode: normalCode(),
	})
	if err != nil {
		return "", err
	}
	if co, err = d.Client.GetCheckout(ctx, co.ID, api.MaxWait); err != nil || co.State != checkout.Paid {
		return "", fmt.Errorf("checkout %s = %s, %v", co.ID, co.State, err)
	}
	return co.ID, nil
}

// openCopy opens a backup with the checkout engine (not started) and
// returns it, so a test reads the copy as posagent would after a restore.
func openCopy(tb testing.TB, path string) *checkout.Engine {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatalf("the backup does not open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	q, err := queue.Open(db, queue.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	e, err := checkout.New(db, q, sb.Client(), checkout.Options{TerminalID: "T01", PayPID: sb.PayPID()})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// The daemon keeps taking payments while "posagent backup" copies its
// database; the copy opens, passes bbolt's check, and holds every checkout
// that was paid before the backup started.
func TestBackupWhileTheDaemonRuns(t *testing.T) {
	d := mustStartDaemon(t)
	var before []string
	for range 5 {
		before = append(before, d.pay(t, 100))
	}

	// Traffic during the backups.
	stop := make(chan struct{})
	var traffic sync.WaitGroup
	traffic.Add(1)
	var during int
	go func() {
		defer traffic.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := d.tryPay(200); err != nil {
				t.Error(err)
				return
			}
			during++
		}
	}()
	out := filepath.Join(t.TempDir(), "copy.db")
	for i := range 3 {
		code, stdout, stderr := runMain(t, "backup", "--config", d.Config, "--out", out)
		if code != 0 || !strings.Contains(stdout, "a consistent copy from the running daemon") {
			t.Fatalf("backup %d = %d\n%s\n%s", i, code, stdout, stderr)
		}
	}
	close(stop)
	traffic.Wait()
	t.Logf("%d checkouts paid while the backups ran", during)

	if err := checkDB(out); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(out + ".tmp-*"); len(left) > 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	e := openCopy(t, out)
	for _, id := range before {
		if c, err := e.Get(id); err != nil || c.State != checkout.Paid {
			t.Fatalf("checkout %s in the copy: %+v %v", id, c, err)
		}
	}

	// Stopped: backup copies the file itself, and a restored copy is what
	// the next start serves.
	if code := d.stop(); code != 0 {
		t.Fatalf("posagent run exited %d\n%s", code, d.Stderr)
	}
	code, stdout, stderr := runMain(t, "backup", "--config", d.Config, "--out", out)
	if code != 0 || !strings.Contains(stdout, "(no daemon running)") {
		t.Fatalf("backup with the daemon stopped = %d\n%s\n%s", code, stdout, stderr)
	}
	if err := checkDB(out); err != nil {
		t.Fatal(err)
	}
}

// A backup refuses to overwrite the live database and leaves no file when
// there is nothing to copy.
func TestBackupRefusals(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("[terminal]\ndata_dir = \"data\"\n[api]\nlisten = %q\ntoken_file = \"data/api.token\"\n", closedLoopbackAddr(t)))
	out := filepath.Join(dir, "copy.db")
	code, _, stderr := runMain(t, "backup", "--config", cfg, "--out", out)
	if code != 1 || !strings.Contains(stderr, "posagent backup: backup: ") || !strings.Contains(stderr, "posagent.db") {
		t.Fatalf("backup of a missing database = %d\n%s", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a failed backup left %s: %v", out, err)
	}
	if code, _, stderr = runMain(t, "backup", "--config", cfg); code != 2 || !strings.Contains(stderr, "--out is required") {
		t.Fatalf("backup without --out = %d\n%s", code, stderr)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(dir, "data", "posagent.db")
	db, err := bolt.Open(live, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if code, _, stderr = runMain(t, "backup", "--config", cfg, "--out", live); code != 2 || !strings.Contains(stderr, "is the live database") {
		t.Fatalf("backup onto the live file = %d\n%s", code, stderr)
	}
}
