//go:build linux

package scanner_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"posagent/scanner"
)

// MustOpenPTY opens a pseudo-terminal and returns its master, the end a
// test writes scanner bytes into, and the slave's path, which the scanner
// opens through tarm/serial. The test's own slave descriptor is closed at
// once, so that only the scanner holds the device.
func MustOpenPTY(tb testing.TB) (master *os.File, path string) {
	tb.Helper()
	m, s, err := pty.Open()
	if err != nil {
		tb.Skipf("no pseudo-terminals here: %v", err)
	}
	path = s.Name()
	s.Close()
	tb.Cleanup(func() { m.Close() })
	return m, path
}

// pointLink makes link a symlink to target, replacing any old one at once,
// as udev does with /dev/serial/by-id links.
func pointLink(tb testing.TB, target, link string) {
	tb.Helper()
	tmp := link + ".new"
	if err := os.Symlink(target, tmp); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, link); err != nil {
		tb.Fatal(err)
	}
}

func writeAll(tb testing.TB, w io.Writer, s string) {
	tb.Helper()
	if _, err := io.WriteString(w, s); err != nil {
		tb.Fatal(err)
	}
}

func TestPTYScansAndReplug(t *testing.T) {
	master, path := MustOpenPTY(t)
	link := filepath.Join(t.TempDir(), "scanner")
	pointLink(t, path, link)
	s, logs := MustNewScanner(t, scanner.Config{Device: link, DedupeWindow: 2 * time.Second})
	r := MustRun(t, s)
	waitState(t, s, scanner.StateOpen)

	const code1, code2, code3 = "286123456789012345", "2912345678901234567", "134567890123456789"
	writeAll(t, master, "\x02]Q1"+code1+"\x03\r\n")
	if sc := r.next(t); sc.Code != code1 || sc.Kind != scanner.KindAlipay || sc.Source != link {
		t.Fatalf("scan = %+v", sc)
	}

	// Unplug: the master goes away and the slave hangs up.
	master.Close()
	waitState(t, s, scanner.StateReconnecting)

	// Replug: a new device appears under the configured path.
	master2, path2 := MustOpenPTY(t)
	pointLink(t, path2, link)
	waitState(t, s, scanner.StateOpen)
	writeAll(t, master2, code2+"\r"+code3+"\r")
	if sc := r.next(t); sc.Code != code2 {
		t.Fatalf("scan after replug = %+v, want %s", sc, code2)
	}
	if sc := r.next(t); sc.Code != code3 || sc.Kind != scanner.KindWeChat {
		t.Fatalf("scan after replug = %+v, want the WeChat code", sc)
	}

	if n := len(logs.events(t, "scanner_lost")); n != 1 {
		t.Errorf("%d scanner_lost lines, want 1:\n%s", n, logs)
	}
	if n := len(logs.events(t, "scanner_back")); n != 1 {
		t.Errorf("%d scanner_back lines, want 1:\n%s", n, logs)
	}
	logs.mustNotLogCodes(t, code1, code2, code3)
}

// TestPTYHangup hangs the tty up under the scanner while the master stays:
// reads then return (0, EOF) at once and forever, as a USB serial adapter's
// do when it is pulled (a closed pty master gives EIO instead).
func TestPTYHangup(t *testing.T) {
	master, path := MustOpenPTY(t)
	s, logs := MustNewScanner(t, scanner.Config{Device: path})
	r := MustRun(t, s)
	waitState(t, s, scanner.StateOpen)

	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("cannot open the held tty to hang it up (needs root): %v", err)
	}
	err = unix.IoctlSetInt(fd, unix.TIOCVHANGUP, 0)
	unix.Close(fd)
	if err != nil {
		t.Skipf("TIOCVHANGUP (needs CAP_SYS_ADMIN): %v", err)
	}

	// The scanner sees the hang-up, reopens the same path, and reads again.
	deadline := time.Now().Add(5 * time.Second)
	for len(logs.events(t, "scanner_back")) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no scanner_back within 5s:\n%s", logs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	lost := logs.events(t, "scanner_lost")
	if len(lost) != 1 || !strings.Contains(lost[0]["error"].(string), "hung up") {
		t.Fatalf("scanner_lost lines = %v, want one for the hang-up", lost)
	}
	writeAll(t, master, "286123456789012345\r")
	if sc := r.next(t); sc.Code != "286123456789012345" {
		t.Fatalf("scan after hang-up = %+v", sc)
	}
}

