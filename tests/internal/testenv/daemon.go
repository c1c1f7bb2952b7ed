//go:build linux

package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long Start waits for /healthz. It is generous
// (a loaded CI machine); tests that measure start-up assert their own,
// tighter bound on Daemon.Ready.
const StartTimeout = 15 * time.Second

// Daemon is one run of "posagent run" as a child process.
type Daemon struct {
	// Ready is how long the daemon took from exec to answering /healthz.
	Ready time.Duration

	cmd     *exec.Cmd
	started time.Time
	out     string // stdout and stderr of the run
	done    chan struct{}
	status  *os.ProcessState
	env     *Env
}

var runSeq atomic.Int64

// Start runs "posagent run --config" on the Env and waits until /healthz
// answers 200. The daemon is stopped (SIGKILL) by t.Cleanup if the test has
// not stopped it.
func (e *Env) Start(tb testing.TB) *Daemon {
	tb.Helper()
	d := e.Spawn(tb, e.Config)
	if err := d.waitHealthy(StartTimeout); err != nil {
		d.Kill(tb)
		tb.Fatalf("posagent run: %v\n%s", err, d.Output())
	}
	return d
}

// Spawn starts "posagent run --config config" and returns at once.
func (e *Env) Spawn(tb testing.TB, config string) *Daemon {
	tb.Helper()
	out := filepath.Join(e.Dir, fmt.Sprintf("run-%d.out", runSeq.Add(1)))
	f, err := os.Create(out)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(Binary(), "run", "--config", config)
	cmd.Dir = e.Dir
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: a signal to the test's group (Ctrl-C) does
	// not reach it, and Cleanup's SIGKILL is what stops it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start posagent: %v", err)
	}
	d := &Daemon{cmd: cmd, started: start, out: out, done: make(chan struct{}), env: e}
	go func() {
		cmd.Wait()
		d.status = cmd.ProcessState
		close(d.done)
	}()
	tb.Cleanup(func() {
		select {
		case <-d.done:
		default:
			cmd.Process.Kill()
			<-d.done
		}
	})
	return d
}

// waitHealthy polls /healthz until 200, the process exits, or timeout.
func (d *Daemon) waitHealthy(timeout time.Duration) error {
	hc := &http.Client{Timeout: 250 * time.Millisecond}
	deadline := time.Now().Add(timeout)
	for {
		resp, err := hc.Get(d.env.BaseURL() + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				d.Ready = time.Since(d.started)
				return nil
			}
		}
		select {
		case <-d.done:
			return fmt.Errorf("exited (%v) before serving /healthz", d.status)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/healthz not answering 200 after %v (last error %v)", timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Pid is the daemon's process id.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Kill SIGKILLs the daemon, waits for it to be gone, and resets the
// scanner tty as unplugging a USB scanner would (Scanner.ReleaseExclusive).
func (d *Daemon) Kill(tb testing.TB) {
	tb.Helper()
	d.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		tb.Fatalf("posagent pid %d still there 10s after SIGKILL", d.Pid())
	}
	if err := d.env.Scanner.ReleaseExclusive(); err != nil {
		tb.Logf("clear TIOCEXCL on the scanner pty: %v", err)
	}
}

// Signal sends sig and waits up to timeout for the daemon to exit. It
// returns the exit status (-1 for a signal death) and how long it took; it
// fails the test if the daemon is still running after timeout.
func (d *Daemon) Signal(tb testing.TB, sig os.Signal, timeout time.Duration) (code int, took time.Duration) {
	tb.Helper()
	start := time.Now()
	if err := d.cmd.Process.Signal(sig); err != nil {
		tb.Fatalf("signal %v: %v", sig, err)
	}
	code, err := d.Wait(timeout)
	if err != nil {
		tb.Fatalf("after %v: %v\n%s", sig, err, d.Output())
	}
	return code, time.Since(start)
}

// Signal0 sends sig and returns at once.
func (d *Daemon) Signal0(sig os.Signal) error { return d.cmd.Process.Signal(sig) }

// Wait waits up to timeout for the daemon to exit by itself and returns its
// exit status (-1 for a death by signal).
func (d *Daemon) Wait(timeout time.Duration) (int, error) {
	select {
	case <-d.done:
		return d.status.ExitCode(), nil
	case <-time.After(timeout):
		return 0, fmt.Errorf("posagent pid %d still running after %v", d.Pid(), timeout)
	}
}

// Done is closed when the daemon has exited.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Output is what the daemon wrote to stdout and stderr so far.
func (d *Daemon) Output() string {
	b, err := os.ReadFile(d.out)
	if err != nil {
		return "(no output: " + err.Error() + ")"
	}
	return string(b)
}

// CLIResult is the outcome of a posagent verb.
type CLIResult struct {
	Code   int
	Stdout string
	Stderr string
}

func (r CLIResult) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.Code, r.Stdout, r.Stderr)
}

// CLI runs "posagent verb args..." with --config set to the Env's config
// (unless args already hold one) and stdin as given, and returns its exit
// status and output. It fails the test if the verb cannot run or runs
// longer than timeout. Call it from the test's goroutine; elsewhere use
// RunCLI.
func (e *Env) CLI(tb testing.TB, timeout time.Duration, stdin string, verb string, args ...string) CLIResult {
	tb.Helper()
	res, err := e.RunCLI(timeout, stdin, verb, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// RunCLI is CLI for any goroutine: problems running the verb are returned.
func (e *Env) RunCLI(timeout time.Duration, stdin string, verb string, args ...string) (CLIResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	full := []string{verb}
	if !hasConfigFlag(args) {
		full = append(full, "--config", e.Config)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, Binary(), full...)
	cmd.Dir = e.Dir
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := CLIResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("posagent %s: still running after %v\n%s", strings.Join(full, " "), timeout, res)
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
	case err != nil:
		return res, fmt.Errorf("posagent %s: %w", strings.Join(full, " "), err)
	}
	return res, nil
}

func hasConfigFlag(args []string) bool {
	for _, a := range args {
		if a == "--config" || a == "-config" || strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config=") {
			return true
		}
	}
	return false
}
