package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"posagent/gateway"
	"posagent/reconcile"
	"posagent/reconcile/daily"
)

// ReconcileTimeout bounds the reconciliation POST /v1/reconciliations runs
// in the request (bill query, download, parse); what does not finish is
// left to the queue and answered pending.
const ReconcileTimeout = 60 * time.Second

// Reconciler runs and keeps reconciliations (*daily.Runner implements it).
type Reconciler interface {
	// Reconcile reconciles day now and returns its stored result; queued
	// is true when the run did not finish (the bill is not ready, or the
	// gateway cannot be reached) and the day's reconcile job will run it
	// again. Errors: checkout.ErrBadRequest for a malformed day, a
	// database error.
	Reconcile(ctx context.Context, day string) (res reconcile.Result, queued bool, err error)
	// Result returns the stored result of day; ok is false when the day
	// was never reconciled. Errors: a database error.
	Result(day string) (res reconcile.Result, ok bool, err error)
}

var _ Reconciler = (*daily.Runner)(nil)

// ReconcileRequest is the body of POST /v1/reconciliations.
type ReconcileRequest struct {
	// Date is the store day to reconcile, "2006-01-02". Required.
	Date string `json:"date"`
}

func (s *Server) reconcilerOff(w http.ResponseWriter) bool {
	if s.cfg.Reconciler == nil {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "reconciliation is not enabled on this daemon"))
		return true
	}
	return false
}

// reconcileDay answers POST /v1/reconciliations {"date"}: it reconciles
// the day now and answers 200 with the result (matched or mismatched, or
// unavailable for good: a day long past without trades and without a
// bill), or 202 with the stored result (unavailable: the bill is not
// ready) or pending when the run could not finish; the queue then runs it
// again.
func (s *Server) reconcileDay(w http.ResponseWriter, r *http.Request) {
	if s.reconcilerOff(w) {
		return
	}
	var req ReconcileRequest
	if e := decodeBody(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.Date == "" {
		writeError(w, errorf(http.StatusBadRequest, CodeBadRequest, "date is required: the store day to reconcile, such as 2026-01-31"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), ReconcileTimeout)
	defer cancel()
	res, queued, err := s.cfg.Reconciler.Reconcile(ctx, req.Date)
	var ge *gateway.Error
	if errors.As(err, &ge) {
		writeError(w, gatewayError(err)) // Alipay down or refusing, and nothing queued to retry
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if queued {
		status = http.StatusAccepted
	}
	writeJSON(w, status, res)
}

// getReconciliation answers GET /v1/reconciliations/{date}: the stored
// result, 404 when the day was never reconciled.
func (s *Server) getReconciliation(w http.ResponseWriter, r *http.Request) {
	if s.reconcilerOff(w) {
		return
	}
	day := r.PathValue("date")
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		writeError(w, errorf(http.StatusBadRequest, CodeBadRequest, "date must be a day such as 2026-01-31, not %q", day))
		return
	}
	res, ok, err := s.cfg.Reconciler.Result(day)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "%s was never reconciled; POST /v1/reconciliations {\"date\":%q} runs it", day, day))
		return
	}
	writeJSON(w, http.StatusOK, res)
}
