// Package scanner turns the bytes of a cashier's barcode scanner into clean
// scan events. It owns the scan sources (a serial port opened with
// github.com/tarm/serial and held exclusively, or stdin for keyboard-wedge
// scanners and demos), reopening a serial device that was unplugged; the
// framing of the byte stream into codes; the dedupe of repeated reads; and
// the classification of each code (Alipay, WeChat Pay, UnionPay, other)
// with a message for the cashier. Codes are logged only masked.
package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/rs/zerolog"

	"posagent/gateway"
)

// Defaults, for the config layer: a zero FrameGap or DedupeWindow means off.
const (
	DefaultDevice       = "stdin"
	DefaultBaud         = 9600
	DefaultFrameGap     = 200 * time.Millisecond
	DefaultDedupeWindow = 2 * time.Second
	DefaultReadTimeout  = 100 * time.Millisecond
)

// Scanner states, as /v1/status reports them.
const (
	StateOpen         = "open"         // the serial device is open and read
	StateReconnecting = "reconnecting" // the serial device is gone; reopening with backoff
	StateStdin        = "stdin"        // reading stdin
	StateClosed       = "closed"       // not running, or stdin has ended
)

// Errors Run returns.
var (
	// ErrBusy: another process holds the device (another posagent, a
	// terminal program, ModemManager).
	ErrBusy = errors.New("device in use by another process")
	// ErrRunning: Run was called while already running.
	ErrRunning = errors.New("scanner already running")
)

// standardBauds are the rates a barcode scanner can be set to.
var standardBauds = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600}

// Config sets up a Scanner. Fields left zero take the default named.
type Config struct {
	// Device is a serial device path ("/dev/ttyUSB0", "COM3", a pty) or
	// "stdin". Default "stdin".
	Device string
	// Baud is the serial line rate in bit/s, always 8N1. Default 9600.
	Baud int
	// FrameGap is the silence that ends a frame with no CR/LF suffix.
	// Default 0: off (the config file's default is DefaultFrameGap).
	FrameGap time.Duration
	// DedupeWindow: the same code again within this time of its last
	// accepted scan is dropped. Default 0: off (the config file's default is
	// DefaultDedupeWindow).
	DedupeWindow time.Duration
	// ReadTimeout bounds each read, so it is also the longest Run takes to
	// return after ctx is cancelled, and the resolution of FrameGap. The
	// serial driver rounds it down to 100 ms steps. Range 100 ms – 25.5 s;
	// default 100 ms.
	ReadTimeout time.Duration
	// Logger receives the scanner's log lines, each with an "event" field.
	// Default: the zero Logger, which logs nothing.
	Logger zerolog.Logger
	// Now is the clock for scan times, FrameGap and DedupeWindow. Read
	// timeouts and reconnect backoff run on real time. Default time.Now.
	Now func() time.Time
	// Stdin is read when Device is "stdin". Default os.Stdin.
	Stdin io.Reader
}

// Scan is one code read by the scanner.
type Scan struct {
	// Code is the code as scanned. Never log it whole: use gateway.MaskCode.
	Code string
	// Kind is what the code is; only KindAlipay can be paid.
	Kind Kind
	// Source is the device path, or "stdin".
	Source string
	// At is when the code's last byte arrived (Config.Now clock).
	At time.Time
}

// Scanner reads scans from one source. Create it with New, start it with
// Run; State may be called from any goroutine.
type Scanner struct {
	cfg     Config
	log     zerolog.Logger
	state   atomic.Value // string
	running atomic.Bool
	dedupe  dedupe
}

