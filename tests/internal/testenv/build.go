//go:build linux

package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"posagent/gateway/sandbox"
)

// Set by Main.
var (
	binary  string // the posagent binary built for this test package
	keysDir string // sandbox key pairs shared by every Env of the package
)

// Main builds the posagent binary and the sandbox's key pairs once for the
// test package, runs the tests and removes both. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "posagent-testenv-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "posagent")
	args := []string{"build", "-o", binary}
	if Race {
		// go test -race: the daemon runs under the race detector too, and
		// a race it reports fails the test (see Env's cleanup).
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "posagent/cmd/posagent")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: go build posagent/cmd/posagent:", err)
		return 1
	}
	// Generating two RSA-2048 pairs takes a while on a small machine; every
	// sandbox of the package loads the same ones (each has its own ledger).
	keysDir = filepath.Join(dir, "keys")
	if _, err := sandbox.New(sandbox.Config{Dir: keysDir}); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: sandbox keys:", err)
		return 1
	}
	return m.Run()
}

// Binary is the path of the posagent binary that Main built.
func Binary() string {
	if binary == "" {
		panic("testenv: call testenv.Main from TestMain")
	}
	return binary
}
