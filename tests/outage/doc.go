// Package outage is the gateway-outage suite of posagent (issue 7): the
// Alipay gateway and the merchant's report backend unreachable for a long
// time in the middle of payments, awards and coupon reports, and everything
// resolving once they are back, with nothing dead-lettered early and no
// money charged without a paid checkout.
//
// # What is real and what is simulated
//
// Each test builds one in-process world on a bbolt file in t.TempDir(): the
// gateway sandbox (gateway/sandbox, real RSA signatures and business rules),
// a real gateway.Client, the durable queue with the production award and
// coupon_report handlers, the checkout engine with coupon reports on, and a
// report backend that counts Idempotency-Keys. The intervals are the
// production defaults: trade.query every 3 s, decision deadline 60 s, decode
// retry window 5 s, queue probe interval 5 s, max_age 72 h.
//
// Time is simulated. A clock.Fake drives the engine, the queue, the sandbox
// (request timestamps, code expiry, the 24 h cancel window) and the client's
// request timestamps, and the whole world runs in a testing/synctest bubble
// whose own clock (which times HTTP calls, dials and probes out) moves in
// step with it. Every step of the clock is followed by synctest.Wait: the
// step's work (probes, polls, commits) has finished before the next one.
// Hours pass in milliseconds and nothing depends on the machine's speed.
//
// The network is simulated too, because sockets are not allowed to block a
// synctest bubble: each remote sits behind a "link", an in-memory TCP path
// (net.Pipe connections) between a real http.Transport and a real
// http.Server. A link that is down fails in one of two ways. "refuse": dials
// get the error the kernel gives for a closed loopback port (*net.OpError
// "dial tcp …: connect: connection refused", ECONNREFUSED) and every open
// connection is reset (ECONNRESET). "blackhole": packets vanish, as behind a
// dead uplink: dials hang until the client's dial timeout, writes are
// swallowed and reads wait until the caller gives up. Either way the HTTP
// stack, gateway.IsUnreachable and queue.IsOffline see what they see in a
// store whose internet is gone; TestRefusedDialMatchesKernel (Linux) checks
// the refused and reset errors against real loopback sockets.
//
// # The scenario
//
// Before the outage: paid checkouts with coupons (their reports delivered),
// two awards, two password-wait checkouts polling (test codes 01 and 02).
// The outage starts in the middle of things: a trade.pay that the gateway
// has committed (its reply is lost with the link), an award the gateway has
// granted (reply lost), a coupon report the backend has applied (reply lost)
// and one still on the way (never applied), and it starts exactly between
// the pay intent of one more checkout and its trade.pay (so that pay never
// reaches the gateway). During the outage a code is scanned (the decode
// cannot reach Alipay: GATEWAY_UNAVAILABLE) and more awards are queued. The
// unresolved trades reach their decision deadline and go to cancelling with
// durable cancel jobs that cannot reach the gateway.
//
// At every step of the outage the suite asserts that nothing is dead or
// failed, that no pending job has a counted attempt, that no checkout is in
// a state it must not reach while the gateway is away, that the sandbox
// ledger has not moved, that no queue call got through, and that each
// remote always had a probe under way within the last 10 s of clock time
// (in 10-minute steps: one or two probes per step, never a burst). When the
// links come back it steps the clock in seconds until everything has
// drained (at most 10 s, SPEC §4), rescans the code, and checks the end
// state against the ledger: every checkout terminal, paid ones backed by
// exactly one successful trade of the right amount, cancelled ones closed or
// refunded in the ledger, no successful unrefunded trade without a paid (or
// needs_attention) checkout, each coupon redeemed or released, every award
// granted exactly once by out_biz_no, every report delivered with effects =
// distinct Idempotency-Keys, every job done with one counted attempt.
//
// Three outages run by default, a few seconds of CPU in all: 15 minutes of
// refused connections and 15 minutes of blackhole, walked in 1 s steps, and
// 48 hours of refused connections with max_age 72 h, walked in 1 s steps
// for the first 2 minutes and then in 10-minute steps. After 48 h the
// trades the gateway holds are past Alipay's 24 h cancel window, so those
// checkouts end in needs_attention (ACQ.TRADE_CANCEL_TIME_OUT), as SPEC §4
// says; the pay that never reached the gateway still ends cancelled.
//
// # Running it
//
//	go test ./tests/outage/
//	go test -v -run 'TestOutage/long' ./tests/outage/          # numbers in the log
//	POSAGENT_OUTAGE=120h go test -v -run 'TestOutage/long' ./tests/outage/
//	POSAGENT_OUTAGE=48h POSAGENT_OUTAGE_STEP=5s go test -v -timeout 30m -run 'TestOutage/long' ./tests/outage/
//
// POSAGENT_OUTAGE (a Go duration, default 48h) sets the length of the long
// variant; max_age is then the larger of 72 h and the outage plus one hour,
// so nothing may be dead-lettered. POSAGENT_OUTAGE_STEP (default 10m) sets
// its step after the first 2 minutes; at 10s or less every probe interval
// of the whole outage is checked (at 5s, about 35,000 steps for 48 h: a few
// minutes).
package outage
