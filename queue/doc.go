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
// # Offline
//
// Every kind belongs to a remote: RemoteGateway (the Alipay gateway:
// trade_cancel, trade_reconcile, award_receive and any kind not listed) or
// RemoteReport (the merchant backend: coupon_report). When a handler reports
// its remote unreachable (ErrOffline, or a gateway error for which
// gateway.IsUnreachable holds), the attempt is not counted and that remote
// goes offline: its jobs are no longer dispatched and the remote is probed
// every ProbeInterval, with Options.Probe for the gateway when set or
// otherwise with the earliest due job of that remote. The other remote keeps
// working: a dead merchant backend does not hold up trade cancels, and an
// Alipay outage does not hold up redemption reports. When a probe gets an
// answer the remote is online again and its due jobs drain at once, bounded
// by Concurrency. While a remote is offline its due jobs still age: those
// past MaxAge are dead-lettered after a failed probe.
//
// # Storage
//
// Buckets (all prefixed "queue."): jobs (id, big-endian from NextSequence →
// job JSON), keys (kind NUL key → id), due (kind NUL next-run id → age
// base, pending jobs only, so each kind's due jobs sort by next run) and
// stuck (id → state, dead and failed jobs). The scheduler, start-up and
// Depth read only these indexes, so done jobs cost nothing.
package queue
