package api

import (
	"net/http"

	"posagent/checkout"
)

// Reports gives a store day's takings (*checkout.Engine implements it).
type Reports interface {
	// DailyReport returns the takings of day ("2006-01-02", the store's
	// day). Errors: checkout.ErrBadRequest for a malformed day, a database
	// error.
	DailyReport(day string) (checkout.DailyReport, error)
	// Today returns the store's day now.
	Today() string
}

var _ Reports = (*checkout.Engine)(nil)

// dailyReport answers GET /v1/reports/daily?date=YYYY-MM-DD (default: the
// store's today) with the day's takings (SPEC §12).
func (s *Server) dailyReport(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Reports == nil {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "reports are not enabled on this daemon"))
		return
	}
	day := r.URL.Query().Get("date")
	if day == "" {
		day = s.cfg.Reports.Today()
	}
	rep, err := s.cfg.Reports.DailyReport(day)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
