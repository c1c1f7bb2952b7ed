package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// closedLoopbackAddr returns a loopback address nothing listens on.
func closedLoopbackAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// runMain runs the dispatcher on args and returns the exit status and what it
// wrote.
func runMain(tb testing.TB, args ...string) (code int, stdout, stderr string) {
	tb.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Streams{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut}}
	code = m.Run(context.Background(), args)
	return code, out.String(), errOut.String()
}

var verbs = []string{
	"run", "sandbox", "keygen", "pay", "status", "checkouts", "jobs",
	"coupons", "consult", "award", "agreements", "version", "service",
	"backup", "compact", "check",
}

func TestMainExitStatus(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir) // no posagent.toml here: built-in defaults
	bad := writeConfig(t, t.TempDir(), "[scanner]\n\ndevise = \"COM3\"\n")
	invalid := writeConfig(t, t.TempDir(), "[log]\nlevel = \"loud\"\n")
	missing := filepath.Join(dir, "nope.toml")
	closedAddr := closedLoopbackAddr(t)
	notRunningDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(notRunningDir, "api.token"), []byte("0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notRunning := writeConfig(t, notRunningDir, "[api]\nlisten = \""+closedAddr+"\"\ntoken_file = \"api.token\"\n")

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring
		stderr string // substring
	}{
		{"no arguments", nil, 2, "", "Usage: posagent VERB"},
		{"help", []string{"help"}, 0, "Usage: posagent VERB", ""},
		{"--help", []string{"--help"}, 0, "Usage: posagent VERB", ""},
		{"help on a verb", []string{"help", "keygen"}, 0, "Usage: posagent keygen", ""},
		{"unknown verb", []string{"charge"}, 2, "", `unknown verb "charge"`},
		{"version", []string{"version"}, 0, "posagent dev\ncommit   ", ""},
		{"version names go and the platform", []string{"version"}, 0, "\ngo       " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n", ""},
		{"version takes --config", []string{"version", "--config", missing}, 0, "posagent dev", ""},
		{"version with a bad flag", []string{"version", "--verbose"}, 2, "", "flag provided but not defined: -verbose"},
		{"version with an argument", []string{"version", "now"}, 2, "", `unexpected argument "now"`},
		{"keygen without --dir", []string{"keygen"}, 2, "", "--dir is required"},
		{"keygen with bad --bits", []string{"keygen", "--dir", dir, "--bits", "1024"}, 2, "", "--bits must be 2048, 3072 or 4096"},
		{"keygen with a bad flag", []string{"keygen", "--dri", dir}, 2, "", "flag provided but not defined: -dri"},
		{"status with an unknown key", []string{"status", "--config", bad}, 2, "", bad + ":3: scanner.devise: unknown key"},
		{"run with an invalid value", []string{"run", "--config", invalid}, 2, "", invalid + ":2: log.level: must be"},
		{"run with a missing --config", []string{"run", "--config", missing}, 2, "", "config file not found"},
		{"pay without --amount", []string{"pay", "--order", "A1"}, 2, "", "--amount is required"},
		{"pay with a bad amount", []string{"pay", "--order", "A1", "--amount", "1.234"}, 2, "", "--amount must be"},
		{"jobs with an unknown kind", []string{"jobs", "--kind", "bogus"}, 2, "", `--kind must be one of trade_cancel, `},
		{"jobs with an unknown state", []string{"jobs", "--state", "bogus"}, 2, "", `--state must be one of`},
		{"checkouts flag after ID", []string{"checkouts", "c1", "--wait", "5s"}, 2, "", "put flags first"},
		{"checkouts --wait too long", []string{"checkouts", "--wait", "2m", "c1"}, 2, "", "--wait must be between"},
		{"consult with two users", []string{"consult", "--scene", "s", "--user-id", "1", "--mobile", "2"}, 2, "", "exactly one"},
		{"sandbox with a bad fraction", []string{"sandbox", "--bad-sign", "2"}, 2, "", "--bad-sign must be between 0 and 1"},
		{"status with no daemon running", []string{"status", "--config", notRunning}, 1, "", "posagent is not running at " + closedAddr},
		{"service off Windows", []string{"service", "--config", notRunning, "install"}, 2, "", "etc/posagent.service"},
		{"service with a bad action", []string{"service", "restart"}, 2, "", `unknown service action "restart"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tt.args...)
			if code != tt.code || !strings.Contains(stdout, tt.stdout) || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("posagent %q = %d\nstdout: %s\nstderr: %s\nwant %d, stdout ...%q..., stderr ...%q...",
					tt.args, code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

// TestEveryVerbHasHelp checks that each verb answers -h with its usage,
// mentions --config, and exits 0.
func TestEveryVerbHasHelp(t *testing.T) {
	for _, verb := range verbs {
		code, _, stderr := runMain(t, verb, "-h")
		if code != 0 || !strings.Contains(stderr, "Usage: posagent "+verb) || !strings.Contains(stderr, "-config FILE") {
			t.Errorf("posagent %s -h = %d\n%s", verb, code, stderr)
		}
	}
}

func TestKeygen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys") // created by keygen
	code, stdout, stderr := runMain(t, "keygen", "--dir", dir)
	if code != 0 {
		t.Fatalf("keygen = %d: %s", code, stderr)
	}
	privPath := filepath.Join(dir, "app_private.pem")
	pubPath := filepath.Join(dir, "app_public.pem")

	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		fields[k] = v
	}
	if fields["app_private_key"] != privPath || fields["app_public_key"] != pubPath {
		t.Errorf("stdout names %v", fields)
	}

	key := readPrivateKey(t, privPath)
	if key.N.BitLen() != 2048 {
		t.Errorf("key has %d bits", key.N.BitLen())
	}
	pubDER := readPEM(t, pubPath, "PUBLIC KEY")
	pub, err := x509.ParsePKIXPublicKey(pubDER)
	if err != nil {
		t.Fatal(err)
	}
	if !key.PublicKey.Equal(pub) {
		t.Error("app_public.pem is not the public half of app_private.pem")
	}
	if got, err := base64.StdEncoding.DecodeString(fields["public_key"]); err != nil || !bytes.Equal(got, pubDER) {
		t.Errorf("public_key is not the bare base64 of the SPKI key: %q", fields["public_key"])
	}
	if runtime.GOOS != "windows" {
		if st, err := os.Stat(privPath); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("app_private.pem mode: %v %v", st.Mode(), err)
		}
	}

	// Existing keys are never replaced without --force.
	before, _ := os.ReadFile(privPath)
	code, _, stderr = runMain(t, "keygen", "--dir", dir)
	if code != 1 || !strings.Contains(stderr, "--force") {
		t.Errorf("keygen over existing keys = %d: %s", code, stderr)
	}
	if after, _ := os.ReadFile(privPath); !bytes.Equal(before, after) {
		t.Error("app_private.pem changed without --force")
	}

	code, _, stderr = runMain(t, "keygen", "--dir", dir, "--force")
	if code != 0 {
		t.Fatalf("keygen --force = %d: %s", code, stderr)
	}
	if after, _ := os.ReadFile(privPath); bytes.Equal(before, after) {
		t.Error("app_private.pem not replaced with --force")
	}
	if !readPrivateKey(t, privPath).PublicKey.Equal(mustParsePKIX(t, readPEM(t, pubPath, "PUBLIC KEY"))) {
		t.Error("pair does not match after --force")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("keygen left %d files in %s", len(entries), dir)
	}
}

func readPEM(tb testing.TB, path, typ string) []byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != typ {
		tb.Fatalf("%s: not a %s PEM block", path, typ)
	}
	return block.Bytes
}

func readPrivateKey(tb testing.TB, path string) *rsa.PrivateKey {
	tb.Helper()
	k, err := x509.ParsePKCS8PrivateKey(readPEM(tb, path, "PRIVATE KEY"))
	if err != nil {
		tb.Fatal(err)
	}
	return k.(*rsa.PrivateKey)
}

func mustParsePKIX(tb testing.TB, der []byte) any {
	tb.Helper()
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func TestWatchSignals(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	done := make(chan struct{})
	cancelled := make(chan struct{})
	exited := make(chan int, 1)
	var stderr bytes.Buffer
	finished := make(chan struct{})
	go func() {
		watchSignals(sigs, done, func() { close(cancelled) }, &stderr, func(code int) { exited <- code })
		close(finished)
	}()

	sigs <- syscall.SIGTERM
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("first signal did not cancel")
	}
	select {
	case code := <-exited:
		t.Fatalf("first signal exited with %d", code)
	default:
	}

	sigs <- os.Interrupt
	select {
	case code := <-exited:
		if code != 1 {
			t.Errorf("second signal exited with %d, want 1", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second signal did not exit")
	}
	<-finished
}

func TestSignalContextStop(t *testing.T) {
	ctx, stop := signalContext(context.Background(), &bytes.Buffer{}, func(int) { t.Error("exit called") })
	stop()
	stop() // twice is fine
	if ctx.Err() == nil {
		t.Error("stop did not cancel the context")
	}
}
