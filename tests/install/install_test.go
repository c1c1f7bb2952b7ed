//go:build linux

package install

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// repoRoot is where the README's commands run (they name ./cmd/posagent
// and etc/posagent.service).
var repoRoot = filepath.Join("..", "..")

// marker precedes the fenced block of the Linux install steps.
const marker = "<!-- install:linux"

// installedPaths are the absolute prefixes the steps write to; the test
// moves each under the scratch root.
var installedPaths = []string{"/etc/posagent", "/var/lib/posagent", "/var/log/posagent", "/usr/local/bin", "/etc/systemd/system"}

// readSteps returns the README's Linux install block.
func readSteps(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, marker)
	if i < 0 {
		t.Fatalf("README.md has no %q block", marker)
	}
	s = s[i:]
	start := strings.Index(s, "```sh\n")
	if start < 0 {
		t.Fatal("no ```sh block after the install:linux marker")
	}
	s = s[start+len("```sh\n"):]
	end := strings.Index(s, "\n```")
	if end < 0 {
		t.Fatal("the install:linux block does not end")
	}
	return s[:end+1]
}

// heredoc returns the body of the first <<'EOF' in steps: the config.
func heredoc(t *testing.T, steps string) string {
	t.Helper()
	_, after, ok := strings.Cut(steps, "<<'EOF'\n")
	if !ok {
		t.Fatal("the install steps write no config (no <<'EOF')")
	}
	body, _, ok := strings.Cut(after, "\nEOF\n")
	if !ok {
		t.Fatal("the config heredoc does not end")
	}
	return body
}

var ownerFlag = regexp.MustCompile(` -[og] [a-z]+`)

