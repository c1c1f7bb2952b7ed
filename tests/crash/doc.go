// Package crash is the kill -9 test of posagent (issue 7): the real binary,
// the scanner on a pty, the gateway sandbox injecting latency, dropped
// replies after commit, 20000s and bad signatures on decode, pay, query and
// cancel. Each round creates a checkout for a new order, scans a new code
// (ordinary codes, password-wait test codes, and a few that commit the
// trade but answer 20000), SIGKILLs the daemon at a
// random instant 0–kill-max after the scan and restarts it, asserting that
// it serves /healthz again within 2 s. At the end the faults are cleared,
// every checkout is long-polled to a final state, and the sandbox ledger is
// checked: no order charged twice, every paid checkout backed by exactly one
// successful trade of its amount, every successful trade owned by a paid
// checkout, nothing left unfinished.
//
// A checkout found awaiting a scan after a restart (killed before the scan
// was journaled, or while decoding: the code lived only in memory and the
// checkout shows SCAN_AGAIN) is rescanned with the same code, as a cashier
// would, within the code's 60 s validity; the rescan must reuse the
// checkout's sence_no, or the sandbox refuses the decode. After three
// rescans that do not take, the driver cancels it, so the scan slot is free
// for the next round. A quarter of the rescans are themselves cut short by
// another SIGKILL. Checkouts already past the scan (paying, waiting for the
// buyer, cancelling) are left to settle in the background, through the
// kills of the following rounds.
//
// The suite is behind the build tag "crash" and runs only when asked
// (Linux); -v prints the summary (rounds, kills, restarts, restart-to-
// serving times, states right after restart and at the end):
//
//	go test -tags crash -count=1 -v ./tests/crash/              # 100 rounds
//	go test -tags crash -count=1 -v ./tests/crash/ -rounds=300 -kill-max=1s -seed=42
//	POSAGENT_CRASH_ROUNDS=1000 go test -tags crash -count=1 -v -timeout 1h ./tests/crash/
//
// Flags (after the package): -rounds (default 100, or
// $POSAGENT_CRASH_ROUNDS), -kill-max (default 300ms), -seed (default 0:
// random; the seed is printed so a run can be repeated as far as timing
// allows). A round takes about 0.3–0.5 s. Under -race the daemon is built
// with -race as well and the restart bound is 8 s instead of 2 s.
package crash
