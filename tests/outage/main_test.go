package outage_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"posagent/gateway/sandbox"
)

// keysDir holds the sandbox's key pairs, generated once per test binary
// (RSA-2048 key generation is the slowest thing in a world).
var keysDir string

func TestMain(m *testing.M) {
	// Tests talk to 127.0.0.1 only: refuse any other dial. The worlds use
	// in-memory links and never dial at all.
	d := &net.Dialer{Timeout: 5 * time.Second}
	http.DefaultTransport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
			return nil, fmt.Errorf("test dialed %s: only loopback allowed", addr)
		}
		return d.DialContext(ctx, network, addr)
	}
	dir, err := os.MkdirTemp("", "posagent-outage-keys-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	keysDir = dir
	if _, err := sandbox.New(sandbox.Config{Dir: keysDir}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
