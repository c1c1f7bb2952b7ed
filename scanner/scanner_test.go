package scanner_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"posagent/gateway"
	"posagent/internal/logtest"
	"posagent/scanner"
)

// logBuffer collects the log lines of the code under test.
type logBuffer struct{ logtest.Buffer }

// events returns the log lines whose "event" is name.
func (b *logBuffer) events(tb testing.TB, name string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			tb.Fatalf("log line %q: %v", line, err)
		}
		if m["event"] == name {
			out = append(out, m)
		}
	}
	return out
}

// mustNotLogCodes fails if any of codes appears whole in the log.
func (b *logBuffer) mustNotLogCodes(tb testing.TB, codes ...string) {
	tb.Helper()
	logs := b.String()
	for _, c := range codes {
		if strings.Contains(logs, c) {
			tb.Errorf("the log holds the full code %s:\n%s", gateway.MaskCode(c), logs)
		}
	}
}

// fakeClock is a settable clock for dedupe and frame gap.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t0.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// MustNewScanner returns a scanner for cfg that logs at debug level into the
// returned buffer.
func MustNewScanner(tb testing.TB, cfg scanner.Config) (*scanner.Scanner, *logBuffer) {
	tb.Helper()
	logs := &logBuffer{}
	cfg.Logger = zerolog.New(logs).Level(zerolog.DebugLevel)
	s, err := scanner.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s, logs
}

// running is a Scanner whose Run goroutine a test controls.
type running struct {
	scans  chan scanner.Scan
	cancel context.CancelFunc
	done   chan error
}

// MustRun starts s.Run; scans arrive on the returned channel. Cleanup stops
// it and fails the test if Run has not returned within 2 s.
func MustRun(tb testing.TB, s *scanner.Scanner) *running {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{scans: make(chan scanner.Scan, 64), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx, func(sc scanner.Scan) { r.scans <- sc }) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(2 * time.Second):
			tb.Error("Run did not return within 2s of cancel")
		}
	})
	return r
}

// next waits up to 5 s for a scan.
func (r *running) next(tb testing.TB) scanner.Scan {
	tb.Helper()
	select {
	case sc := <-r.scans:
		return sc
	case err := <-r.done:
		tb.Fatalf("Run returned %v while waiting for a scan", err)
	case <-time.After(5 * time.Second):
		tb.Fatal("no scan within 5s")
	}
	panic("unreachable")
}

// none checks that no scan has been delivered so far.
func (r *running) none(tb testing.TB) {
	tb.Helper()
	select {
	case sc := <-r.scans:
		tb.Fatalf("unexpected scan %+v", sc)
	default:
	}
}

// waitState polls s.State until it is want, for up to 5 s.
func waitState(tb testing.TB, s *scanner.Scanner, want string) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for s.State() != want {
		if time.Now().After(deadline) {
			tb.Fatalf("state = %q after 5s, want %q", s.State(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  scanner.Config
		err  string // "" = valid
	}{
		{"zero is stdin at defaults", scanner.Config{}, ""},
		{"serial", scanner.Config{Device: "/dev/ttyUSB0", Baud: 115200, FrameGap: scanner.DefaultFrameGap, DedupeWindow: scanner.DefaultDedupeWindow, ReadTimeout: 200 * time.Millisecond}, ""},
		{"odd baud", scanner.Config{Baud: 9601}, "baud 9601"},
		{"negative baud", scanner.Config{Baud: -9600}, "baud -9600"},
		{"negative frame gap", scanner.Config{FrameGap: -time.Second}, "frame_gap"},
		{"negative dedupe", scanner.Config{DedupeWindow: -time.Second}, "dedupe_window"},
		{"read timeout too short", scanner.Config{ReadTimeout: 50 * time.Millisecond}, "read timeout"},
		{"read timeout too long", scanner.Config{ReadTimeout: 30 * time.Second}, "read timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := scanner.New(tt.cfg)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.State() != scanner.StateClosed {
					t.Fatalf("state before Run = %q", s.State())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("err = %v, want one naming %q", err, tt.err)
			}
		})
	}
}