// New checks cfg, fills in defaults and returns a Scanner that is not yet
// reading. Errors name the config key at fault.
func New(cfg Config) (*Scanner, error) {
	if cfg.Device == "" {
		cfg.Device = DefaultDevice
	}
	if cfg.Baud == 0 {
		cfg.Baud = DefaultBaud
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Stdin == nil {
		cfg.Stdin = os.Stdin
	}
	switch {
	case !slices.Contains(standardBauds, cfg.Baud):
		return nil, fmt.Errorf("scanner: baud %d is not one of %v", cfg.Baud, standardBauds)
	case cfg.FrameGap < 0:
		return nil, fmt.Errorf("scanner: frame_gap %v is negative", cfg.FrameGap)
	case cfg.DedupeWindow < 0:
		return nil, fmt.Errorf("scanner: dedupe_window %v is negative", cfg.DedupeWindow)
	case cfg.ReadTimeout < 100*time.Millisecond || cfg.ReadTimeout > 25500*time.Millisecond:
		return nil, fmt.Errorf("scanner: read timeout %v is outside 100ms–25.5s", cfg.ReadTimeout)
	}
	s := &Scanner{
		cfg:    cfg,
		log:    cfg.Logger.With().Str("source", cfg.Device).Logger(),
		dedupe: dedupe{window: cfg.DedupeWindow},
	}
	s.state.Store(StateClosed)
	return s, nil
}

// State is StateOpen, StateReconnecting, StateStdin or StateClosed.
func (s *Scanner) State() string { return s.state.Load().(string) }

// Run reads scans and calls deliver with each, on Run's goroutine, until ctx
// is done; then it closes the source and returns nil within about
// ReadTimeout. deliver should hand the scan on quickly: bytes wait in the
// driver's buffer meanwhile.
//
// A serial device that is missing at start, or lost later, is reopened with
// backoff until it returns. Any other failure to open it at start is
// returned at once: ErrBusy when another process holds it, or the open
// error (permission denied, not a tty). When stdin ends, Run waits for ctx.
// Run returns ErrRunning if it is already running.
func (s *Scanner) Run(ctx context.Context, deliver func(Scan)) error {
	if !s.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer s.running.Store(false)
	defer s.state.Store(StateClosed)
	if s.cfg.Device == "stdin" {
		s.runStdin(ctx, deliver)
		return nil
	}
	return s.runSerial(ctx, deliver)
}

func (s *Scanner) runStdin(ctx context.Context, deliver func(Scan)) {
	p := openStdin(s.cfg.Stdin, s.cfg.ReadTimeout)
	defer p.Close()
	s.state.Store(StateStdin)
	s.log.Info().Str("event", "scanner_open").Msg("reading scans from stdin")
	f := &Framer{Gap: s.cfg.FrameGap}
	err := s.read(ctx, p, f, deliver)
	if ctx.Err() != nil {
		return
	}
	s.handle(f.Flush(), deliver)
	s.state.Store(StateClosed)
	if errors.Is(err, io.EOF) {
		s.log.Info().Str("event", "scanner_eof").Msg("stdin ended; no more scans")
	} else {
		s.log.Error().Err(err).Str("event", "scanner_eof").Msg("stdin failed; no more scans")
	}
	<-ctx.Done()
}

func (s *Scanner) runSerial(ctx context.Context, deliver func(Scan)) error {
	p, err := openSerial(s.cfg.Device, s.cfg.Baud, s.cfg.ReadTimeout)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		s.state.Store(StateReconnecting)
		s.log.Warn().Err(err).Str("event", "scanner_lost").Msg("scanner not connected; waiting for it")
	case err != nil:
		return fmt.Errorf("scanner: %w", err)
	default:
		s.state.Store(StateOpen)
		s.log.Info().Str("event", "scanner_open").Int("baud", s.cfg.Baud).Msg("scanner open")
	}
	for {
		if p == nil {
			if p = s.reopen(ctx); p == nil {
				return nil
			}
			s.state.Store(StateOpen)
			s.log.Info().Str("event", "scanner_back").Msg("scanner back")
		}
		err := s.read(ctx, p, &Framer{Gap: s.cfg.FrameGap}, deliver)
		if cerr := p.Close(); cerr != nil {
			s.log.Debug().Err(cerr).Str("event", "scanner_close").Msg("closing the scanner failed")
		}
		p = nil
		if ctx.Err() != nil {
			return nil
		}
		s.state.Store(StateReconnecting)
		s.log.Error().Err(err).Str("event", "scanner_lost").Msg("scanner lost; reopening until it returns")
	}
}

// reopen opens the device with backoff until it succeeds or ctx is done
// (then it returns nil). Each distinct failure is logged once.
func (s *Scanner) reopen(ctx context.Context) port {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 100 * time.Millisecond
	b.MaxInterval = 2 * time.Second
	b.MaxElapsedTime = 0
	b.Reset()
	last := ""
	for {
		t := time.NewTimer(b.NextBackOff())
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		p, err := openSerial(s.cfg.Device, s.cfg.Baud, s.cfg.ReadTimeout)
		if err == nil {
			return p
		}
		if msg := err.Error(); msg != last {
			last = msg
			lvl := zerolog.WarnLevel
			if errors.Is(err, fs.ErrNotExist) {
				lvl = zerolog.DebugLevel
			}
			s.log.WithLevel(lvl).Err(err).Str("event", "scanner_reopen").Msg("scanner still unavailable")
		}
	}
}

// read feeds the framer from p until ctx is done or p fails, and returns
// p's error. A frame cut off by the failure is dropped.
func (s *Scanner) read(ctx context.Context, p port, f *Framer, deliver func(Scan)) error {
	buf := make([]byte, 512)
	for ctx.Err() == nil {
		n, err := p.Read(buf)
		now := s.cfg.Now()
		if n > 0 {
			s.handle(f.Feed(now, buf[:n]), deliver)
		} else {
			s.handle(f.Tick(now), deliver)
		}
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// handle logs frames, drops duplicates and delivers the rest.
func (s *Scanner) handle(frames []Frame, deliver func(Scan)) {
	for _, fr := range frames {
		switch {
		case errors.Is(fr.Err, ErrFrameTooLong):
			s.log.Warn().Str("event", "frame_dropped").Int("max_len", MaxFrameLen).
				Msg("frame over 256 bytes dropped; scanner misconfigured or line noise?")
		case fr.Err != nil:
			s.log.Warn().Str("event", "scan_rejected").Str("code", gateway.MaskCode(fr.Code)).
				Int("len", len(fr.Code)).Msg("scan rejected: bytes outside printable ASCII")
		case !s.dedupe.admit(fr.Code, fr.At):
			s.log.Debug().Str("event", "scan_duplicate").Str("code", gateway.MaskCode(fr.Code)).
				Msg("same code within the dedupe window; ignored")
		default:
			sc := Scan{Code: fr.Code, Kind: Classify(fr.Code), Source: s.cfg.Device, At: fr.At}
			s.log.Info().Str("event", "scan").Str("code", gateway.MaskCode(sc.Code)).
				Str("kind", string(sc.Kind)).Msg("scan")
			deliver(sc)
		}
	}
}
