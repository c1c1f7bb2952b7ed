package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"posagent/api"
)

// dbFileName is the bbolt file in data_dir.
const dbFileName = "posagent.db"

// BackupCommand implements "posagent backup": a consistent copy of the
// database, taken through the running daemon (GET /v1/backup, one bbolt
// read transaction) or, when no daemon runs, straight from the file.
type BackupCommand struct {
	Streams
	Config ConfigFlag
	Out    string // --out FILE
}

// ParseFlags reads the command line into c.
func (c *BackupCommand) ParseFlags(args []string) error {
	fs := newFlagSet("backup", "--out FILE [--config FILE]", `
Writes a consistent copy of data_dir/posagent.db to FILE while the daemon
runs: the daemon holds the file locked, so the copy is made by the daemon in
one read transaction (GET /v1/backup, with the token of api.token_file) and
checkouts go on meanwhile. When no daemon answers, the file is copied
directly (opened read-only).

FILE is written atomically (a temporary file beside it, synced, checked
with bbolt's consistency check, then renamed), with mode 0600: it holds
the journal of every checkout.

Restore: stop the daemon, replace data_dir/posagent.db with the copy (keep
the old file aside), start the daemon. See the README.`, c.Stderr)
	c.Config.register(fs)
	fs.StringVar(&c.Out, "out", "", "write the copy to `FILE` (replaced if it exists)")
	if _, err := parseFlags(fs, args, 0, 0); err != nil {
		return err
	}
	if c.Out == "" {
		return usageErrorf("--out is required")
	}
	return nil
}

// Run implements Command.
func (c *BackupCommand) Run(ctx context.Context, args []string) error {
	return loadAndRun(ctx, args, c.ParseFlags, &c.Config, c.run)
}

func (c *BackupCommand) run(ctx context.Context, cfg Config) error {
	dbPath := filepath.Join(cfg.Terminal.DataDir, dbFileName)
	if same, _ := sameFile(dbPath, c.Out); same {
		return usageErrorf("--out %s is the live database; name another file", c.Out)
	}
	var from string
	size, err := writeFileAtomic(c.Out, func(f *os.File) (int64, error) {
		cl := api.NewClient("http://"+apiAddr(cfg.API.Listen), "")
		n, err := c.viaDaemon(ctx, cfg, cl, f)
		var nr *api.NotRunningError
		if !errors.As(err, &nr) {
			from = "the running daemon at " + apiAddr(cfg.API.Listen)
			return n, err
		}
		from = dbPath + " (no daemon running)"
		return copyDB(dbPath, f)
	})
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(c.Stdout, "wrote %s: %d bytes, a consistent copy from %s\n", c.Out, size, from)
	return nil
}

// viaDaemon asks the daemon for the copy. A token file that cannot be read
// is only an error when a daemon answers (it creates the token on its
// first start).
func (c *BackupCommand) viaDaemon(ctx context.Context, cfg Config, cl *api.Client, w io.Writer) (int64, error) {
	tok, err := api.ReadToken(cfg.API.TokenFile)
	if err != nil {
		if herr := cl.Health(ctx); herr != nil {
			return 0, herr
		}
		return 0, err
	}
	cl.Token = tok
	return cl.Backup(ctx, w)
}

// copyDB copies the database at path in one read transaction, for when no
// daemon runs. A file locked by a daemon whose API did not answer is an
// error, not a wait.
func copyDB(path string, w io.Writer) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return 0, fmt.Errorf("%s is locked by a running posagent, but its API did not answer at api.listen; back up through it, or stop it first", path)
	}
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	err = db.View(func(tx *bolt.Tx) error {
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// writeFileAtomic writes path through fill into a temporary file beside
// it, syncs it, checks that bbolt opens it and finds it consistent, then
// renames it over path and syncs the folder. On any error path is left as
// it was and the temporary file is removed.
func writeFileAtomic(path string, fill func(*os.File) (int64, error)) (size int64, err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return 0, err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if size, err = fill(f); err != nil {
		return 0, err
	}
	if err = f.Sync(); err != nil {
		return 0, err
	}
	if err = f.Close(); err != nil {
		return 0, err
	}
	if err = checkDB(tmp); err != nil {
		return 0, fmt.Errorf("the copy is not a sound database: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return 0, err
	}
	syncDir(dir)
	return size, nil
}

// checkDB opens a bbolt file read-only and runs bbolt's consistency check
// (every page reachable once, keys in order).
func checkDB(path string) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
}

// syncDir makes a rename in dir durable, as far as the system allows: it
// is best effort, since Windows cannot open a folder for syncing (there the
// rename is durable once it returns) and some filesystems refuse it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// sameFile reports whether a and b name the same existing file.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}
