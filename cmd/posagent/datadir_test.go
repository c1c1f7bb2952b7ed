package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runConfig writes a config of text plus an API on a closed loopback port
// and returns "posagent run" on it: exit status and stderr.
func runConfig(t *testing.T, dir, text string) (int, string) {
	t.Helper()
	cfg := writeConfig(t, dir, text+fmt.Sprintf("\n[api]\nlisten = %q\ntoken_file = %q\n", closedLoopbackAddr(t), filepath.Join(dir, "api.token")))
	code, _, stderr := runMain(t, "run", "--config", cfg)
	return code, stderr
}

// A data_dir posagent cannot use is a setup problem: exit 2, naming the
// config line and key, like a locked database, so systemd does not restart
// it every 2 s. Regression test for issue 15 (read-only data dir exited 1).
func TestUnusableDataDirExits2(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{"not a folder": filepath.Join(file, "data")}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		cases["read-only"] = ro
		cases["read-only parent"] = filepath.Join(ro, "data")
	}
	for name, dataDir := range cases {
		t.Run(name, func(t *testing.T) {
			code, stderr := runConfig(t, t.TempDir(), fmt.Sprintf("[terminal]\ndata_dir = %q\n\n[log]\nfile = \"\"\n", dataDir))
			if code != 2 || !strings.Contains(stderr, "posagent.toml:2: terminal.data_dir: ") {
				t.Fatalf("run on data_dir %s = %d\n%s", dataDir, code, stderr)
			}
		})
	}
}

// Errors name a path or a component once: no "open X: open X: …" and no
// "scanner: scanner: …". Regression test for issue 15.
func TestStartErrorsAreNotPrefixedTwice(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(data, "posagent.db"), 0o700); err != nil { // a folder where the file goes
		t.Fatal(err)
	}
	code, stderr := runConfig(t, dir, "[terminal]\ndata_dir = \"data\"\n\n[log]\nfile = \"\"\n")
	db := filepath.Join(data, "posagent.db")
	if code != 1 || strings.Count(verbError(stderr), db) != 1 {
		t.Errorf("run on a posagent.db that is a folder = %d\n%s", code, stderr)
	}

	notTTY := filepath.Join(dir, "not-a-tty")
	if err := os.WriteFile(notTTY, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code, stderr = runConfig(t, dir, fmt.Sprintf("[terminal]\ndata_dir = \"data2\"\n\n[scanner]\ndevice = %q\n\n[log]\nfile = \"\"\n", notTTY))
	if line := verbError(stderr); code == 0 || !strings.Contains(line, "scanner: ") || strings.Contains(line, "scanner: scanner: ") {
		t.Errorf("run on a scanner that is not a tty = %d\n%s", code, stderr)
	}
}

// "posagent sandbox" on a port in use names the sandbox once after the verb.
func TestSandboxListenErrorPrefixedOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, stderr := runMain(t, "sandbox", "--dir", t.TempDir(), "--listen", ln.Addr().String())
	if code != 1 || !strings.HasPrefix(stderr, "posagent sandbox: sandbox: listen") || strings.Count(stderr, "sandbox: ") != 2 {
		t.Errorf("sandbox on a port in use = %d\n%s", code, stderr)
	}
}

// The sandbox banner is said once on stderr (the daemon's log warning),
// not twice. Regression test for issue 15.
func TestSandboxBannerOnce(t *testing.T) {
	d := mustStartDaemon(t)
	if code := d.stop(); code != 0 {
		t.Fatalf("posagent run exited %d\n%s", code, d.Stderr)
	}
	if n := strings.Count(d.Stderr.String(), "SANDBOX MODE"); n != 1 {
		t.Fatalf("the sandbox banner is on stderr %d times:\n%s", n, d.Stderr)
	}
}

// verbError is the "posagent VERB: …" line of stderr (the log lines aside).
func verbError(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "posagent run: ") {
			return line
		}
	}
	return ""
}
