package queue

import "time"

// Backoff is the delay before the attempt that follows failed attempt
// number attempt (1 for the first failure): base doubled per earlier
// attempt, capped at max, with "equal jitter" — half the delay fixed and
// half scaled by jitter, a number in [0, 1). The result lies in
// [d/2, d) where d = min(base·2^(attempt−1), max).
//
// It depends only on its arguments, so the queue computes it from the
// attempt count stored with the job and a restart neither resets nor
// shortens a job's backoff. (github.com/cenkalti/backoff/v4's
// ExponentialBackOff keeps its interval as mutable state advanced call by
// call and reads its own clock for MaxElapsedTime; rebuilding that state
// from a stored count means replaying n calls, so the ten lines below are
// simpler and exact.)
func Backoff(attempt int, base, max time.Duration, jitter float64) time.Duration {
	if base <= 0 || max <= 0 {
		return 0
	}
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max || d <= 0 {
		d = max
	}
	if jitter < 0 || jitter >= 1 {
		jitter = 0
	}
	half := d / 2
	return half + time.Duration(jitter*float64(d-half))
}
