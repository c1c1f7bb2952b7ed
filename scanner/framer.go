package scanner

import (
	"errors"
	"time"
)

// MaxFrameLen is the longest frame kept, in bytes, counted after control
// bytes are stripped. A longer frame is dropped up to its end.
const MaxFrameLen = 256

// Frame errors: a Frame carrying one of these is not a scan.
var (
	// ErrFrameTooLong: more than MaxFrameLen bytes without a terminator; the
	// rest of the frame, up to the next CR, LF or gap, is discarded.
	ErrFrameTooLong = errors.New("frame longer than 256 bytes")
	// ErrNotPrintable: the frame holds bytes outside printable ASCII.
	ErrNotPrintable = errors.New("frame holds bytes outside printable ASCII")
)

// Frame is one unit of scanner output.
type Frame struct {
	// Code is the frame's content with control bytes, surrounding spaces and
	// an AIM symbology prefix removed. It is empty when Err is
	// ErrFrameTooLong, and holds the offending bytes when Err is
	// ErrNotPrintable. Log it only through gateway.MaskCode.
	Code string
	// At is when the frame's last byte arrived.
	At time.Time
	// Err is nil for a usable frame, else ErrFrameTooLong or ErrNotPrintable.
	Err error
}

// Framer splits a byte stream into frames. Frames end at CR or LF (so CRLF
// too), or when Gap has passed since the last byte. Empty frames are
// dropped. Framer does no I/O and reads no clock: every call is told the
// time. It is not safe for concurrent use.
type Framer struct {
	// Gap is the silence that ends a frame, for scanners set to send no
	// suffix. Default 0: off, frames end only at CR or LF.
	Gap time.Duration

	buf        []byte    // bytes kept for the current frame
	last       time.Time // arrival of the current frame's latest byte
	pending    bool      // bytes, even stripped ones, arrived since the last end
	discarding bool      // the current frame overflowed; drop up to its end
	high       bool      // the current frame holds a byte >= 0x80
}

// Feed takes the bytes p that arrived at now and returns the frames they
// end, oldest first. A frame still pending from before a Gap of silence
// ends before p is read.
func (f *Framer) Feed(now time.Time, p []byte) []Frame {
	out := f.Tick(now)
	for _, c := range p {
		f.pending = true
		f.last = now
		switch {
		case c == '\r' || c == '\n':
			out = f.end(out)
		case f.discarding:
		case c < 0x20 || c == 0x7f:
			// NUL, STX, ETX, TAB, ESC and the like: framing noise.
		case len(f.buf) == MaxFrameLen:
			f.reset()
			f.pending, f.discarding = true, true
			out = append(out, Frame{At: now, Err: ErrFrameTooLong})
		default:
			if c >= 0x80 {
				f.high = true
			}
			f.buf = append(f.buf, c)
		}
	}
	return out
}

// Tick ends the pending frame if Gap is on and has passed since its last
// byte. Call it when a read returns nothing.
func (f *Framer) Tick(now time.Time) []Frame {
	if f.Gap > 0 && f.pending && now.Sub(f.last) >= f.Gap {
		return f.end(nil)
	}
	return nil
}

// Flush ends the pending frame now, whatever the gap: at the end of the
// stream a last code may have no terminator.
func (f *Framer) Flush() []Frame { return f.end(nil) }

func (f *Framer) reset() {
	f.buf = f.buf[:0]
	f.pending, f.discarding, f.high = false, false, false
}

// end closes the current frame and appends it to out if it is worth
// reporting.
func (f *Framer) end(out []Frame) []Frame {
	if !f.pending {
		return out
	}
	code, at, discarded, high := trimFrame(f.buf), f.last, f.discarding, f.high
	fr := Frame{At: at}
	if !discarded && len(code) > 0 {
		fr.Code = string(code)
		if high {
			fr.Err = ErrNotPrintable
		}
	}
	f.reset()
	if fr.Code == "" {
		return out // empty, or an overflow already reported
	}
	return append(out, fr)
}

// trimFrame removes surrounding spaces and one AIM symbology identifier
// (']' + letter + digit, e.g. "]C0", "]Q1") from the start of b.
func trimFrame(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	if len(b) >= 3 && b[0] == ']' && isLetter(b[1]) && '0' <= b[2] && b[2] <= '9' {
		b = b[3:]
	}
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}

func isLetter(c byte) bool { return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' }
