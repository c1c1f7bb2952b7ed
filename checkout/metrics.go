package checkout

import "github.com/prometheus/client_golang/prometheus"

// checkoutsDesc is posagent_checkouts: checkouts by state, from the counts
// kept in the transaction that moves each checkout (no scan).
var checkoutsDesc = prometheus.NewDesc("posagent_checkouts",
	"Checkouts in the journal by state (terminal states count every checkout that ended so).",
	[]string{"state"}, nil)

// takingsDesc is posagent_takings_today_yuan: the store day's takings from
// the day index (the daily report), read at scrape time.
var takingsDesc = prometheus.NewDesc("posagent_takings_today_yuan",
	"Today's takings in the store's day, from the daily report: paid (charged after discounts), discounts, refunded and net, in yuan.",
	[]string{"kind"}, nil)

// Collector returns the engine's Prometheus collector: posagent_checkouts
// by state and posagent_takings_today_yuan, read at scrape time.
func (e *Engine) Collector() prometheus.Collector { return engineCollector{e} }

type engineCollector struct{ e *Engine }

func (c engineCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- checkoutsDesc
	ch <- takingsDesc
}

func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	n, err := c.e.CountByState()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(checkoutsDesc, err)
		return
	}
	for _, st := range States {
		ch <- prometheus.MustNewConstMetric(checkoutsDesc, prometheus.GaugeValue, float64(n[st]), string(st))
	}
	rep, err := c.e.DailyReport(c.e.Today())
	if err != nil {
		ch <- prometheus.NewInvalidMetric(takingsDesc, err)
		return
	}
	for kind, fen := range map[string]int64{"paid": int64(rep.Paid.Amount), "discounts": int64(rep.Discounts),
		"refunded": int64(rep.Refunds.Amount), "net": int64(rep.Net)} {
		ch <- prometheus.MustNewConstMetric(takingsDesc, prometheus.GaugeValue, float64(fen)/100, kind)
	}
}
