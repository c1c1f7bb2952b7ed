package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is the gateway client's Prometheus collector: the latency of
// every call by method and result kind (posagent_gateway_call_duration_seconds).
// Give its Observe to Client.Observe and register it on a registry.
type Metrics struct {
	calls *prometheus.HistogramVec
}

// NewMetrics returns an empty Metrics.
func NewMetrics() *Metrics {
	return &Metrics{calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "posagent_gateway_call_duration_seconds",
		Help:    "Alipay gateway calls by method and result kind (success, in_progress, unknown, failure, rejected, invalid, …), with their latency.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 15, 30},
	}, []string{"method", "kind"})}
}

// Observe records one call; it has the signature of Client.Observe.
func (m *Metrics) Observe(method string, err error, took time.Duration) {
	m.calls.WithLabelValues(method, KindOf(err).String()).Observe(took.Seconds())
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) { m.calls.Describe(ch) }

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) { m.calls.Collect(ch) }
