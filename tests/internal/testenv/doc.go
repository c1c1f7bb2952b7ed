// Package testenv starts the real posagent binary the way a store runs it,
// for the end-to-end (tests/e2e) and crash (tests/crash) suites: a gateway
// sandbox in the test process (so its ledger outlives daemon kills), a
// posagent.toml that points the daemon at it as a live gateway with real
// keys, a pseudo-terminal as the serial scanner, and the daemon as a child
// process driven over its local API and CLI verbs.
//
// Everything it starts is stopped by t.Cleanup. It talks only to 127.0.0.1
// and local ptys. The Linux-only parts (pty, SIGKILL) build only on Linux.
package testenv
