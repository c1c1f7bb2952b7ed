package queue

import "github.com/prometheus/client_golang/prometheus"

// jobsDesc is posagent_queue_jobs: jobs waiting or waiting for a person, by
// state, from the queue's indexes.
var jobsDesc = prometheus.NewDesc("posagent_queue_jobs",
	"Jobs of the durable queue by state: pending (due, in backoff or waiting for the gateway), dead and failed (waiting for a person).",
	[]string{"state"}, nil)

// overdueDesc is posagent_queue_overdue_jobs: pending jobs that move money
// past MaxAge (Stats.Overdue), also counted as pending in jobsDesc.
var overdueDesc = prometheus.NewDesc("posagent_queue_overdue_jobs",
	"Pending jobs that move money back or settle a trade (trade_cancel, trade_refund, reconcile) older than max_age: never dead-lettered, still retrying, a customer's money may be held.",
	nil, nil)

// Collector returns the queue's Prometheus collector, read at scrape time.
func (q *Queue) Collector() prometheus.Collector { return queueCollector{q} }

type queueCollector struct{ q *Queue }

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- overdueDesc
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	s, err := c.q.Stats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
		ch <- prometheus.NewInvalidMetric(overdueDesc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(overdueDesc, prometheus.GaugeValue, float64(s.Overdue))
	for state, n := range map[string]int{StatePending: s.Pending, StateDead: s.Dead, StateFailed: s.Failed} {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), state)
	}
}
