package queue

import (
	"errors"
	"fmt"
	"time"

	"posagent/gateway"
)

var (
	// ErrOffline is what a handler wraps when its remote could not be
	// reached at all (connection refused, DNS, timeout before an answer).
	// The attempt is not counted, the job waits at least ProbeInterval,
	// and the remote's Prober (Options.Gateway, Options.Report) is told:
	// the remote's jobs wait until one of its checks gets an answer. A
	// gateway error for which gateway.IsUnreachable holds means the same,
	// unwrapped.
	ErrOffline = errors.New("queue: remote unreachable")
	// ErrNotFound: no job with that ID.
	ErrNotFound = errors.New("queue: job not found")
	// ErrState: the operation does not apply to the job's state (Retry of
	// a done job).
	ErrState = errors.New("queue: operation not allowed in this state")
	// ErrProtected: Drop of a trade_reconcile job or of a job that moves
	// money (MovesMoney: trade_cancel, trade_refund, reconcile). Those
	// resolve a trade or give money back; dropping one could leave a
	// customer charged with no record. Retry it, or resolve the trade with
	// Alipay first.
	ErrProtected = errors.New("queue: trade jobs cannot be dropped; retry the job, or resolve the trade with Alipay first")
	// ErrRunning: Run was called twice.
	ErrRunning = errors.New("queue: already running")
)

// permanentError marks a failure that no retry can fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return "permanent: " + e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that the job becomes StateFailed at once: not
// retried, logged at error level (event job_failed). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// retryError asks for a retry no sooner than after, or (exact) in after.
type retryError struct {
	err   error
	after time.Duration
	exact bool
}

func (e *retryError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.err, e.after)
}
func (e *retryError) Unwrap() error { return e.err }

// Retry wraps err so that the attempt counts as failed and the job runs
// again no sooner than after (nor sooner than its backoff), e.g. a trade
// cancel answered with retry_flag=Y. Retry(nil, d) is nil.
func Retry(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryError{err: err, after: after}
}

// RetryIn wraps err so that the job runs again in exactly d, whatever its
// backoff: for a job that is not failing but waiting on the far side at a
// cadence the product promises (a cancel repeated while a late trade.pay
// may still land, the hourly re-query of a needs_attention trade). The
// attempt is not counted toward the backoff (the far side answered), so a
// later real failure backs off from where the failures left it; MaxAge
// applies as for Retry. RetryIn(nil, d) is nil.
func RetryIn(err error, d time.Duration) error {
	if err == nil {
		return nil
	}
	return &retryError{err: err, after: d, exact: true}
}

// IsOffline reports whether err means the remote could not be reached:
// it wraps ErrOffline, or it is a gateway error for which
// gateway.IsUnreachable holds. A gateway answer of any code (20000
// included), a reply that failed verification and a plain error are not
// offline: they are failed attempts.
func IsOffline(err error) bool {
	return errors.Is(err, ErrOffline) || gateway.IsUnreachable(err)
}

// outcome classes of one attempt.
type class int

const (
	classDone        class = iota
	classRetry             // counted failure, backoff
	classFailed            // Permanent
	classOffline           // remote unreachable, not counted
	classInterrupted       // Run's ctx ended during the attempt: nothing recorded
	classWait              // RetryIn: not counted, runs again in exactly the given delay
)

func (c class) String() string {
	return [...]string{"done", "retry", "failed", "offline", "interrupted", "wait"}[c]
}

// classify maps a handler error to an outcome class and the retry delay
// it asked for.
func classify(err error) (class, time.Duration) {
	if err == nil {
		return classDone, 0
	}
	var p *permanentError
	if errors.As(err, &p) {
		return classFailed, 0
	}
	if IsOffline(err) {
		return classOffline, 0
	}
	var r *retryError
	if errors.As(err, &r) {
		if r.exact {
			return classWait, r.after
		}
		return classRetry, r.after
	}
	return classRetry, 0
}