func TestPTYMissingAtStart(t *testing.T) {
	link := filepath.Join(t.TempDir(), "scanner")
	s, _ := MustNewScanner(t, scanner.Config{Device: link})
	r := MustRun(t, s)
	waitState(t, s, scanner.StateReconnecting)

	master, path := MustOpenPTY(t)
	pointLink(t, path, link)
	waitState(t, s, scanner.StateOpen)
	writeAll(t, master, "286123456789012345\n")
	if sc := r.next(t); sc.Code != "286123456789012345" {
		t.Fatalf("scan = %+v", sc)
	}
}

func TestPTYCancelDuringRead(t *testing.T) {
	_, path := MustOpenPTY(t)
	s, _ := MustNewScanner(t, scanner.Config{Device: path, ReadTimeout: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(scanner.Scan) {}) }()
	waitState(t, s, scanner.StateOpen)
	time.Sleep(50 * time.Millisecond) // let a read block in the driver

	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after cancel", err)
		}
		t.Logf("Run returned %v after cancel (read timeout 200ms)", time.Since(start))
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of cancel during a pending read")
	}
	if got := s.State(); got != scanner.StateClosed {
		t.Fatalf("state after Run = %q", got)
	}
}

// exclusive reports whether the tty at path has TIOCEXCL set (TIOCGEXCL,
// Linux 3.8+). Root may open an exclusive tty, which is what lets it look.
func exclusive(tb testing.TB, path string) bool {
	tb.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EBUSY) {
			return true
		}
		tb.Fatal(err)
	}
	defer unix.Close(fd)
	v, err := unix.IoctlGetInt(fd, unix.TIOCGEXCL)
	if err != nil {
		tb.Skipf("TIOCGEXCL: %v", err)
	}
	return v != 0
}

func TestPTYExclusive(t *testing.T) {
	_, path := MustOpenPTY(t)
	first, _ := MustNewScanner(t, scanner.Config{Device: path})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx, func(scanner.Scan) {}) }()
	waitState(t, first, scanner.StateOpen)

	if !exclusive(t, path) {
		t.Error("the open device is not marked TIOCEXCL")
	}
	if os.Geteuid() != 0 {
		// Any other program, not just posagent, is kept out.
		if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
			f.Close()
			t.Error("a plain open of the held device succeeded")
		} else if !errors.Is(err, unix.EBUSY) {
			t.Errorf("plain open: %v, want EBUSY", err)
		}
	}

	second, _ := MustNewScanner(t, scanner.Config{Device: path})
	err := second.Run(context.Background(), func(scanner.Scan) {})
	if !errors.Is(err, scanner.ErrBusy) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Run = %v, want ErrBusy naming %s", err, path)
	}
	t.Logf("second open: %v", err)

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if exclusive(t, path) {
		t.Error("TIOCEXCL still set after the scanner closed")
	}
	MustRun(t, second) // the device is free again
	waitState(t, second, scanner.StateOpen)
}

func TestPTYNotATerminal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plain-file")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := MustNewScanner(t, scanner.Config{Device: path})
	err := s.Run(context.Background(), func(scanner.Scan) {})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Run on a plain file = %v, want an error naming it", err)
	}
}

// BenchmarkScanLatencyPTY measures the time from the last byte of a code
// written to the pty master to the scan's delivery: the driver, one read,
// framing, classification and logging (to a discarding logger).
func BenchmarkScanLatencyPTY(b *testing.B) {
	master, path := MustOpenPTY(b)
	s, err := scanner.New(scanner.Config{Device: path})
	if err != nil {
		b.Fatal(err)
	}
	delivered := make(chan time.Time, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(scanner.Scan) { delivered <- time.Now() }) }()
	b.Cleanup(func() { cancel(); <-done })
	for s.State() != scanner.StateOpen {
		time.Sleep(time.Millisecond)
	}
	code := []byte("286123456789012345\r")
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		code[10] = '0' + byte(i%10) // no dedupe window here, but vary anyway
		sent := time.Now()
		if _, err := master.Write(code); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, (<-delivered).Sub(sent))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
