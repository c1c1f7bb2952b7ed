//go:build linux

package testenv

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Scanner is a barcode scanner on a pseudo-terminal: the daemon opens the
// slave (through a symlink, as /dev/serial/by-id names a USB scanner) and
// the test "scans" by writing to the master.
type Scanner struct {
	// Path is the device to configure as [scanner] device: a symlink to
	// the pty slave.
	Path string

	master *os.File
	slave  *os.File // held so the tty outlives daemon kills; never read

	mu    sync.Mutex
	codes []string // everything scanned, for the log checks
}

// OpenScanner opens a pty pair for a daemon's scanner; t.Cleanup closes it.
// The test keeps a descriptor of the slave open (and never reads it), so
// that the tty does not hang up between daemon runs and ReleaseExclusive
// can reach it.
func OpenScanner(tb testing.TB, dir string) *Scanner {
	tb.Helper()
	m, s, err := pty.Open()
	if err != nil {
		tb.Skipf("no pseudo-terminals here: %v", err)
	}
	tb.Cleanup(func() {
		m.Close()
		s.Close()
	})
	link := filepath.Join(dir, "scanner")
	if err := os.Symlink(s.Name(), link); err != nil {
		tb.Fatal(err)
	}
	return &Scanner{Path: link, master: m, slave: s}
}

// Scan sends code as a scanner set to a CRLF suffix does.
func (s *Scanner) Scan(tb testing.TB, code string) {
	tb.Helper()
	s.mu.Lock()
	s.codes = append(s.codes, code)
	s.mu.Unlock()
	if _, err := io.WriteString(s.master, code+"\r\n"); err != nil {
		tb.Fatalf("scan: write to the pty master: %v", err)
	}
}

// Codes returns every code scanned so far.
func (s *Scanner) Codes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.codes...)
}

// ReleaseExclusive clears TIOCEXCL on the tty. The daemon sets it while it
// holds the port and clears it when it closes the port; a daemon killed
// with SIGKILL cannot, and on a pty (unlike a USB adapter, whose tty goes
// away with its last descriptor) the flag outlives it because the master
// stays open: a restarted daemon not running as root would get EBUSY.
// Daemon.Kill calls this, standing in for the device reset a real port
// gets.
func (s *Scanner) ReleaseExclusive() error {
	return unix.IoctlSetInt(int(s.slave.Fd()), unix.TIOCNXCL, 0)
}
