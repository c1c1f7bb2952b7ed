package queue

import "github.com/prometheus/client_golang/prometheus"

// jobsDesc is posagent_queue_jobs: jobs waiting or waiting for a person, by
// state, from the queue's indexes.
var jobsDesc = prometheus.NewDesc("posagent_queue_jobs",
	"Jobs of the durable queue by state: pending (due, in backoff or waiting for the gateway), dead and failed (waiting for a person).",
	[]string{"state"}, nil)

// Collector returns the queue's Prometheus collector, read at scrape time.
func (q *Queue) Collector() prometheus.Collector { return queueCollector{q} }

type queueCollector struct{ q *Queue }

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	s, err := c.q.Stats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(jobsDesc, err)
		return
	}
	for state, n := range map[string]int{StatePending: s.Pending, StateDead: s.Dead, StateFailed: s.Failed} {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), state)
	}
}
