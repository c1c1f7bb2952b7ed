package api

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics is GET /metrics: the Prometheus text format of Config.Metrics.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Metrics == nil {
		writeError(w, errorf(http.StatusNotFound, CodeNotFound, "this posagent serves no metrics"))
		return
	}
	promhttp.HandlerFor(s.cfg.Metrics, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
}
