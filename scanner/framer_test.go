package scanner_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"posagent/scanner"
)

var t0 = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)

// chunk is one read: bytes that arrived at t0+after.
type chunk struct {
	after time.Duration
	data  string
}

// frame is an expected frame; err "" means a good one.
type frame struct {
	code  string
	after time.Duration
	err   error
}

func TestFramer(t *testing.T) {
	long := strings.Repeat("7", scanner.MaxFrameLen)
	tests := []struct {
		name   string
		gap    time.Duration
		chunks []chunk
		tick   time.Duration // Tick at t0+tick after the chunks, if > 0
		want   []frame
	}{
		{"cr", 0, []chunk{{0, "286123456789012345\r"}}, 0,
			[]frame{{"286123456789012345", 0, nil}}},
		{"lf", 0, []chunk{{0, "286123456789012345\n"}}, 0,
			[]frame{{"286123456789012345", 0, nil}}},
		{"crlf", 0, []chunk{{0, "286123456789012345\r\n"}}, 0,
			[]frame{{"286123456789012345", 0, nil}}},
		{"partial writes", 0, []chunk{{0, "2861"}, {5 * time.Millisecond, "23456789"}, {9 * time.Millisecond, "012345\r"}}, 0,
			[]frame{{"286123456789012345", 9 * time.Millisecond, nil}}},
		{"crlf split across reads", 0, []chunk{{0, "286123456789012345\r"}, {time.Millisecond, "\n134567890123456789\r"}, {2 * time.Millisecond, "\n"}}, 0,
			[]frame{{"286123456789012345", 0, nil}, {"134567890123456789", time.Millisecond, nil}}},
		{"burst of codes in one read", 0, []chunk{{0, "6901234567892\r\n286123456789012345\r\n6212345678901234567\n"}}, 0,
			[]frame{{"6901234567892", 0, nil}, {"286123456789012345", 0, nil}, {"6212345678901234567", 0, nil}}},
		{"empty frames dropped", 0, []chunk{{0, "\r\n\r\n\n\r  \r\x00\x02\x03\r"}}, 0, nil},
		{"no terminator, no gap: pending", 0, []chunk{{0, "286123456789012345"}}, time.Hour, nil},
		{"control bytes stripped", 0, []chunk{{0, "\x02286123\x00456789012345\x03\x1b\t\x7f\r"}}, 0,
			[]frame{{"286123456789012345", 0, nil}}},
		{"aim prefix code128", 0, []chunk{{0, "]C0286123456789012345\r"}}, 0,
			[]frame{{"286123456789012345", 0, nil}}},
		{"aim prefix qr", 0, []chunk{{0, "]Q1286123456789012345\r"}}, 0,
			[]frame{{"286123456789012345", 0, nil}}},
		{"aim prefix lowercase, split", 0, []chunk{{0, "\x02]"}, {0, "e0012345\r"}}, 0,
			[]frame{{"012345", 0, nil}}},
		{"aim prefix only once", 0, []chunk{{0, "]C0]C0123\r"}}, 0,
			[]frame{{"]C0123", 0, nil}}},
		{"not an aim prefix", 0, []chunk{{0, "]CX123\r]1A\r"}}, 0,
			[]frame{{"]CX123", 0, nil}, {"]1A", 0, nil}}},
		{"aim prefix alone is empty", 0, []chunk{{0, "]C0\r"}}, 0, nil},
		{"surrounding spaces trimmed", 0, []chunk{{0, "  286123456789012345 \r"}}, 0,
			[]frame{{"286123456789012345", 0, nil}}},
		{"inner space kept", 0, []chunk{{0, "AB 12\r"}}, 0,
			[]frame{{"AB 12", 0, nil}}},
		{"non-printable rejected", 0, []chunk{{0, "28612345\xe4\xbd\xa0789012345\r"}}, 0,
			[]frame{{"28612345\xe4\xbd\xa0789012345", 0, scanner.ErrNotPrintable}}},
		{"exactly 256 bytes kept", 0, []chunk{{0, long + "\r"}}, 0,
			[]frame{{long, 0, nil}}},
		{"257 bytes dropped", 0, []chunk{{0, long + "7\r"}}, 0,
			[]frame{{"", 0, scanner.ErrFrameTooLong}}},
		{"257 bytes dropped up to the terminator", 0, []chunk{{0, long}, {time.Millisecond, "8888\x00"}, {2 * time.Millisecond, "999\r286123456789012345\r"}}, 0,
			[]frame{{"", time.Millisecond, scanner.ErrFrameTooLong}, {"286123456789012345", 2 * time.Millisecond, nil}}},
		{"overlong reported once", 0, []chunk{{0, long + long + long + "\n"}}, 0,
			[]frame{{"", 0, scanner.ErrFrameTooLong}}},
		{"noise between codes", 0, []chunk{{0, "\x00\x00\xff\r286123456789012345\r\x1b[0m\r"}}, 0,
			[]frame{{"\xff", 0, scanner.ErrNotPrintable}, {"286123456789012345", 0, nil}, {"[0m", 0, nil}}},
		{"gap ends a frame on tick", 200 * time.Millisecond, []chunk{{0, "2861234567"}, {50 * time.Millisecond, "89012345"}}, 250 * time.Millisecond,
			[]frame{{"286123456789012345", 50 * time.Millisecond, nil}}},
		{"gap not yet passed", 200 * time.Millisecond, []chunk{{0, "286123456789012345"}}, 199 * time.Millisecond, nil},
		{"gap ends a frame before new bytes", 200 * time.Millisecond, []chunk{{0, "286123456789012345"}, {300 * time.Millisecond, "134567890123456789\r"}}, 0,
			[]frame{{"286123456789012345", 0, nil}, {"134567890123456789", 300 * time.Millisecond, nil}}},
		{"gap after terminator: nothing more", 200 * time.Millisecond, []chunk{{0, "286123456789012345\r\n"}}, time.Second,
			[]frame{{"286123456789012345", 0, nil}}},
		{"gap ends discarding", 100 * time.Millisecond, []chunk{{0, long + "xx"}, {time.Second, "286123456789012345"}}, 2 * time.Second,
			[]frame{{"", 0, scanner.ErrFrameTooLong}, {"286123456789012345", time.Second, nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &scanner.Framer{Gap: tt.gap}
			var got []scanner.Frame
			for _, c := range tt.chunks {
				got = append(got, f.Feed(t0.Add(c.after), []byte(c.data))...)
			}
			if tt.tick > 0 {
				got = append(got, f.Tick(t0.Add(tt.tick))...)
			}
			checkFrames(t, got, tt.want)
		})
	}
}

func checkFrames(t *testing.T, got []scanner.Frame, want []frame) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d frames %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i, w := range want {
		g := got[i]
		if g.Code != w.code || g.Err != w.err || !g.At.Equal(t0.Add(w.after)) {
			t.Errorf("frame %d = {%q %v %v}, want {%q %v %v}", i, g.Code, g.At.Sub(t0), g.Err, w.code, w.after, w.err)
		}
	}
}

func TestFramerFlush(t *testing.T) {
	f := &scanner.Framer{}
	if got := f.Feed(t0, []byte("]C0286123456789012345")); got != nil {
		t.Fatalf("Feed without terminator = %+v", got)
	}
	checkFrames(t, f.Flush(), []frame{{"286123456789012345", 0, nil}})
	if got := f.Flush(); got != nil {
		t.Fatalf("second Flush = %+v", got)
	}
}

// BenchmarkFramer frames a stream of scanner output (AIM-prefixed codes,
// STX/ETX wrappers, CRLF) read in 64-byte chunks, as from a serial port.
func BenchmarkFramer(b *testing.B) {
	var stream []byte
	for _, c := range []string{"]Q1286123456789012345", "\x026901234567892\x03", "]C0134567890123456789", "6212345678901234567"} {
		stream = append(stream, c+"\r\n"...)
	}
	stream = bytes.Repeat(stream, 64)
	f := &scanner.Framer{Gap: 200 * time.Millisecond}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	frames := 0
	for b.Loop() {
		for p := stream; len(p) > 0; {
			n := min(64, len(p))
			frames += len(f.Feed(t0, p[:n]))
			p = p[n:]
		}
	}
	if frames == 0 {
		b.Fatal("no frames")
	}
}
