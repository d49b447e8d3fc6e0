package xds_test

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcpgw/mcpgw/registry/view"
	"github.com/mcpgw/mcpgw/xds"
)

// Wiring the control plane in a process: create it before the change feed starts (New registers a listener on the
// view), then run it beside the feed until the context ends.
func ExampleNew() {
	run := func(ctx context.Context, catalog *view.Catalog, log *slog.Logger, reg prometheus.Registerer) error {
		cfg := xds.DefaultConfig() // from flags and environment in cmd
		cfg.Envoy.ListenerPort = 10000
		cfg.Envoy.MCPFilter = false
		cp, err := xds.New(cfg, catalog, log, reg)
		if err != nil {
			return err
		}
		return cp.Run(ctx) // serves ADS on cfg.Address; returns nil when ctx ends
	}
	_ = run
}
