//go:build bench && linux

package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Targets of issue 7.
const (
	idleRSSTargetKB = 25 * 1024
	// idleCPUMax is what TestIdle fails on: a busy loop shows as whole
	// percents; the 10 Hz scanner poll as about 0.1–0.3 %.
	idleCPUMax = 0.01 // of one core
)

// TestIdle starts the daemon (embedded sandbox, keys already on disk as
// after a first run) and lets it sit: no checkout, no scan. After
// BENCH_IDLE_SETTLE it reads RSS from /proc/PID/status, then CPU time over
// BENCH_IDLE_WINDOW from /proc/PID/stat (utime+stime, 10 ms ticks) and
// /proc/PID/task/*/schedstat (ns), and the context switches (wake-ups).
//
//	stdin: [scanner] device = "stdin", stdin a pipe that stays open
//	pty:   [scanner] device = a pseudo-terminal (a serial scanner as
//	       tarm/serial sees it), master held open, nothing sent
func TestIdle(t *testing.T) {
	settle := envDuration(t, "BENCH_IDLE_SETTLE", 15*time.Second)
	window := envDuration(t, "BENCH_IDLE_WINDOW", 10*time.Second)
	for _, mode := range []string{"stdin", "pty"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			copyKeys(t, filepath.Join(dir, "data", "sandbox"))
			device := "stdin"
			if mode == "pty" {
				master, tty, err := pty.Open()
				if err != nil {
					t.Skipf("no pty: %v", err)
				}
				device = tty.Name()
				tty.Close()
				t.Cleanup(func() { master.Close() })
			}
			cfg, base := writeConfig(t, dir, device, "")
			d := startDaemon(t, dir, cfg, base)
			ready := d.waitOK(t, "/healthz", "", 20*time.Second)
			time.Sleep(settle)
			a := readProc(t, d.pid())
			time.Sleep(window)
			b := readProc(t, d.pid())
			secs := b.at.Sub(a.at).Seconds()
			cpu := float64(b.cpuNS-a.cpuNS) / 1e9 / secs
			wake := float64((b.volCtxt+b.nonvolCtxt)-(a.volCtxt+a.nonvolCtxt)) / secs
			t.Logf("idle %s: healthz after %v; RSS %.1f MB (anon %.1f, file %.1f; peak %.1f), %d threads",
				mode, ready.Round(time.Millisecond), mb(b.rssKB), mb(b.anonKB), mb(b.fileKB), mb(b.hwmKB), b.threads)
			t.Logf("idle %s: over %.1f s: %d ticks utime+stime, %.2f ms CPU (%.3f %% of a core), %.0f context switches/s; %s",
				mode, secs, b.ticks-a.ticks, float64(b.cpuNS-a.cpuNS)/1e6, cpu*100, wake, loadavg())
			if b.rssKB > idleRSSTargetKB {
				t.Errorf("idle RSS %.1f MB > target %.0f MB", mb(b.rssKB), mb(idleRSSTargetKB))
			}
			if cpu > idleCPUMax {
				t.Errorf("idle CPU %.2f %% of a core > %.0f %%: something polls or spins", cpu*100, idleCPUMax*100)
			}
			if out := d.output(); strings.Contains(out, `"level":"error"`) {
				t.Errorf("error in the daemon's output:\n%s", out)
			}
			if _, err := os.Stat(filepath.Join(dir, "logs", "posagent.log")); err != nil {
				t.Errorf("no log file: %v", err)
			}
		})
	}
}
