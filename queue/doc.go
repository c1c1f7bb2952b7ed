// Package queue is posagent's durable work queue: the jobs that must happen
// eventually, however long a store stays offline — cancel an unresolved
// trade, reconcile a trade by query, report a coupon redemption to the
// merchant backend, receive an invite award.
//
// Jobs live in the daemon's bbolt file, next to the checkouts, so a checkout
// state change and the job it implies commit in one transaction (EnqueueTx).
// Each job has a kind and an idempotency key (unique per kind), a JSON
// payload, a state (pending, done, failed, dead), an attempt count, a next
// run time, the last error and a JSON result.
//
// # Delivery
//
// Delivery is at least once. A job's outcome is committed only after its
// handler returned, so a job that was running when the process died (kill
// -9, power cut) runs again after restart; handlers send the job's key to
// the remote side (out_trade_no, out_biz_no, an Idempotency-Key header) so
// that a repeat is harmless.
//
// # Retries
//
// A failed attempt is retried after an exponential backoff with jitter
// computed from the stored attempt count (see Backoff), so restarts neither
// reset nor shorten it. A job whose latest attempt failed and whose age
// (since creation, or since it was last retried by hand) reached MaxAge is
// dead-lettered: state dead, logged at error level, left for a person who
// can Retry it. A handler returns Permanent(err) for a failure that no retry
// can fix (state failed).
//
// Jobs that move money back or settle a trade (MovesMoney: trade_cancel,
// trade_refund, reconcile) are never dead-lettered: past MaxAge they are
// overdue, keep running every MaxBackoff until the remote confirms, are
// logged at error level once an hour (job_overdue) and counted in
// Stats.Overdue.
//
// # Time
//
// Every schedule decision — next run, backoff, age, overdue — and every
// time the queue stores is read from clock.Steady(Options.Clock): the wall
// time when the queue opened plus the monotonic time since. A cashier PC
// whose clock NTP steps an hour after boot therefore neither delays a job
// by the step nor ages one. Across a restart, a job whose stored next run
// lies further ahead than the delay chosen for it (the clock was set back
// while the daemon was down) waits only that delay.
//
// # Offline
//
// Every kind belongs to a remote: RemoteGateway (the Alipay gateway:
// trade_cancel, trade_reconcile, award_receive and any kind not listed) or
// RemoteReport (the merchant backend: coupon_report). Whether a remote can
// be reached is learnt from its Prober (Options.Gateway, Options.Report: a
// *probe.Probe whose Check is one harmless call — a signed trade.query for
// the gateway, a HEAD of report_url for the backend) and from attempts
// that got no answer (ErrOffline, or a gateway error for which
// gateway.IsUnreachable holds), never from a job's answer: a job refused
// for good (40004, 40006, a 4xx) fails alone and holds back nothing.
//
// An attempt that got no answer is not counted; it reports the remote
// Unreachable and the job waits at least ProbeInterval. While a remote's
// Prober says offline its jobs are not dispatched (and not aged into
// dead-letter: no attempt fails); the Prober checks the remote every few
// seconds, and the moment it answers (Changed) the due jobs drain, bounded
// by Concurrency. The other remote keeps working: a dead merchant backend
// does not hold up trade cancels, and an Alipay outage does not hold up
// redemption reports. A remote without a Prober has no shared state: each
// job that finds it unreachable waits ProbeInterval alone.
//
// # Storage
//
// Buckets (all prefixed "queue."): jobs (id, big-endian from NextSequence →
// job JSON), keys (kind NUL key → id), due (kind NUL next-run id → age
// base, pending jobs only, so each kind's due jobs sort by next run) and
// stuck (id → state, dead and failed jobs). The scheduler, start-up and
// Depth read only these indexes, so done jobs cost nothing.
package queue
