//go:build bench && linux

package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is the posagent binary built for this run by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "posagent-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "posagent")
	args := []string{"build", "-o", binary}
	if f := os.Getenv("BENCH_LDFLAGS"); f != "" {
		args = append(args, "-trimpath", "-ldflags", f)
	}
	cmd := exec.Command("go", append(args, "posagent/cmd/posagent")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench: go build posagent/cmd/posagent:", err)
		return 1
	}
	defer func() {
		if keysDir != "" {
			os.RemoveAll(keysDir)
		}
	}()
	return m.Run()
}

// envDuration and envInt read a knob from the environment.
func envDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		tb.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}

func envInt(tb testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		tb.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

// freeAddr returns a 127.0.0.1 address that was free a moment ago.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeConfig writes DIR/posagent.toml: the embedded sandbox, data in
// DIR/data, the API on a free loopback port, scanner on device, plus extra
// TOML (whole tables). It returns the config path and the API base URL.
func writeConfig(tb testing.TB, dir, device, extra string) (string, string) {
	tb.Helper()
	addr := freeAddr(tb)
	cfg := fmt.Sprintf(`[terminal]
terminal_id = "T01"
data_dir = "data"

[alipay]
gateway = "sandbox"

[scanner]
device = %q

[api]
listen = %q
token_file = "data/api.token"

[log]
file = "logs/posagent.log"
level = "info"
%s`, device, addr, extra)
	path := filepath.Join(dir, "posagent.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path, "http://" + addr
}

// daemon is one "posagent run" child process.
type daemon struct {
	cmd     *exec.Cmd
	started time.Time
	base    string
	dir     string
	stdin   *os.File // write end of the scanner pipe; kept open
	out     string
	done    chan struct{}
}

// startDaemon runs "posagent run --config cfg" in dir with stdin a pipe
// that stays open (the scanner reads it when device = "stdin"). It returns
// at once; Cleanup stops the daemon.
func startDaemon(tb testing.TB, dir, cfg, base string) *daemon {
	tb.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(dir, "run.out")
	f, err := os.Create(out)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(binary, "run", "--config", cfg)
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r, f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	d := &daemon{cmd: cmd, base: base, dir: dir, stdin: w, out: out, done: make(chan struct{})}
	d.started = time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	r.Close()
	go func() { cmd.Wait(); close(d.done) }()
	tb.Cleanup(func() { d.stop(tb) })
	return d
}

// stop sends SIGTERM and waits (SIGKILL after 15 s).
func (d *daemon) stop(tb testing.TB) {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		tb.Logf("posagent pid %d ignored SIGTERM for 15 s; killing it", d.cmd.Process.Pid)
		d.cmd.Process.Kill()
		<-d.done
	}
	d.stdin.Close()
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

func (d *daemon) output() string {
	b, _ := os.ReadFile(d.out)
	return string(b)
}

// token reads the API token the daemon created.
func (d *daemon) token(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(d.dir, "data", "api.token"))
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// waitOK polls GET path every 2 ms until it answers 200 and returns the
// time since exec. token may be empty (/healthz).
func (d *daemon) waitOK(tb testing.TB, path, token string, timeout time.Duration) time.Duration {
	tb.Helper()
	hc := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		req, _ := http.NewRequest(http.MethodGet, d.base+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(d.started)
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-d.done:
			tb.Fatalf("posagent exited before %s answered 200:\n%s", path, d.output())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: no 200 after %v (last: %s)\n%s", path, timeout, last, d.output())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// get does one authenticated GET and decodes the JSON answer into v.
func (d *daemon) get(tb testing.TB, path, token string, v any) time.Duration {
	tb.Helper()
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, d.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s: %v %s %s", path, err, resp.Status, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			tb.Fatalf("GET %s: %v: %s", path, err, body)
		}
	}
	return took
}

// procSample is what /proc says about a process at one moment.
type procSample struct {
	at                    time.Time
	rssKB, anonKB, fileKB int64 // VmRSS, RssAnon, RssFile
	hwmKB                 int64 // VmHWM: peak RSS
	threads               int
	ticks                 int64 // utime+stime of /proc/PID/stat, in clock ticks (USER_HZ = 100)
	cpuNS                 int64 // sum over threads of /proc/PID/task/*/schedstat run time
	volCtxt, nonvolCtxt   int64 // context switches, summed over threads
}

func readProc(tb testing.TB, pid int) procSample {
	tb.Helper()
	s := procSample{at: time.Now()}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			s.rssKB = n
		case "RssAnon":
			s.anonKB = n
		case "RssFile":
			s.fileKB = n
		case "VmHWM":
			s.hwmKB = n
		case "Threads":
			s.threads = int(n)
		}
	}
	f.Close()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// Fields after the ")" that ends comm: state is field 3, utime 14, stime 15.
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	ut, _ := strconv.ParseInt(rest[11], 10, 64)
	st, _ := strconv.ParseInt(rest[12], 10, 64)
	s.ticks = ut + st
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err == nil {
			if f := strings.Fields(string(b)); len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				s.cpuNS += n
			}
		}
		b, err = os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(line, ":")
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			switch k {
			case "voluntary_ctxt_switches":
				s.volCtxt += n
			case "nonvoluntary_ctxt_switches":
				s.nonvolCtxt += n
			}
		}
	}
	return s
}

// loadavg is the first field of /proc/loadavg plus the CPU count, to be
// reported next to every number: the machine is shared.
func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return fmt.Sprintf("load %s %s %s", f[0], f[1], f[2])
}

func mb(kb int64) float64 { return float64(kb) / 1024 }
