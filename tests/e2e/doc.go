// Package e2e holds the end-to-end tests of posagent (issue 6): the real
// binary, built once per run, driven the way a register, a cashier and a
// store's IT person use it. Each test gets its own machine (testenv.Env):
// a gateway sandbox in the test process, reached by the daemon as a live
// gateway with real RSA keys (optionally through a link the test can cut),
// a scanner on a pseudo-terminal, and "posagent run" as a child process on
// 127.0.0.1.
//
// Covered: paying by scan (also with non-ASCII subjects, and with a code
// the register scanned itself), a declined payment, a password wait, an
// unresolved payment cancelled at the decision deadline, a payment that
// could not be confirmed and was refunded, a rejected WeChat scan, coupons,
// consult/award/agreements, the operator CLI and its exit statuses, bad
// API input (401, 400, 409, 413, 415), config mistakes (exit 2 naming
// file:line and key), a second daemon on the same data_dir, SIGKILL and
// restart mid-payment, a gateway outage, the log (no payment code or token
// in it, every checkout line named, the status heartbeat), and SIGTERM.
// After every test the log and the daemon's output are searched for every
// code scanned and for the API token.
//
// They run with the default suite (Linux only), in about 20 s:
//
//	go test ./tests/e2e/
//
// With -race the daemon is built with -race too, and a race it reports
// fails the test. The kill -9 suite is tests/crash.
package e2e
