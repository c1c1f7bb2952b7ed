//go:build linux

package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"posagent/tests/internal/testenv"
)

const syscallSIGTERM = syscall.SIGTERM

// runExit runs "posagent run" on config, which must fail on its own, and
// returns its exit status and output.
func runExit(t *testing.T, env *testenv.Env, config string) (int, string) {
	t.Helper()
	d := env.Spawn(t, config)
	code, err := d.Wait(20 * time.Second)
	if err != nil {
		t.Fatalf("%v\n%s", err, d.Output())
	}
	t.Logf("posagent run --config %s: exit %d\n%s", filepath.Base(config), code, d.Output())
	return code, d.Output()
}

// lineOf is the 1-based line of the first line of text holding s.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the config", s)
	return 0
}

// TestConfigErrors: an IT person's mistakes in posagent.toml stop the
// daemon at once with exit 2 and a message naming the file, line and key.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})

	t.Run("unknown key", func(t *testing.T) {
		text := strings.Replace(env.TOML(""), "[scanner]\n", "[scanner]\nparity = \"none\"\n", 1)
		bad := filepath.Join(env.Dir, "bad.toml")
		if err := os.WriteFile(bad, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out := runExit(t, env, bad)
		want := fmt.Sprintf("bad.toml:%d", lineOf(t, text, "parity"))
		if code != 2 || !strings.Contains(out, want) || !strings.Contains(out, "scanner.parity") {
			t.Errorf("unknown key: exit %d\n%s\nwant exit 2 naming %s and scanner.parity", code, out, want)
		}
	})

	t.Run("bad value", func(t *testing.T) {
		text := strings.Replace(env.TOML(""), `query_interval = "100ms"`, `query_interval = "soon"`, 1)
		bad := filepath.Join(env.Dir, "badvalue.toml")
		if err := os.WriteFile(bad, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out := runExit(t, env, bad)
		want := fmt.Sprintf("badvalue.toml:%d", lineOf(t, text, "query_interval"))
		if code != 2 || !strings.Contains(out, want) || !strings.Contains(out, "checkout.query_interval") {
			t.Errorf("bad duration: exit %d\n%s\nwant exit 2 naming %s and checkout.query_interval", code, out, want)
		}
	})

	for _, key := range []string{"app_private_key_file", "alipay_public_key_file"} {
		t.Run("missing "+key, func(t *testing.T) {
			text := env.TOML("")
			var old string
			for _, l := range strings.Split(text, "\n") {
				if strings.HasPrefix(l, key+" = ") {
					old = l
				}
			}
			gone := filepath.Join(env.Dir, "no-such-key.pem")
			text = strings.Replace(text, old, key+" = "+fmt.Sprintf("%q", gone), 1)
			bad := filepath.Join(env.Dir, "nokey.toml")
			if err := os.WriteFile(bad, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out := runExit(t, env, bad)
			if code != 2 || !strings.Contains(out, "alipay."+key) || !strings.Contains(out, "nokey.toml") {
				t.Errorf("missing key file: exit %d\n%s\nwant exit 2 naming nokey.toml and alipay.%s", code, out, key)
			}
		})
	}
}

// TestSecondDaemon: a second posagent on the same data_dir (a second
// service unit, a forgotten terminal) exits 2 with a clear message and
// leaves the first one working.
func TestSecondDaemon(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, testenv.Options{})
	env.Start(t)
	cl := env.Client(t)

	// Another API port and log, the same data_dir.
	second := filepath.Join(env.Dir, "second.toml")
	text := strings.Replace(env.TOML(""), fmt.Sprintf("listen = %q", env.Addr), fmt.Sprintf("listen = %q", testenv.FreeAddr(t)), 1)
	text = strings.Replace(text, "posagent.log", "second.log", 1)
	if err := os.WriteFile(second, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runExit(t, env, second)
	if code != 2 || !strings.Contains(out, "already running") || !strings.Contains(out, "data_dir") {
		t.Errorf("second daemon: exit %d\n%s\nwant exit 2 saying another posagent runs on the data_dir", code, out)
	}

	// The first still takes payments.
	co := create(t, cl, "S1", "3.00")
	testenv.WaitScannerOpen(t, cl, 5*time.Second)
	code1 := testenv.Code()
	env.Scanner.Scan(t, code1)
	mustPaid(t, env.Sandbox, testenv.WaitFinal(t, cl, co.ID, finalWait), code1, "3.00")
}
