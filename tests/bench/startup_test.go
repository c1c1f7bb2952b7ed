//go:build bench && linux

package bench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStartup100k measures, on the fixture (see fixture_test.go) and on an
// empty data_dir (sandbox keys present) for comparison, BENCH_RUNS times
// each, alternating:
//
//	healthz   exec → first 200 from GET /healthz
//	status    exec → first 200 from GET /v1/status (counts checkouts by state)
//	status1   one GET /v1/status once up: median of 20
//	list      GET /v1/checkouts (50 newest) and GET /v1/jobs: median of 20
//	rss       VmRSS (anon/file) after those requests
//
// Every run starts from a fresh copy of the data_dir, synced to disk; the
// 100k runs once with posagent.db in the page cache (a restart) and once
// with it evicted (posix_fadvise DONTNEED on that file only: as after a
// reboot). RSS counts the pages of the bbolt mmap the process has mapped:
// with the file in the page cache, the kernel's fault-around maps up to 16
// cached neighbours of every page touched, so RssFile is mostly page cache,
// not memory of posagent's own (that is RssAnon).
func TestStartup100k(t *testing.T) {
	fix, info := fixture(t)
	runs := envInt(t, "BENCH_RUNS", 5)
	empty := t.TempDir()
	copyKeys(t, filepath.Join(empty, "data", "sandbox"))

	type result struct {
		healthz, status, status1, checkouts, jobs, stop time.Duration
		rss, anon, file                                 int64
	}
	measure := func(t *testing.T, name, src string, want int, cold bool) result {
		dir, err := os.MkdirTemp("", "posagent-bench-run-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		copyTree(t, filepath.Join(src, "data"), filepath.Join(dir, "data"))
		if cold {
			// As after a reboot: posagent.db is not in the page cache.
			evict(t, filepath.Join(dir, "data", "posagent.db"))
		}
		// The merchant backend is down: pending coupon reports stay pending.
		cfg, base := writeConfig(t, dir, "stdin", fmt.Sprintf("\n[coupons]\nreport_url = \"http://%s/report\"\n", freeAddr(t)))
		d := startDaemon(t, dir, cfg, base)
		var r result
		r.healthz = d.waitOK(t, "/healthz", "", 60*time.Second)
		token := d.token(t)
		r.status = d.waitOK(t, "/v1/status", token, 60*time.Second)
		var st struct {
			Checkouts map[string]int `json:"checkouts"`
			Queue     struct{ Pending, Dead, Failed int }
		}
		var s1, lc, lj []time.Duration
		for i := 0; i < 20; i++ {
			s1 = append(s1, d.get(t, "/v1/status", token, &st))
			lc = append(lc, d.get(t, "/v1/checkouts", token, nil))
			lj = append(lj, d.get(t, "/v1/jobs", token, nil))
		}
		r.status1, r.checkouts, r.jobs = median(s1), median(lc), median(lj)
		total := 0
		for _, n := range st.Checkouts {
			total += n
		}
		if total != want {
			t.Errorf("/v1/status counts %d checkouts %v, want %d", total, st.Checkouts, want)
		}
		p := readProc(t, d.pid())
		r.rss, r.anon, r.file = p.rssKB, p.anonKB, p.fileKB
		start := time.Now()
		d.stop(t)
		r.stop = time.Since(start)
		if strings.Contains(d.output(), "panic") {
			t.Errorf("panic in the output:\n%s", d.output())
		}
		t.Logf("%-8s healthz %7v  status %7v  | status %6v  checkouts %6v  jobs %6v | RSS %.1f MB (anon %.1f, file %.1f) | stop %v | %s",
			name, ms(r.healthz), ms(r.status), us(r.status1), us(r.checkouts), us(r.jobs),
			mb(r.rss), mb(r.anon), mb(r.file), ms(r.stop), loadavg())
		return r
	}
	var base, full, cold []result
	for i := 0; i < runs; i++ {
		base = append(base, measure(t, "empty", empty, 0, false))
		full = append(full, measure(t, "100k", fix, info.Checkouts, false))
		cold = append(cold, measure(t, "100kcold", fix, info.Checkouts, true))
	}
	summary := func(name string, rs []result) string {
		col := func(f func(result) time.Duration) string {
			var ds []time.Duration
			for _, r := range rs {
				ds = append(ds, f(r))
			}
			slices.Sort(ds)
			return fmt.Sprintf("%v–%v (median %v)", ds[0].Round(100*time.Microsecond), ds[len(ds)-1].Round(100*time.Microsecond), median(ds).Round(100*time.Microsecond))
		}
		var rss []int64
		for _, r := range rs {
			rss = append(rss, r.rss)
		}
		slices.Sort(rss)
		return fmt.Sprintf("%s: healthz %s; status %s; /v1/status once up %s; /v1/checkouts %s; /v1/jobs %s; RSS %.1f–%.1f MB",
			name, col(func(r result) time.Duration { return r.healthz }), col(func(r result) time.Duration { return r.status }),
			col(func(r result) time.Duration { return r.status1 }), col(func(r result) time.Duration { return r.checkouts }),
			col(func(r result) time.Duration { return r.jobs }), mb(rss[0]), mb(rss[len(rss)-1]))
	}
	t.Logf("fixture: %d checkouts %v, %d jobs %v, queue %+v, posagent.db %.1f MB",
		info.Checkouts, info.States, info.Jobs, info.JobsByState, info.Queue, float64(info.DBBytes)/(1<<20))
	if runs == 0 {
		return
	}
	t.Logf("%s", summary("empty", base))
	t.Logf("%s", summary("100k", full))
	t.Logf("%s", summary("100k, posagent.db not in the page cache", cold))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
func us(d time.Duration) time.Duration { return d.Round(time.Microsecond) }

// copyTree copies the regular files under src to dst.
func copyTree(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if e.IsDir() {
			return os.MkdirAll(to, 0o700)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		// On disk before the daemon starts: its first fsync must not flush
		// the whole copy.
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// evict drops path's pages from the page cache (only this file's).
func evict(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		tb.Fatal(err)
	}
}
