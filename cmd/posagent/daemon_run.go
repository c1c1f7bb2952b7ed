package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"posagent/checkout"
	"posagent/gateway"
	"posagent/scanner"
)

// run starts the engine (resuming unfinished checkouts), the queue workers,
// the scanner, the local API, the heartbeat and the hourly prune of what is
// older than [data] retention, and blocks until ctx is
// cancelled. Then it stops taking scans and requests, gives payments in
// flight up to drainTimeout, and stops the rest. Nothing is lost if it is
// cut short: every step was journaled before its network call.
func (d *daemon) run(ctx context.Context) error {
	ln, err := net.Listen("tcp", d.cfg.API.Listen)
	if err != nil {
		return fmt.Errorf("api.listen %s: %w (is another posagent or program using it?)", d.cfg.API.Listen, err)
	}
	handler, err := d.apiHandler()
	if err != nil {
		ln.Close()
		return err
	}
	if err := d.engine.Start(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("resume checkouts: %w", err)
	}

	// Each component gets its own context so shutdown can stop them in
	// order: intake first (scanner, API), then payments, then the queue.
	qctx, stopQueue := context.WithCancel(context.Background())
	sctx, stopScanner := context.WithCancel(context.Background())
	apiCtx, stopAPI := context.WithCancel(context.Background())
	defer stopQueue()
	defer stopScanner()
	defer stopAPI()
	var wg sync.WaitGroup
	fatal := make(chan error, 3)
	for _, p := range d.probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.Run(qctx) // returns nil when qctx ends
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.queue.Run(qctx); err != nil && !errors.Is(err, context.Canceled) {
			fatal <- fmt.Errorf("queue: %w", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.scanner.Run(sctx, d.onScan); err != nil && !errors.Is(err, context.Canceled) {
			fatal <- err // the scanner's errors start with "scanner: "
		}
	}()
	d.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      90 * time.Second, // above the longest ?wait= (60 s)
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return apiCtx },
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fatal <- fmt.Errorf("api: %w", err)
		}
	}()
	hctx, stopHeartbeat := context.WithCancel(context.Background())
	defer stopHeartbeat()
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.heartbeat(hctx)
	}()
	pctx, stopPrune := context.WithCancel(context.Background())
	defer stopPrune()
	wg.Add(1)
	go func() {
		defer wg.Done()
		d.pruneLoop(pctx) // daemon_prune.go: [data] retention
	}()
	// [reconcile] at: queues yesterday's reconcile job daily. Start fails
	// only when called twice.
	if err := d.reconcile.Start(); err != nil {
		d.log.Error().Str("event", "reconcile_schedule_failed").Err(err).Msg("the daily reconciliation is not scheduled")
	}
	defer d.reconcile.Close()
	stopReopen := d.reopenLogsOnSignal()
	defer stopReopen()

	d.log.Info().Str("event", "started").Str("version", buildVersion()).Str("config", d.cfg.Source()).
		Str("api", ln.Addr().String()).Str("scanner", d.cfg.Scanner.Device).
		Str("gateway", d.gw.URL).Str("data_dir", d.cfg.Terminal.DataDir).Msg("posagent is running")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-fatal:
		d.log.Error().Str("event", "component_failed").Err(runErr).Msg("stopping")
	}

	// Drain: intake first, so no new scan or checkout starts.
	d.log.Info().Str("event", "stopping").Dur("drain", drainTimeout).Msg("draining")
	stopPrune()
	stopScanner()
	stopAPI() // ends ?wait= long polls, so Shutdown need not wait for them
	sdCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := d.http.Shutdown(sdCtx); err != nil {
		d.http.Close()
	}
	d.engine.Shutdown(sdCtx)
	if sdCtx.Err() != nil {
		d.log.Warn().Str("event", "drain_cut").Dur("drain", drainTimeout).
			Msg("drain time is up: payments still in flight are journaled and resume on the next start")
	}
	stopQueue()
	stopHeartbeat()
	wg.Wait()
	d.logStatus("stopped")
	return runErr
}

// onScan hands a scan to the checkout awaiting one. A code that is not an
// Alipay payment code is reported on that checkout, so the register can
// tell the cashier what was scanned.
func (d *daemon) onScan(s scanner.Scan) {
	masked := gateway.MaskCode(s.Code)
	var err error
	if s.Kind != scanner.KindAlipay {
		_, err = d.engine.RejectScan(masked, checkout.CodeNotAlipayCode, s.Kind.Message())
	} else {
		_, err = d.engine.Scan(context.Background(), s.Code)
	}
	// The engine logs a scan with no checkout awaiting it (scan_rejected);
	// anything else (a database error, shutting down) is logged here.
	if err != nil && !errors.Is(err, checkout.ErrNoCheckoutAwaiting) && !errors.Is(err, checkout.ErrBadRequest) {
		d.log.Warn().Str("event", "scan_unused").Str("code", masked).Str("kind", string(s.Kind)).
			Err(err).Msg("scan not used")
	}
}

// heartbeat logs a status line every [log] heartbeat until ctx is done.
func (d *daemon) heartbeat(ctx context.Context) {
	every := d.cfg.Log.Heartbeat.Duration()
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			d.logStatus("status")
		}
	}
}
