package scanner_test

import (
	"bytes"
	"testing"

	"posagent/scanner"
)

// FuzzFramer feeds arbitrary bytes, cut into reads where cuts says, and
// checks the frames against a plain model of the framing rules: whatever
// the cut, the same frames come out, and each is well formed. Seeds live in
// testdata/fuzz/FuzzFramer.
func FuzzFramer(f *testing.F) {
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		fr := &scanner.Framer{}
		var got []scanner.Frame
		rest := data
		for _, c := range cuts {
			n := min(int(c), len(rest))
			got = append(got, fr.Feed(t0, rest[:n])...)
			rest = rest[n:]
		}
		got = append(got, fr.Feed(t0, rest)...)
		got = append(got, fr.Flush()...)

		want := modelFrames(data)
		if len(got) != len(want) {
			t.Fatalf("%d frames %+v, model says %d %+v", len(got), got, len(want), want)
		}
		for i, g := range got {
			if g.Code != want[i].Code || g.Err != want[i].Err || !g.At.Equal(t0) {
				t.Fatalf("frame %d = %+v, model says %+v", i, g, want[i])
			}
			checkWellFormed(t, g)
		}
	})
}

// modelFrames is the framing contract written the slow, obvious way.
func modelFrames(data []byte) []scanner.Frame {
	var out []scanner.Frame
	for _, line := range bytes.FieldsFunc(data, func(r rune) bool { return r == '\r' || r == '\n' }) {
		var kept []byte
		for _, c := range line {
			if c >= 0x20 && c != 0x7f {
				kept = append(kept, c)
			}
		}
		if len(kept) > scanner.MaxFrameLen {
			out = append(out, scanner.Frame{At: t0, Err: scanner.ErrFrameTooLong})
			continue
		}
		kept = bytes.Trim(kept, " ")
		if len(kept) >= 3 && kept[0] == ']' && isASCIILetter(kept[1]) && '0' <= kept[2] && kept[2] <= '9' {
			kept = bytes.Trim(kept[3:], " ")
		}
		if len(kept) == 0 {
			continue
		}
		fr := scanner.Frame{Code: string(kept), At: t0}
		if bytes.ContainsFunc(kept, func(r rune) bool { return r > 0x7e }) {
			fr.Err = scanner.ErrNotPrintable
		}
		out = append(out, fr)
	}
	return out
}

func isASCIILetter(c byte) bool { return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' }

func checkWellFormed(t *testing.T, fr scanner.Frame) {
	t.Helper()
	switch fr.Err {
	case scanner.ErrFrameTooLong:
		if fr.Code != "" {
			t.Fatalf("overlong frame carries %q", fr.Code)
		}
		return
	case nil, scanner.ErrNotPrintable:
	default:
		t.Fatalf("unexpected error %v", fr.Err)
	}
	if fr.Code == "" || len(fr.Code) > scanner.MaxFrameLen {
		t.Fatalf("frame of %d bytes", len(fr.Code))
	}
	if fr.Code[0] == ' ' || fr.Code[len(fr.Code)-1] == ' ' {
		t.Fatalf("untrimmed frame %q", fr.Code)
	}
	high := false
	for i := 0; i < len(fr.Code); i++ {
		c := fr.Code[i]
		if c < 0x20 || c == 0x7f {
			t.Fatalf("control byte %#x in %q", c, fr.Code)
		}
		high = high || c > 0x7e
	}
	if high != (fr.Err == scanner.ErrNotPrintable) {
		t.Fatalf("frame %q: err %v", fr.Code, fr.Err)
	}
}
