package checkout

import "github.com/prometheus/client_golang/prometheus"

// checkoutsDesc is posagent_checkouts: checkouts by state, from the counts
// kept in the transaction that moves each checkout (no scan).
var checkoutsDesc = prometheus.NewDesc("posagent_checkouts",
	"Checkouts in the journal by state (terminal states count every checkout that ended so).",
	[]string{"state"}, nil)

// Collector returns the engine's Prometheus collector: posagent_checkouts
// by state, read at scrape time.
func (e *Engine) Collector() prometheus.Collector { return engineCollector{e} }

type engineCollector struct{ e *Engine }

func (c engineCollector) Describe(ch chan<- *prometheus.Desc) { ch <- checkoutsDesc }

func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	n, err := c.e.CountByState()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(checkoutsDesc, err)
		return
	}
	for _, st := range States {
		ch <- prometheus.MustNewConstMetric(checkoutsDesc, prometheus.GaugeValue, float64(n[st]), string(st))
	}
}
