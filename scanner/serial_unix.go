//go:build unix

package scanner

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/tarm/serial"
	"golang.org/x/sys/unix"
)

// openSerial opens device with tarm/serial at baud, 8N1, and holds it
// exclusively.
//
// tarm/serial keeps its fd to itself, so a second descriptor of the same
// tty, the guard, carries the hold:
//  1. the guard is opened first (O_NONBLOCK, so no wait for carrier); EBUSY
//     means another process set TIOCEXCL;
//  2. flock(LOCK_EX|LOCK_NB) on the guard shuts out another posagent, also
//     one running as root, which TIOCEXCL does not stop, and closes the race
//     between two posagents starting at once;
//  3. tarm/serial opens and configures the port;
//  4. TIOCEXCL on the guard makes every later open(2) of the tty fail with
//     EBUSY (for non-root), so a terminal program cannot steal scans either.
//
// Close clears TIOCEXCL before the last descriptor goes: on a pty the flag
// would outlive us while the master stays open, and lock us out on reopen.
func openSerial(device string, baud int, readTimeout time.Duration) (port, error) {
	fd, err := unix.Open(device, unix.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("open %s: %w (it is held exclusively)", device, ErrBusy)
		}
		return nil, &fs.PathError{Op: "open", Path: device, Err: err}
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("open %s: %w (another posagent holds its lock)", device, ErrBusy)
		}
		return nil, &fs.PathError{Op: "flock", Path: device, Err: err}
	}
	p, err := serial.OpenPort(&serial.Config{Name: device, Baud: baud, ReadTimeout: readTimeout})
	if err != nil {
		if errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("open %s: %w", device, ErrBusy)
		}
		return nil, fmt.Errorf("open %s: %w", device, err)
	}
	if err := unix.IoctlSetInt(fd, unix.TIOCEXCL, 0); err != nil {
		p.Close()
		return nil, &fs.PathError{Op: "TIOCEXCL", Path: device, Err: err}
	}
	ok = true
	release := func() error {
		// On a hung-up tty the ioctl fails with EIO; the flag died with it.
		_ = unix.IoctlSetInt(fd, unix.TIOCNXCL, 0)
		return unix.Close(fd)
	}
	return newSerialPort(p, readTimeout, release), nil
}
