package checkout

import (
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"
)

// CodeScanTimeout is the error of a checkout cancelled because nobody
// scanned a code within ScanTimeout of its creation.
const CodeScanTimeout = "SCAN_TIMEOUT"

// scanExpired reports whether r awaits a scan past ScanTimeout. The age is
// measured on the steady clock from ScanFrom, so it survives restarts
// (counted from creation, SPEC §4) and ignores wall-clock steps while the
// process runs.
func (e *Engine) scanExpired(r *record) bool {
	from := r.ScanFrom
	if from.IsZero() {
		from = r.CreatedAt
	}
	return r.State == AwaitingScan && !e.steady.Now().Before(from.Add(e.opts.ScanTimeout))
}

// expireScans cancels, with SCAN_TIMEOUT, every checkout awaiting a scan
// longer than ScanTimeout, so a crashed register never leaves the scanner
// bound to an old order. Start and Create call it first, the housekeeping
// loop regularly; Scan checks its checkout in its own transaction.
func (e *Engine) expireScans() {
	var ids []string
	_ = e.db.View(func(tx *bolt.Tx) error {
		for _, id := range idsInState(tx, AwaitingScan) {
			if r, err := getRecord(tx, id); err == nil && e.scanExpired(&r) {
				ids = append(ids, id)
			}
		}
		return nil
	})
	for _, id := range ids {
		r, err := e.transition(id, func(_ *bolt.Tx, r *record, now time.Time) error {
			if !e.scanExpired(r) {
				return errStale
			}
			setScanTimeout(r, now)
			return nil
		})
		if err != nil {
			if !isStale(err) {
				e.logTransitionError(&r, "cancelled", err)
			}
			continue
		}
		e.scanTimedOut(&r)
	}
}

// setScanTimeout moves r, awaiting a scan past ScanTimeout, to cancelled
// with SCAN_TIMEOUT (the caller commits it).
func setScanTimeout(r *record, now time.Time) {
	r.State, r.CancelReason = Cancelled, reasonScanTimeout
	r.Error = errorFor(CodeScanTimeout, "")
	r.UpdatedAt = now
}

// scanTimedOut runs after a SCAN_TIMEOUT cancel committed outside
// transition: hook and log (transition broadcasts; Scan calls broadcast).
func (e *Engine) scanTimedOut(r *record) {
	e.hook(StepCancelled)
	e.ev(zerolog.WarnLevel, r, "cancelled").Str("reason", reasonScanTimeout).
		Dur("scan_timeout", e.opts.ScanTimeout).Msg("no code was scanned in time: checkout cancelled")
}
