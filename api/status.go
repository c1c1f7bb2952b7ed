package api

import (
	"context"
	"net/http"
	"time"

	"posagent/checkout"
	"posagent/queue"
)

// Status is the body of GET /v1/status. The daemon fills it (Config.Status);
// the server fills Queue and Checkouts from Jobs and Checkouts when the
// daemon leaves them nil.
type Status struct {
	// Version is the posagent version ("dev" for a development build).
	Version string `json:"version"`
	// StartedAt is when the daemon started; absent when unknown.
	StartedAt time.Time `json:"started_at,omitzero"`
	// Gateway is the Alipay gateway as the daemon last saw it.
	Gateway GatewayStatus `json:"gateway"`
	// Scanner is the barcode scanner.
	Scanner ScannerStatus `json:"scanner"`
	// Queue is the depth of the durable queue.
	Queue *QueueStatus `json:"queue"`
	// Checkouts counts checkouts by state; every state is present.
	Checkouts map[string]int `json:"checkouts"`
	// LastError is the latest error-level log line, or null.
	LastError *LastError `json:"last_error"`
	// Reconciliation is the reconciliation stored last (SPEC §12), in
	// short; absent when no day was ever reconciled.
	Reconciliation *ReconciliationStatus `json:"reconciliation,omitempty"`
}

// ReconciliationStatus is a reconciliation in short: GET
// /v1/reconciliations/{date} has the rows.
type ReconciliationStatus struct {
	// Date is the store day reconciled.
	Date string `json:"date"`
	// State is matched, mismatched, unavailable or pending.
	State string `json:"state"`
	// CheckedAt is when the check ran.
	CheckedAt time.Time `json:"checked_at"`
	// Mismatches counts the differences (0 unless mismatched).
	Mismatches int `json:"mismatches"`
}

// Gateway modes.
const (
	ModeSandbox = "sandbox" // the embedded simulator: no real money moves
	ModeLive    = "live"    // a real OpenAPI gateway
)

// GatewayStatus describes the gateway.
type GatewayStatus struct {
	// Mode is ModeSandbox or ModeLive.
	Mode string `json:"mode"`
	// URL is the gateway.do URL the daemon calls.
	URL string `json:"url"`
	// Reachable is false after a call that could not reach the gateway,
	// until one gets an answer again.
	Reachable bool `json:"reachable"`
	// LastSeen is when the gateway last answered; null if never since start.
	LastSeen *time.Time `json:"last_seen"`
	// Problem says in words what is wrong with the keys, certificates or
	// app_auth_token when the gateway answers but refuses or cannot be
	// verified (that is not an outage); absent when nothing is.
	Problem string `json:"problem,omitempty"`
	// CertSN is the Alipay gateway certificate in use (certificate mode).
	CertSN string `json:"alipay_cert_sn,omitempty"`
}

// Scanner states (SPEC §7), beside whatever else the scanner reports.
const (
	ScannerOpen         = "open"
	ScannerReconnecting = "reconnecting"
	ScannerStdin        = "stdin"
)

// ScannerStatus describes the scanner.
type ScannerStatus struct {
	// Device is [scanner] device: a serial path, COMx, or "stdin".
	Device string `json:"device"`
	// State is ScannerOpen, ScannerReconnecting or ScannerStdin.
	State string `json:"state"`
}

// QueueStatus is the depth of the durable queue.
type QueueStatus struct {
	// Pending jobs: due, in backoff, running or waiting for their remote.
	Pending int `json:"pending"`
	// Dead jobs: dead-lettered, waiting for a person (posagent jobs).
	Dead int `json:"dead"`
	// Failed jobs: failed permanently, waiting for a person.
	Failed int `json:"failed"`
	// Overdue jobs move money (cancels, refunds, reconciles) and are past
	// [queue] max_age: they keep running, but a customer's money is held.
	// Also counted in Pending.
	Overdue int `json:"overdue"`
	// Remotes are the queue's remotes (gateway, report) and whether each is
	// reachable; absent when the daemon does not say.
	Remotes []queue.RemoteStatus `json:"remotes,omitempty"`
}

// LastError is the latest error the daemon logged.
type LastError struct {
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// TimeOrNil returns &t, or nil for the zero time (for GatewayStatus.LastSeen).
func TimeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *Server) getStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.status(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// status is GET /v1/status's body: the daemon's (Config.Status), with the
// queue depth and checkout counts filled in when the daemon left them nil.
func (s *Server) status(ctx context.Context) (Status, error) {
	var st Status
	if s.cfg.Status != nil {
		st = s.cfg.Status(ctx)
	} else {
		st.Version = s.cfg.Version
	}
	if st.Queue == nil {
		qs, err := s.cfg.Jobs.Stats()
		if err != nil {
			return st, err
		}
		st.Queue = &QueueStatus{Pending: qs.Pending, Dead: qs.Dead, Failed: qs.Failed, Overdue: qs.Overdue}
	}
	if st.Checkouts == nil {
		n, err := s.cfg.Checkouts.CountByState()
		if err != nil {
			return st, err
		}
		st.Checkouts = CheckoutCounts(n)
	}
	return st, nil
}

// CheckoutCounts turns CountByState's map into Status.Checkouts: every state
// of the machine present, zero when none.
func CheckoutCounts(n map[checkout.State]int) map[string]int {
	out := make(map[string]int, len(checkout.States))
	for _, st := range checkout.States {
		out[string(st)] = n[st]
	}
	for st, c := range n {
		out[string(st)] = c
	}
	return out
}
