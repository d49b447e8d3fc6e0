package snapshot

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the builder's Prometheus metrics. They are registered on the registry the caller passes, never on
// a global one.
type Metrics struct {
	builds        *prometheus.CounterVec
	buildSeconds  prometheus.Histogram
	version       prometheus.Gauge
	skipped       prometheus.Gauge
	fleets        prometheus.Gauge
	fleetRejected prometheus.Counter
	resources     *prometheus.GaugeVec
}

// Results of a build, the values of the result label of mcpgw_xds_snapshot_builds_total.
const (
	ResultPublished = "published" // at least one fleet got a new snapshot
	ResultUnchanged = "unchanged" // nothing any fleet receives changed
	ResultFailed    = "failed"    // a fleet's snapshot was invalid; its last good snapshot stays
)

// NewMetrics creates the metrics and registers them on reg (nil: not registered, for tests and benchmarks).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		builds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcpgw_xds_snapshot_builds_total",
			Help: "Snapshot builds by result: published, unchanged, failed (the last good snapshot stays).",
		}, []string{"result"}),
		buildSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mcpgw_xds_snapshot_build_seconds",
			Help:    "Time to build and publish the snapshots of every fleet.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		version: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mcpgw_xds_snapshot_version",
			Help: "Build sequence of the newest published snapshot.",
		}),
		skipped: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mcpgw_xds_servers_skipped",
			Help: "Catalog servers and virtual servers left out of every fleet because they cannot be routed.",
		}),
		fleets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mcpgw_xds_fleets",
			Help: "Fleets the control plane builds snapshots for.",
		}),
		fleetRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mcpgw_xds_fleets_rejected_total",
			Help: "Nodes whose fleet was not built because the fleet limit was reached or its name is invalid.",
		}),
		resources: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mcpgw_xds_resources",
			Help: "Resources in the published snapshot, by fleet and type.",
		}, []string{"fleet", "type"}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.builds, m.buildSeconds, m.version, m.skipped, m.fleets, m.fleetRejected,
		m.resources} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register snapshot metrics: %w", err)
	}
	return m, nil
}

// dropFleet removes the per-fleet series of a released fleet.
func (m *Metrics) dropFleet(fleet string) {
	m.resources.DeletePartialMatch(prometheus.Labels{"fleet": fleet})
}
