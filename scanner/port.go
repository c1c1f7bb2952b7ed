package scanner

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// port is an open scan source, read by one goroutine. Read returns within
// about the read timeout: (n > 0, nil) with data, (0, nil) when nothing
// arrived, io.EOF when the source has ended for good (stdin), and any other
// error when the device is lost and should be reopened. Close does not
// interrupt a pending Read.
type port interface {
	Read(p []byte) (int, error)
	Close() error
}

// errHangup: the device keeps answering reads with nothing, at once, as an
// unplugged or hung-up tty does.
var errHangup = errors.New("device hung up")

// hangupReads empty reads in a row, each quicker than half the read timeout,
// mean the device is gone. One such read can happen legitimately (a signal,
// a driver quirk); a run of them cannot.
const hangupReads = 3

// serialPort adapts a tarm/serial port to the port contract. tarm/serial
// reports a read timeout as (0, io.EOF) on Linux and (0, nil) on Windows,
// and a hung-up device reads the same way, only instantly and forever.
type serialPort struct {
	rc      io.ReadCloser
	timeout time.Duration // the driver's real read timeout
	quick   int           // empty reads in a row that returned too soon
	release func() error  // undoes the exclusive hold after rc is closed; may be nil
}

// newSerialPort wraps rc, whose reads time out after readTimeout as
// tarm/serial sets it up: in 100 ms steps, rounded down, at least 100 ms.
func newSerialPort(rc io.ReadCloser, readTimeout time.Duration, release func() error) *serialPort {
	return &serialPort{rc: rc, timeout: driverTimeout(readTimeout), release: release}
}

// driverTimeout is the read timeout tarm/serial really sets for d (VTIME on
// unix is in tenths of a second).
func driverTimeout(d time.Duration) time.Duration {
	return max(d.Truncate(100*time.Millisecond), 100*time.Millisecond)
}

func (p *serialPort) Read(b []byte) (int, error) {
	start := time.Now()
	n, err := p.rc.Read(b)
	if n > 0 {
		// Data wins; an error that came with it shows again on the next read.
		p.quick = 0
		return n, nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	if time.Since(start) >= p.timeout/2 {
		p.quick = 0
		return 0, nil
	}
	if p.quick++; p.quick >= hangupReads {
		return 0, fmt.Errorf("%w: %d empty reads in a row, each in under %v", errHangup, p.quick, p.timeout/2)
	}
	return 0, nil
}

func (p *serialPort) Close() error {
	err := p.rc.Close()
	if p.release != nil {
		err = errors.Join(err, p.release())
	}
	return err
}
