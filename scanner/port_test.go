package scanner

import (
	"errors"
	"io"
	"testing"
	"time"
)

// scriptedReader answers each Read with the next step, after its delay.
type scriptedReader struct {
	steps []step
	i     int
}

type step struct {
	delay time.Duration
	data  string
	err   error
}

func (r *scriptedReader) Read(b []byte) (int, error) {
	if r.i == len(r.steps) {
		return 0, errors.New("script exhausted")
	}
	s := r.steps[r.i]
	r.i++
	time.Sleep(s.delay)
	return copy(b, s.data), s.err
}

func (r *scriptedReader) Close() error { return nil }

func TestSerialPortHangup(t *testing.T) {
	fast := step{0, "", io.EOF}                     // a hung-up tty on Linux
	fastNil := step{0, "", nil}                     // ... or on Windows
	slow := step{60 * time.Millisecond, "", io.EOF} // a real timeout: >= half of 100 ms
	data := step{0, "12", nil}
	lost := errors.New("device not configured")
	tests := []struct {
		name    string
		timeout time.Duration
		steps   []step
		want    []error // per read; errHangup stands for any error wrapping it
	}{
		// Cases that need quick reads to count as quick use a long timeout, so
		// that a busy machine cannot make them look slow.
		{"timeouts are no data", 100 * time.Millisecond, []step{slow, slow, slow, slow}, []error{nil, nil, nil, nil}},
		{"quick empty reads mean hangup", 20 * time.Second, []step{fast, fast, fast}, []error{nil, nil, errHangup}},
		{"quick (0, nil) reads mean hangup", 20 * time.Second, []step{fastNil, fastNil, fastNil}, []error{nil, nil, errHangup}},
		{"data resets the count", 20 * time.Second, []step{fast, fast, data, fast, fast, fast}, []error{nil, nil, nil, nil, nil, errHangup}},
		{"a timeout resets the count", 100 * time.Millisecond, []step{fast, fast, slow, fast, fast}, []error{nil, nil, nil, nil, nil}},
		{"other errors pass through", 100 * time.Millisecond, []step{{0, "", lost}}, []error{lost}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newSerialPort(&scriptedReader{steps: tt.steps}, tt.timeout, nil)
			buf := make([]byte, 8)
			for i, want := range tt.want {
				_, err := p.Read(buf)
				if !errors.Is(err, want) || (want == nil && err != nil) {
					t.Fatalf("read %d: err = %v, want %v", i, err, want)
				}
			}
		})
	}
}

func TestDriverTimeout(t *testing.T) {
	for in, want := range map[time.Duration]time.Duration{
		100 * time.Millisecond: 100 * time.Millisecond,
		150 * time.Millisecond: 100 * time.Millisecond,
		200 * time.Millisecond: 200 * time.Millisecond,
		50 * time.Millisecond:  100 * time.Millisecond,
	} {
		if got := driverTimeout(in); got != want {
			t.Errorf("driverTimeout(%v) = %v, want %v", in, got, want)
		}
	}
}

// chanReader reads from a channel, so a test controls when Read returns.
type chanReader struct {
	c chan string
}

func (r chanReader) Read(b []byte) (int, error) {
	s, ok := <-r.c
	if !ok {
		return 0, io.EOF
	}
	return copy(b, s), nil
}

func TestPumpPort(t *testing.T) {
	r := chanReader{make(chan string)}
	p := newPumpPort(r, 100*time.Millisecond)
	buf := make([]byte, 4)

	if n, err := p.Read(buf); n != 0 || err != nil {
		t.Fatalf("Read with nothing sent = %d, %v; want 0, nil", n, err)
	}
	r.c <- "123456"
	var got []byte
	for len(got) < 6 {
		n, err := p.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
	}
	if string(got) != "123456" {
		t.Fatalf("read %q, want 123456", got)
	}
	close(r.c)
	for {
		n, err := p.Read(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if n != 0 || err != nil {
			t.Fatalf("after EOF: Read = %d, %v", n, err)
		}
	}
}

func TestPumpPortCloseStopsReading(t *testing.T) {
	r := chanReader{make(chan string)}
	p := newPumpPort(r, 100*time.Millisecond)
	p.Close()
	r.c <- "a" // the pump's pending Read takes it, then sees Close and stops
	select {
	case r.c <- "b":
		t.Fatal("the pump read again after Close")
	case <-time.After(200 * time.Millisecond):
	}
}

// emptyReader always returns (0, nil), which io.Reader discourages.
type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestPumpPortNoProgress(t *testing.T) {
	p := newPumpPort(emptyReader{}, 100*time.Millisecond)
	defer p.Close()
	buf := make([]byte, 4)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := p.Read(buf); err != nil {
			if !errors.Is(err, io.ErrNoProgress) {
				t.Fatalf("err = %v, want io.ErrNoProgress", err)
			}
			return
		}
	}
	t.Fatal("no error from a reader that never makes progress")
}
