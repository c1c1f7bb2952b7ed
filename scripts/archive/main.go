// Command archive packs release files into a .tar.gz or .zip and writes
// SHA-256 checksum lists, so scripts/release.sh needs nothing but Go (no
// zip, no sha256sum, no GoReleaser binary). The archives are reproducible:
// entries are in the order given, owned by root, and carry one timestamp
// (the commit's), so the same commit gives the same bytes.
//
//	go run ./scripts/archive pack --out dist/x.tar.gz --dir x --mtime 2026-12-04T11:00:00Z name=path ...
//	go run ./scripts/archive sum --out dist/checksums.txt dist/x.tar.gz dist/y.zip
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "archive:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: archive pack|sum ...")
	}
	switch args[0] {
	case "pack":
		fs := flag.NewFlagSet("pack", flag.ContinueOnError)
		out := fs.String("out", "", "the archive to write, .tar.gz or .zip")
		dir := fs.String("dir", "", "the folder the entries are put in inside the archive")
		mtime := fs.String("mtime", "", "RFC 3339 time stamped on every entry (default: now)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		t := time.Now().UTC().Truncate(time.Second)
		if *mtime != "" {
			var err error
			if t, err = time.Parse(time.RFC3339, *mtime); err != nil {
				return fmt.Errorf("--mtime: %w", err)
			}
		}
		return pack(*out, *dir, t, fs.Args())
	case "sum":
		fs := flag.NewFlagSet("sum", flag.ContinueOnError)
		out := fs.String("out", "", "the checksum list to write")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return sum(*out, fs.Args())
	}
	return fmt.Errorf("unknown action %q", args[0])
}

// entry is one file to pack: its name in the archive and its path on disk.
type entry struct{ name, path string }

func pack(out, dir string, mtime time.Time, specs []string) (err error) {
	if out == "" || len(specs) == 0 {
		return errors.New("pack needs --out and at least one name=path")
	}
	var entries []entry
	for _, s := range specs {
		name, p, ok := strings.Cut(s, "=")
		if !ok {
			name, p = filepath.Base(s), s
		}
		entries = append(entries, entry{path.Join(dir, name), p})
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(out)
		}
	}()
	switch {
	case strings.HasSuffix(out, ".tar.gz"):
		return packTar(f, entries, mtime)
	case strings.HasSuffix(out, ".zip"):
		return packZip(f, entries, mtime)
	}
	return fmt.Errorf("%s: want a .tar.gz or .zip name", out)
}

func packTar(w io.Writer, entries []entry, mtime time.Time) error {
	gz := gzip.NewWriter(w)
	gz.ModTime = mtime
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		data, mode, err := readEntry(e.path)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: e.name, Mode: int64(mode), Size: int64(len(data)), ModTime: mtime,
			Uname: "root", Gname: "root", Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func packZip(w io.Writer, entries []entry, mtime time.Time) error {
	zw := zip.NewWriter(w)
	for _, e := range entries {
		data, mode, err := readEntry(e.path)
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(mode)
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := fw.Write(data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// readEntry reads a file and gives it 0755 when it is executable, 0644
// otherwise, whatever the umask of the machine that built it.
func readEntry(p string) ([]byte, os.FileMode, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, 0, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, 0, err
	}
	mode := os.FileMode(0o644)
	if fi.Mode()&0o111 != 0 || strings.HasSuffix(p, ".exe") {
		mode = 0o755
	}
	return data, mode, nil
}

// sum writes "<sha256>  <base name>" lines, the format of sha256sum and of
// GoReleaser's checksums.txt, so "sha256sum -c" checks them.
func sum(out string, files []string) error {
	if out == "" || len(files) == 0 {
		return errors.New("sum needs --out and at least one file")
	}
	var b strings.Builder
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), filepath.Base(p))
	}
	return os.WriteFile(out, []byte(b.String()), 0o644)
}
