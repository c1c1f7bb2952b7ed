//go:build bench && linux

package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinarySize builds cmd/posagent for the three shipped platforms, plain
// and stripped (-trimpath -ldflags "-s -w"), with the toolchain's default
// CGO setting (cgo off for the cross builds; on for a native linux/amd64
// build when a C compiler is present, which only changes the net
// resolver's linking) and reports the file sizes. Cross-compiling the
// standard library the first time takes minutes; the build cache keeps it.
func TestBinarySize(t *testing.T) {
	dir := t.TempDir()
	targets := []string{"linux/amd64", "linux/arm64", "windows/amd64"}
	if v := os.Getenv("BENCH_SIZE_TARGETS"); v != "" {
		targets = strings.Split(v, ",")
	}
	var rows []string
	for _, target := range targets {
		goos, goarch, _ := strings.Cut(target, "/")
		var sizes [2]int64
		for i, flags := range [][]string{nil, {"-trimpath", "-ldflags", "-s -w"}} {
			out := filepath.Join(dir, fmt.Sprintf("posagent-%s-%s-%d", goos, goarch, i))
			args := append([]string{"build", "-o", out}, flags...)
			cmd := exec.Command("go", append(args, "posagent/cmd/posagent")...)
			cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: go %s: %v\n%s", target, strings.Join(args, " "), err, b)
			}
			fi, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			sizes[i] = fi.Size()
		}
		rows = append(rows, fmt.Sprintf("%-14s plain %5.1f MB (%d B)   stripped %5.1f MB (%d B)",
			target, float64(sizes[0])/(1<<20), sizes[0], float64(sizes[1])/(1<<20), sizes[1]))
	}
	t.Logf("binary sizes (%s):\n%s", goVersion(t), strings.Join(rows, "\n"))
}

func goVersion(t *testing.T) string {
	b, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
