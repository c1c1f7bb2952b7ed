package logtest_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// eventRE finds the event names the code writes: Str("event", "name") and
// the checkout engine's e.ev(level, r, "name") / e.refundEv(level, r, rf, "name").
var eventRE = regexp.MustCompile(`Str\("event", "([a-z_]+)"\)|(?:ev|refundEv)\(zerolog\.[A-Za-z]+Level, &?[a-z]+, (?:&?[a-z]+, )?"([a-z_]+)"`)

// TestEveryLogEventIsInTheCatalogue keeps docs/LOGS.md, which stores
// monitor posagent by, in step with the code: a new event without a row
// fails here.
func TestEveryLogEventIsInTheCatalogue(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "LOGS.md"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "tests" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range eventRE.FindAllStringSubmatch(string(src), -1) {
			name := m[1] + m[2]
			found[name] = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 50 {
		t.Fatalf("found only %d event names: the pattern no longer matches the code", len(found))
	}
	for name, path := range found {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("event %q (%s) has no row in docs/LOGS.md", name, path)
		}
	}
}
