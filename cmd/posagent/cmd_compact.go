package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	bolt "go.etcd.io/bbolt"
)

// compactTxMaxSize is how many bytes of keys and values bolt.Compact writes
// per transaction: it bounds the memory of a compaction.
const compactTxMaxSize = 64 << 20

// CompactCommand implements "posagent compact": it rewrites the database
// with every page full, giving back the space of deleted and moved records.
// The daemon must be stopped: compaction needs the file to itself.
type CompactCommand struct {
	Streams
	Config ConfigFlag
}

// ParseFlags reads the command line into c.
func (c *CompactCommand) ParseFlags(args []string) error {
	fs := newFlagSet("compact", "[--config FILE]", `
Rewrites data_dir/posagent.db with bbolt's compaction: every record is
copied into a new file whose pages are full, and the new file replaces the
old one. A bbolt file never shrinks by itself; after old checkouts are
pruned, or on a file that grew with many updates, compact gives the space
back.

Stop the daemon first (systemctl stop posagent, or posagent service stop):
a running daemon holds the file locked and compact refuses. Take a backup
first if you want the old file (posagent backup --out FILE, before stopping).
The new file is synced and checked before it replaces the old one; an error
leaves the old file as it was.`, c.Stderr)
	c.Config.register(fs)
	_, err := parseFlags(fs, args, 0, 0)
	return err
}

// Run implements Command.
func (c *CompactCommand) Run(ctx context.Context, args []string) error {
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

func (c *CompactCommand) run(_ context.Context, cfg Config) error {
	before, after, err := compactDB(filepath.Join(cfg.Terminal.DataDir, dbFileName))
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	fmt.Fprintf(c.Stdout, "compacted %s: %d bytes -> %d bytes\n", filepath.Join(cfg.Terminal.DataDir, dbFileName), before, after)
	return nil
}

// errDBLocked is returned by compactDB when a daemon holds the file.
var errDBLocked = errors.New("a posagent is running on this data_dir (the file is locked); stop it first: systemctl stop posagent, or posagent service stop on Windows")

// compactDB rewrites the bbolt file at path with bolt.Compact and returns
// its size before and after. It holds the file's exclusive lock from start
// to end, so no daemon can start on it meanwhile.
func compactDB(path string) (before, after int64, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, err
	}
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return 0, 0, fmt.Errorf("%s: %w", path, errDBLocked)
	}
	if err != nil {
		return 0, 0, err
	}
	srcOpen := true
	defer func() {
		if srcOpen {
			src.Close()
		}
	}()
	after, err = writeFileAtomic(path, func(f *os.File) (int64, error) {
		// bbolt opens the file by its name and syncs every transaction;
		// f only reserves the name.
		dst, err := bolt.Open(f.Name(), 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			return 0, err
		}
		if err := bolt.Compact(dst, src, compactTxMaxSize); err != nil {
			dst.Close()
			return 0, err
		}
		// bbolt grows a file in doubling steps (up to 1 GB), so the new
		// file may be up to twice its pages. Cut it to its last page, as
		// tx.WriteTo (a backup) does: the file is then exactly its pages.
		var used int64
		if err := dst.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil }); err != nil {
			dst.Close()
			return 0, err
		}
		if err := dst.Close(); err != nil {
			return 0, err
		}
		if err := os.Truncate(f.Name(), used); err != nil {
			return 0, err
		}
		if runtime.GOOS == "windows" {
			// Windows cannot rename over an open file: let go of the old
			// one first. (Elsewhere the lock is held through the rename,
			// so a daemon starting meanwhile waits and opens the new file.)
			srcOpen = false
			if err := src.Close(); err != nil {
				return 0, err
			}
		}
		st, err := os.Stat(f.Name())
		if err != nil {
			return 0, err
		}
		return st.Size(), nil
	})
	return fi.Size(), after, err
}
