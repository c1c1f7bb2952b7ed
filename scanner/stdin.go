package scanner

import (
	"errors"
	"io"
	"os"
	"time"
)

// openStdin makes a port of r. A reader with working read deadlines (a pipe
// or a non-blocking fd) is read directly; any other is read by a goroutine
// that hands chunks over, because a blocked Read cannot be cancelled. That
// goroutine ends at r's next Read return after Close.
func openStdin(r io.Reader, timeout time.Duration) port {
	if d, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok && d.SetReadDeadline(time.Time{}) == nil {
		return &deadlinePort{r: r, d: d, timeout: timeout}
	}
	return newPumpPort(r, timeout)
}

// deadlinePort reads a reader that supports read deadlines.
type deadlinePort struct {
	r       io.Reader
	d       interface{ SetReadDeadline(time.Time) error }
	timeout time.Duration
}

func (p *deadlinePort) Read(b []byte) (int, error) {
	if err := p.d.SetReadDeadline(time.Now().Add(p.timeout)); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = nil
	}
	return n, err
}

// Close clears the deadline; the reader belongs to the caller and stays open.
func (p *deadlinePort) Close() error { return p.d.SetReadDeadline(time.Time{}) }

// pumpPort reads a reader that cannot be interrupted, in its own goroutine.
type pumpPort struct {
	timeout time.Duration
	chunks  chan chunk
	done    chan struct{}
	rest    []byte // data received but not yet returned
	err     error  // the reader's final error, returned once rest is empty
}

type chunk struct {
	b   []byte
	err error
}

// maxEmptyReads is how many (0, nil) reads in a row the pump tolerates
// before it gives up on a reader that makes no progress, as bufio does.
const maxEmptyReads = 100

func newPumpPort(r io.Reader, timeout time.Duration) *pumpPort {
	p := &pumpPort{timeout: timeout, chunks: make(chan chunk), done: make(chan struct{})}
	go p.pump(r)
	return p
}

func (p *pumpPort) pump(r io.Reader) {
	for empty := 0; ; {
		buf := make([]byte, 512)
		n, err := r.Read(buf)
		if n == 0 && err == nil {
			if empty++; empty < maxEmptyReads {
				continue
			}
			err = io.ErrNoProgress
		}
		empty = 0
		select {
		case p.chunks <- chunk{b: buf[:n], err: err}:
		case <-p.done:
			return
		}
		if err != nil {
			return
		}
	}
}

func (p *pumpPort) Read(b []byte) (int, error) {
	if len(p.rest) == 0 && p.err == nil {
		t := time.NewTimer(p.timeout)
		select {
		case c := <-p.chunks:
			t.Stop()
			p.rest, p.err = c.b, c.err
		case <-t.C:
			return 0, nil
		}
	}
	if len(p.rest) > 0 {
		n := copy(b, p.rest)
		p.rest = p.rest[n:]
		return n, nil
	}
	return 0, p.err
}

// Close stops the pump; the reader belongs to the caller and stays open.
func (p *pumpPort) Close() error {
	close(p.done)
	return nil
}
