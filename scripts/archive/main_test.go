package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pack writes the named entries under one folder, with 0755 for an
// executable and 0644 otherwise, and the same bytes twice over.
func TestPackRoundTrip(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "posagent")
	doc := filepath.Join(dir, "README.md")
	if err := os.WriteFile(bin, []byte("binary"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(doc, []byte("readme"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".tar.gz", ".zip"} {
		var outs [2][]byte
		for i := range outs {
			out := filepath.Join(dir, "a"+ext)
			if err := run([]string{"pack", "--out", out, "--dir", "p_1_linux_amd64", "--mtime", "2026-12-04T11:00:00Z", "posagent=" + bin, doc}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			outs[i] = b
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Errorf("%s: two packs of the same files differ", ext)
		}
		got := list(t, ext, outs[0])
		want := "p_1_linux_amd64/posagent 755 binary\np_1_linux_amd64/README.md 644 readme\n"
		if got != want {
			t.Errorf("%s holds\n%swant\n%s", ext, got, want)
		}
	}
	sums := filepath.Join(dir, "sums.txt")
	if err := run([]string{"sum", "--out", sums, bin}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(sums); !strings.HasSuffix(string(b), "  posagent\n") || len(b) != 64+2+len("posagent")+1 {
		t.Errorf("checksums: %q", b)
	}
}

// list returns "name mode content" lines of an archive.
func list(t *testing.T, ext string, data []byte) string {
	t.Helper()
	var b strings.Builder
	add := func(name string, mode int64, r io.Reader) {
		c, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(name + " " + strings.TrimPrefix(os.FileMode(mode).Perm().String(), "-") + " " + string(c) + "\n")
	}
	if ext == ".zip" {
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			add(f.Name, int64(f.Mode().Perm()), rc)
			rc.Close()
		}
		return strings.NewReplacer("rwxr-xr-x", "755", "rw-r--r--", "644").Replace(b.String())
	}
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		add(h.Name, h.Mode, tr)
	}
	return strings.NewReplacer("rwxr-xr-x", "755", "rw-r--r--", "644").Replace(b.String())
}