// sandboxSteps rewrites the steps for a scratch root: sudo dropped, the
// commands that need root or systemd (useradd, chgrp, systemctl) skipped,
// owner flags dropped, and every installed path moved under root. It
// returns the script and the commands it skipped.
func sandboxSteps(steps, root string) (script string, skipped []string) {
	var out []string
	inHeredoc := false
	for _, line := range strings.Split(steps, "\n") {
		switch {
		case inHeredoc:
			inHeredoc = line != "EOF"
		case strings.Contains(line, "useradd") || strings.Contains(line, "chgrp ") || strings.Contains(line, "systemctl "):
			skipped = append(skipped, line)
			line = "# skipped: " + line
		default:
			inHeredoc = strings.Contains(line, "<<'EOF'")
			line = strings.ReplaceAll(line, "sudo ", "")
			line = ownerFlag.ReplaceAllString(line, "")
		}
		for _, p := range installedPaths {
			line = strings.ReplaceAll(line, p, root+p)
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n"), skipped
}

// unitValues returns the values of key in the unit file.
func unitValues(t *testing.T, unit, key string) []string {
	t.Helper()
	var vals []string
	for _, line := range strings.Split(unit, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == key {
			vals = append(vals, strings.Fields(v)...)
		}
	}
	return vals
}

func under(path string, dirs []string) bool {
	for _, d := range dirs {
		if path == d || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

// The steps agree with the unit: the config's writable paths are absolute
// and inside ReadWritePaths (ProtectSystem=strict makes the rest
// read-only), the binary and config are where ExecStart looks, and the
// user, folders and service are all set up.
func TestInstallStepsMatchTheUnit(t *testing.T) {
	steps := readSteps(t)
	unitBytes, err := os.ReadFile(filepath.Join(repoRoot, "etc", "posagent.service"))
	if err != nil {
		t.Fatal(err)
	}
	unit := string(unitBytes)
	rw := unitValues(t, unit, "ReadWritePaths")
	if !slices.Contains(unitValues(t, unit, "ProtectSystem"), "strict") || len(rw) == 0 {
		t.Fatalf("the unit is not ProtectSystem=strict with ReadWritePaths: %v", rw)
	}
	if !slices.Contains(unitValues(t, unit, "RestartPreventExitStatus"), "2") {
		t.Error("the unit restarts on exit status 2 (a config error): RestartPreventExitStatus=2 is missing")
	}
	var cfg struct {
		Terminal struct {
			DataDir string `toml:"data_dir"`
		} `toml:"terminal"`
		API struct {
			TokenFile string `toml:"token_file"`
		} `toml:"api"`
		Log struct {
			File string `toml:"file"`
		} `toml:"log"`
	}
	if err := toml.Unmarshal([]byte(heredoc(t, steps)), &cfg); err != nil {
		t.Fatalf("the README's config: %v", err)
	}
	for key, p := range map[string]string{"terminal.data_dir": cfg.Terminal.DataDir, "api.token_file": cfg.API.TokenFile, "log.file": cfg.Log.File} {
		if !filepath.IsAbs(p) || !under(p, rw) {
			t.Errorf("README config %s = %q: want an absolute path under the unit's ReadWritePaths %v", key, p, rw)
		}
	}
	exec := unitValues(t, unit, "ExecStart")
	if len(exec) < 4 || exec[1] != "run" || exec[2] != "--config" {
		t.Fatalf("ExecStart = %v", exec)
	}
	for _, want := range []string{
		"useradd", "--groups dialout posagent", // the user, with the serial port's group
		"/usr/local/bin/posagent", exec[0], // the binary where ExecStart runs it
		"tee " + exec[3],                                       // the config where ExecStart reads it
		"-X main.version=", "-X main.commit=", "-X main.date=", // a stamped build
		"/etc/systemd/system/posagent.service", "systemctl enable --now posagent",
	} {
		if !strings.Contains(steps, want) {
			t.Errorf("the install steps lack %q", want)
		}
	}
	for _, dir := range rw {
		if !strings.Contains(steps, dir) {
			t.Errorf("the install steps do not create %s (a ReadWritePaths of the unit)", dir)
		}
	}
}

// The README's steps, run in a scratch root, install a binary and a config
// on which the daemon starts on the sandbox and answers status.
func TestInstallStepsInAScratchRoot(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git: the build step stamps the version from git")
	}
	if err := exec.Command("git", "-C", repoRoot, "rev-parse", "HEAD").Run(); err != nil {
		t.Skip("not a git work tree: the build step stamps the version from git")
	}
	root := t.TempDir()
	// What every Linux system has; the steps create the rest.
	home := filepath.Join(root, "home")
	for _, dir := range []string{home, filepath.Join(root, "usr/local/bin"), filepath.Join(root, "etc/systemd/system")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script, skipped := sandboxSteps(readSteps(t), root)
	if len(skipped) < 3 {
		t.Errorf("skipped %q: want useradd, chgrp and systemctl", skipped)
	}
	// HOME is the scratch one (the steps build into it); Go's caches stay
	// where they are, so nothing is downloaded or rebuilt for the test.
	goEnv, err := exec.Command("go", "env", "GOPATH", "GOMODCACHE", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "HOME="+home)
	for i, v := range strings.Fields(string(goEnv)) {
		cmd.Env = append(cmd.Env, []string{"GOPATH=", "GOMODCACHE=", "GOCACHE="}[i]+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the install steps failed: %v\n%s\nscript:\n%s", err, out, script)
	}

	bin := filepath.Join(root, "usr/local/bin/posagent")
	cfgPath := filepath.Join(root, "etc/posagent/posagent.toml")
	for path, mode := range map[string]os.FileMode{
		bin:     0o755,
		cfgPath: 0o640,
		filepath.Join(root, "etc/systemd/system/posagent.service"): 0o644,
		filepath.Join(root, "etc/posagent"):                        0o750 | os.ModeDir,
		filepath.Join(root, "var/lib/posagent"):                    0o750 | os.ModeDir,
		filepath.Join(root, "var/log/posagent"):                    0o750 | os.ModeDir,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (os.ModeDir | os.ModePerm); got != mode {
			t.Errorf("%s: mode %v, want %v", path, got, mode)
		}
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || strings.HasPrefix(string(out), "posagent dev\n") || strings.Contains(string(out), "commit   unknown") {
		t.Fatalf("posagent version of the installed binary (want a stamped version and commit): %v\n%s", err, out)
	}

	// Start it on the installed config, on a free port instead of 8089.
	addr := freeAddr(t)
	cfgText, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfgText = []byte(strings.Replace(string(cfgText), `listen = "127.0.0.1:8089"`, fmt.Sprintf("listen = %q", addr), 1))
	if err := os.WriteFile(cfgPath, cfgText, 0o640); err != nil {
		t.Fatal(err)
	}
	stopped := startDaemon(t, bin, cfgPath, root)
	waitHealthy(t, "http://"+addr, stopped)
	out, err = exec.Command(bin, "status", "--config", cfgPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "sandbox") {
		t.Fatalf("posagent status on the installed config: %v\n%s", err, out)
	}
	for _, p := range []string{"var/lib/posagent/posagent.db", "var/lib/posagent/api.token", "var/log/posagent/posagent.log"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("the daemon did not write %s: %v", p, err)
		}
	}

	// The installed unit passes systemd's own checks, pointed at the
	// binary that was installed in the scratch root.
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze not found: unit not verified")
		return
	}
	unit, err := os.ReadFile(filepath.Join(root, "etc/systemd/system/posagent.service"))
	if err != nil {
		t.Fatal(err)
	}
	verify := filepath.Join(t.TempDir(), "posagent.service")
	if err := os.WriteFile(verify, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/posagent", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-analyze", "verify", verify).CombinedOutput(); err != nil {
		t.Fatalf("systemd-analyze verify posagent.service: %v\n%s", err, out)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startDaemon runs "posagent run" and returns a channel closed when it
// exits; Cleanup stops it with SIGTERM and checks it exits 0.
func startDaemon(t *testing.T, bin, cfg, dir string) <-chan struct{} {
	t.Helper()
	out, err := os.Create(filepath.Join(dir, "run.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", cfg)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		out.Close()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("posagent run did not stop on SIGTERM")
		}
		if waitErr != nil {
			b, _ := os.ReadFile(out.Name())
			t.Errorf("posagent run: %v\n%s", waitErr, b)
		}
	})
	return done
}

// waitHealthy polls /healthz until it answers 200 or the daemon exits.
func waitHealthy(t *testing.T, base string, exited <-chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatal("posagent run exited before answering /healthz")
		case <-ctx.Done():
			t.Fatal("posagent run did not answer /healthz")
		case <-time.After(50 * time.Millisecond):
		}
	}
}
