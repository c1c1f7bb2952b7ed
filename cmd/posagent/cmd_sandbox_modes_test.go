package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to read while the verb writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// "posagent sandbox --cert-mode --openid --app-auth-token T" prints the
// certificate lines beside the six key lines.
func TestSandboxVerbCertMode(t *testing.T) {
	var out, errs syncBuffer
	cmd := &SandboxCommand{Streams: Streams{Stdout: &out, Stderr: &errs}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cmd.Run(ctx, []string{"--dir", t.TempDir(), "--listen", "127.0.0.1:0", "--cert-mode", "--openid", "--app-auth-token", "T1", "--escaped-slash", "0.5"})
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "test_codes:") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("sandbox: %v\n%s", err, errs.String())
	}
	for _, k := range []string{"gateway: ", "app_private_key: ", "alipay_public_key: ", "app_cert: ", "alipay_cert: ", "alipay_root_cert: ", "app_auth_token: T1", "escaped_slash=0.5"} {
		if !strings.Contains(out.String(), k) {
			t.Errorf("no %q in:\n%s", k, out.String())
		}
	}
}
