package main

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"posagent/api"
)

// metrics builds the registry GET /metrics serves: each component's own
// collectors, the health of the gateway and the scanner, and the Go
// runtime's. A registry of our own, not the global default.
func (d *daemon) metrics() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		d.engine.Collector(),
		d.queue.Collector(),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "posagent_gateway_up",
			Help: "1 while the Alipay gateway answers (the probe's signed harmless call, and real calls), else 0.",
		}, func() float64 { return boolGauge(d.gatewayUp()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "posagent_scanner_up",
			Help: "1 while the barcode scanner is open (or stdin), 0 while it is being reopened.",
		}, func() float64 { return boolGauge(d.scanner.State() != api.ScannerReconnecting) }),
		d.gwMetrics,
		d.reconcile.Collector(),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// gatewayUp is the gateway probe's view: reachable unless the probe or a
// real call found it unreachable and no answer came since.
func (d *daemon) gatewayUp() bool {
	if len(d.probes) == 0 {
		ok, _ := d.gw.Reachable()
		return ok
	}
	return d.probes[0].Online()
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
