package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"gopkg.in/natefinch/lumberjack.v2"
)

func init() {
	// Millisecond RFC 3339 timestamps: precise enough to order a checkout's
	// steps, readable by every log shipper.
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
}

// logSink is the daemon's log: zerolog JSON lines to [log] file, rotated by
// size, and human-readable lines on stderr when it is a terminal (when it is
// not, as under systemd, stderr gets only warnings and errors, as JSON).
type logSink struct {
	Logger zerolog.Logger
	// file is nil when [log] file is empty.
	file *lumberjack.Logger
	last *lastErrorHook
	// stderrMin is the lowest level that reaches stderr.
	stderrMin zerolog.Level
}

// openLog sets up the log of cfg. The log folder is created if missing.
func openLog(cfg LogConfig, stderr io.Writer) (*logSink, error) {
	level, err := zerolog.ParseLevel(cfg.Level)
	if err != nil || level == zerolog.NoLevel {
		return nil, fmt.Errorf("log.level %q: want debug, info, warn or error", cfg.Level)
	}
	s := &logSink{last: &lastErrorHook{}}
	var writers []io.Writer
	if cfg.File != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.File), 0o750); err != nil {
			return nil, fmt.Errorf("log folder: %w", err)
		}
		s.file = &lumberjack.Logger{
			Filename:   cfg.File,
			MaxSize:    cfg.MaxSizeMB,
			MaxBackups: cfg.MaxBackups,
			LocalTime:  true,
		}
		// Open now, so a log file that cannot be written is an error at
		// start, not a silent loss later.
		if _, err := s.file.Write(nil); err != nil {
			return nil, fmt.Errorf("log file %s: %w", cfg.File, err)
		}
		writers = append(writers, s.file)
	}
	s.stderrMin = level
	switch {
	case isTerminal(stderr):
		writers = append(writers, consoleWriter(stderr))
	case cfg.File == "":
		writers = append(writers, stderr)
	default:
		writers = append(writers, &minLevelWriter{w: stderr, min: zerolog.WarnLevel})
		s.stderrMin = max(level, zerolog.WarnLevel)
	}
	s.Logger = zerolog.New(zerolog.MultiLevelWriter(writers...)).Level(level).
		With().Timestamp().Logger().Hook(s.last)
	return s, nil
}

// OnStderr reports whether lines of level l reach stderr, so that a
// message also logged at l need not be printed there a second time.
func (s *logSink) OnStderr(l zerolog.Level) bool { return l >= s.stderrMin }

// durationFields are the log fields that hold a duration, in milliseconds
// in the JSON lines (docs/LOGS.md); the console shows them with a unit.
var durationFields = []string{"took", "duration", "drain", "backoff", "age", "offline_for", "probe_interval"}

// consoleWriter is the human-readable log for a terminal: local times, and
// durations with their unit ("took=2.597ms", not "took=2.59723").
func consoleWriter(w io.Writer) zerolog.ConsoleWriter {
	return zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, FormatPrepare: func(ev map[string]any) error {
		for _, name := range durationFields {
			if ms, ok := millis(ev[name]); ok {
				ev[name] = formatMillis(ms)
			}
		}
		return nil
	}}
}

// millis reads a JSON number (the console writer decodes with UseNumber).
func millis(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	}
	return 0, false
}

// formatMillis writes a duration given in milliseconds as Go does, to the
// microsecond: 2.597ms, 1.5s, 5m0s.
func formatMillis(ms float64) string {
	return time.Duration(ms * float64(time.Millisecond)).Round(time.Microsecond).String()
}

// Reopen closes the log file; the next line opens it again at its path.
// This is what SIGHUP does, so an external logrotate can move the file.
func (s *logSink) Reopen() error {
	if s.file == nil {
		return nil
	}
	return s.file.Close()
}

// Close closes the log file.
func (s *logSink) Close() error { return s.Reopen() }

// LastError returns the last error-level message and its time.
func (s *logSink) LastError() (string, time.Time) { return s.last.get() }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// minLevelWriter passes on only lines of at least min.
type minLevelWriter struct {
	w   io.Writer
	min zerolog.Level
}

func (m *minLevelWriter) Write(p []byte) (int, error) { return m.w.Write(p) }

func (m *minLevelWriter) WriteLevel(l zerolog.Level, p []byte) (int, error) {
	if l < m.min {
		return len(p), nil
	}
	return m.w.Write(p)
}

// lastErrorHook remembers the last error-level message for /v1/status.
type lastErrorHook struct {
	mu  sync.Mutex
	msg string
	at  time.Time
}

func (h *lastErrorHook) Run(_ *zerolog.Event, level zerolog.Level, msg string) {
	if level < zerolog.ErrorLevel {
		return
	}
	h.mu.Lock()
	h.msg, h.at = msg, time.Now()
	h.mu.Unlock()
}

func (h *lastErrorHook) get() (string, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.msg, h.at
}
