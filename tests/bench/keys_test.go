//go:build bench && linux

package bench

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"posagent/gateway/sandbox"
)

var (
	keysOnce sync.Once
	keysDir  string
	keysErr  error
)

// copyKeys puts the sandbox's two RSA-2048 key pairs into dst, as a daemon
// that ran before has them: generating them is a one-off cost of the very
// first start, not what the benchmarks measure. The pairs are generated
// once per test binary.
func copyKeys(tb testing.TB, dst string) {
	tb.Helper()
	keysOnce.Do(func() {
		keysDir, keysErr = os.MkdirTemp("", "posagent-bench-keys-")
		if keysErr == nil {
			_, keysErr = sandbox.New(sandbox.Config{Dir: keysDir})
		}
	})
	if keysErr != nil {
		tb.Fatal(keysErr)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		tb.Fatal(err)
	}
	ents, err := os.ReadDir(keysDir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(keysDir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
}
