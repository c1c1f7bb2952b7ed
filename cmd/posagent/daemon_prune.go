package main

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// minRetention is the shortest [data] retention: a checkout must outlive
// the reconcile of its day, which runs the next day and is retried while
// Alipay's bill is not ready.
const minRetention = 72 * time.Hour

// Retention ([data] retention): the daemon prunes finished checkouts and
// done jobs older than the retention once shortly after start and then
// every hour, in small batches with a pause between them (the pause is the
// packages' PrunePause), so that payments never wait behind it.
const (
	// pruneEvery is the time between two prune runs.
	pruneEvery = time.Hour
	// pruneBatch is how many records one prune transaction deletes.
	pruneBatch = 200
)

// pruneFirstAfter is how long after start the first prune run begins: not
// at once, so that a restart's recovery and the first payments go first.
// A variable so tests can start it sooner.
var pruneFirstAfter = time.Minute

// pruneLoop runs prune once pruneFirstAfter after start, then every
// pruneEvery, until ctx ends.
func (d *daemon) pruneLoop(ctx context.Context) {
	t := time.NewTimer(pruneFirstAfter)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.prune(ctx, time.Now())
		t.Reset(pruneEvery)
	}
}

// pruneResult is what one prune run deleted.
type pruneResult struct {
	Checkouts int
	Jobs      int
}

// prune deletes the paid, failed and cancelled checkouts and the done jobs
// last updated more than [data] retention before now, and logs one line:
// info "prune" with the counts, or error "prune_failed". A run cut short by
// ctx (shutdown) logs what it did at info level; the rest waits for the
// next start.
func (d *daemon) prune(ctx context.Context, now time.Time) (pruneResult, error) {
	var res pruneResult
	retention := d.cfg.Data.Retention.Duration()
	if retention < minRetention {
		// Validate refuses this; never let a zero retention empty the
		// journal of today's takings.
		err := fmt.Errorf("data.retention %s is below %s: nothing pruned", retention, minRetention)
		d.log.Error().Str("event", "prune_failed").Err(err).Msg("pruning skipped")
		return res, err
	}
	before := now.Add(-retention)
	start := time.Now()
	var err error
	res.Checkouts, err = d.engine.Prune(ctx, before, pruneBatch)
	if err == nil {
		res.Jobs, err = d.queue.Prune(ctx, before, pruneBatch)
	}
	took := time.Since(start)
	if err != nil && !errors.Is(err, context.Canceled) {
		d.log.Error().Str("event", "prune_failed").Err(err).Time("before", before).
			Int("checkouts", res.Checkouts).Int("jobs", res.Jobs).Dur("took", took).
			Msg("pruning old checkouts and jobs failed; it is tried again in an hour")
		return res, err
	}
	d.log.Info().Str("event", "prune").Time("before", before).
		Int("checkouts", res.Checkouts).Int("jobs", res.Jobs).Dur("took", took).
		Bool("cut_short", err != nil).
		Msg("pruned finished checkouts and done jobs older than the retention")
	return res, err
}
