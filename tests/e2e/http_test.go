//go:build linux

package e2e_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"posagent/tests/internal/testenv"
)

type reply struct {
	status int
	header http.Header
	body   []byte
}

var plain = &http.Client{Timeout: 10 * time.Second}

// do sends one raw request to the daemon's API, as register software in
// any language would. token "" sends no Authorization header.
func do(tb testing.TB, env *testenv.Env, method, path, token, body string) reply {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, env.BaseURL()+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := plain.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read: %v", method, path, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}
