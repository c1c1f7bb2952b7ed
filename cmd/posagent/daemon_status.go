package main

import (
	"context"
	"fmt"
	"net/http"

	"posagent/api"
	"posagent/reconcile/daily"
)

// apiHandler builds the local API with its token (created 0600 on first
// start).
func (d *daemon) apiHandler() (http.Handler, error) {
	token, created, err := api.LoadOrCreateToken(d.cfg.API.TokenFile)
	if err != nil {
		return nil, &ConfigError{File: d.cfg.File, Key: "api.token_file", Msg: err.Error(), Err: err}
	}
	if created {
		// The path only: the token itself is never logged.
		d.log.Info().Str("event", "token_created").Str("token_file", d.cfg.API.TokenFile).
			Msg("created the API token; give the register software a copy")
	}
	alog := d.log.With().Str("component", "api").Logger()
	return api.New(api.Config{
		Token:        token,
		Checkouts:    d.engine,
		Jobs:         d.queue,
		Users:        d.gw,
		DB:           d.db,
		Status:       d.status,
		Version:      buildVersion(),
		ConsultScene: d.cfg.Marketing.ConsultScene,
		Logger:       &alog,
		Listen:       d.cfg.API.Listen,
		Hosts:        d.cfg.API.Hosts,
		CORSOrigins:  d.cfg.API.CORSOrigins,
		Events:       d.events,
		Metrics:      d.metrics(),
		Reports:      d.engine,
		Reconciler:   d.reconcile,
	})
}

// status is what GET /v1/status answers and the heartbeat logs.
func (d *daemon) status(context.Context) api.Status {
	st := api.Status{Version: buildVersion(), StartedAt: d.started}
	st.Gateway.Mode, st.Gateway.URL = api.ModeLive, d.gw.URL
	if d.sandbox != nil {
		st.Gateway.Mode = api.ModeSandbox
	}
	// Reachability is the probe's (a signed harmless call, and real calls
	// that got no answer); LastSeen is the last answer to a real call.
	h := d.gw.Health()
	st.Gateway.Reachable, st.Gateway.LastSeen = d.gatewayUp(), api.TimeOrNil(h.LastSeen)
	st.Gateway.Problem, st.Gateway.CertSN = h.Problem, h.AlipayCertSN
	st.Scanner = api.ScannerStatus{Device: d.cfg.Scanner.Device, State: d.scanner.State()}
	if qs, err := d.queue.Stats(); err == nil {
		st.Queue = &api.QueueStatus{Pending: qs.Pending, Dead: qs.Dead, Failed: qs.Failed, Overdue: qs.Overdue, Remotes: d.queue.Remotes()}
	}
	if n, err := d.engine.CountByState(); err == nil {
		st.Checkouts = api.CheckoutCounts(n)
	}
	if r, ok := d.reconcile.Last(); ok {
		st.Reconciliation = &api.ReconciliationStatus{Date: r.Date, State: r.State, CheckedAt: r.CheckedAt, Mismatches: daily.Mismatches(r)}
	}
	if msg, at := d.logs.LastError(); msg != "" {
		st.LastError = &api.LastError{Message: msg, At: at}
	}
	return st
}

// logStatus writes one status line (event "status", or "stopped" at the
// end): enough to monitor a store from its log alone.
func (d *daemon) logStatus(event string) {
	st := d.status(context.Background())
	ev := d.log.Info().Str("event", event).
		Str("gateway_mode", st.Gateway.Mode).Bool("gateway_reachable", st.Gateway.Reachable).
		Str("scanner_state", st.Scanner.State)
	if st.Gateway.LastSeen != nil {
		ev = ev.Time("gateway_last_seen", *st.Gateway.LastSeen)
	}
	if st.Queue != nil {
		ev = ev.Int("queue_pending", st.Queue.Pending).Int("queue_dead", st.Queue.Dead).Int("queue_failed", st.Queue.Failed)
	}
	if st.Checkouts != nil {
		ev = ev.Interface("checkouts", st.Checkouts)
	}
	if st.LastError != nil {
		ev = ev.Str("last_error", st.LastError.Message)
	}
	ev.Msg(fmt.Sprintf("status: gateway reachable=%t, scanner %s", st.Gateway.Reachable, st.Scanner.State))
}