func TestRunStdin(t *testing.T) {
	pr, pw, err := os.Pipe() // has read deadlines
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	clock := newFakeClock()
	s, logs := MustNewScanner(t, scanner.Config{Stdin: pr, DedupeWindow: 2 * time.Second, Now: clock.Now})
	r := MustRun(t, s)
	waitState(t, s, scanner.StateStdin)

	const alipay, wechat, union = "286123456789012345", "134567890123456789", "6212345678901234567"
	write := func(s string) {
		t.Helper()
		if _, err := io.WriteString(pw, s); err != nil {
			t.Fatal(err)
		}
	}
	write("]C0" + alipay + "\r\n")
	if sc := r.next(t); sc != (scanner.Scan{Code: alipay, Kind: scanner.KindAlipay, Source: "stdin", At: clock.Now()}) {
		t.Fatalf("scan = %+v", sc)
	}
	write(alipay + "\r\n" + wechat + "\n") // the repeat is a duplicate
	if sc := r.next(t); sc.Code != wechat || sc.Kind != scanner.KindWeChat {
		t.Fatalf("scan = %+v, want the WeChat code", sc)
	}
	clock.Advance(2 * time.Second) // the window has passed
	write(alipay + "\r")
	if sc := r.next(t); sc.Code != alipay || !sc.At.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("scan = %+v, want the Alipay code again at t0+2s", sc)
	}
	write("6212345\xff678901234567\r" + union + "\r")
	if sc := r.next(t); sc.Code != union || sc.Kind != scanner.KindUnionPay {
		t.Fatalf("scan = %+v, want the UnionPay code", sc)
	}
	r.none(t)

	if n := len(logs.events(t, "scan")); n != 4 {
		t.Errorf("%d scan log lines, want 4", n)
	}
	if dup := logs.events(t, "scan_duplicate"); len(dup) != 1 || dup[0]["code"] != gateway.MaskCode(alipay) {
		t.Errorf("scan_duplicate lines = %v, want one with the masked code", dup)
	}
	if rej := logs.events(t, "scan_rejected"); len(rej) != 1 || rej[0]["level"] != "warn" || rej[0]["code"] != gateway.MaskCode("6212345\xff678901234567") {
		t.Errorf("scan_rejected lines = %v, want one warning with the masked code", rej)
	}
	logs.mustNotLogCodes(t, alipay, wechat, union, "6212345\xff678901234567")
}

func TestRunStdinFrameGap(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pr.Close(); pw.Close() })
	s, _ := MustNewScanner(t, scanner.Config{Stdin: pr, FrameGap: 200 * time.Millisecond})
	r := MustRun(t, s)
	start := time.Now()
	io.WriteString(pw, "286123456789012345") // no suffix
	sc := r.next(t)
	if sc.Code != "286123456789012345" {
		t.Fatalf("scan = %+v", sc)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("frame ended after %v, before the 200ms gap", waited)
	}
}

func TestRunStdinEOF(t *testing.T) {
	pr, pw := io.Pipe() // no read deadlines: read by a pump goroutine
	s, logs := MustNewScanner(t, scanner.Config{Stdin: pr})
	r := MustRun(t, s)
	waitState(t, s, scanner.StateStdin)
	go func() {
		io.WriteString(pw, "6901234567892\n286123456789012345") // the last line has no newline
		pw.Close()
	}()
	if sc := r.next(t); sc.Code != "6901234567892" || sc.Kind != scanner.KindOther {
		t.Fatalf("scan = %+v", sc)
	}
	if sc := r.next(t); sc.Code != "286123456789012345" {
		t.Fatalf("scan = %+v, want the unterminated last code", sc)
	}
	waitState(t, s, scanner.StateClosed)
	select {
	case err := <-r.done:
		t.Fatalf("Run returned %v at the end of stdin; it should wait for its context", err)
	default:
	}
	if n := len(logs.events(t, "scanner_eof")); n != 1 {
		t.Fatalf("%d scanner_eof lines, want 1", n)
	}
}

func TestRunCancelStdin(t *testing.T) {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	s, _ := MustNewScanner(t, scanner.Config{Stdin: pr})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(scanner.Scan) {}) }()
	waitState(t, s, scanner.StateStdin)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of cancel while stdin was blocked")
	}
	if got := s.State(); got != scanner.StateClosed {
		t.Fatalf("state after Run = %q", got)
	}
}

func TestRunTwice(t *testing.T) {
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	s, _ := MustNewScanner(t, scanner.Config{Stdin: pr})
	MustRun(t, s)
	waitState(t, s, scanner.StateStdin)
	if err := s.Run(context.Background(), func(scanner.Scan) {}); !errors.Is(err, scanner.ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
}
