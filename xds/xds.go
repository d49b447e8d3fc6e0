package xds

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/mcpgw/mcpgw/xds/server"
	"github.com/mcpgw/mcpgw/xds/snapshot"
	"github.com/mcpgw/mcpgw/xds/translate"
)

// ControlPlane is the xds component: the snapshot builder fed by the catalog view, and the ADS server.
type ControlPlane struct {
	cfg     Config
	cache   cachev3.SnapshotCache
	builder *snapshot.Builder
	server  *server.Server
	log     *slog.Logger
}

// New wires the component. cat is the in-memory catalog view (*view.Catalog); New registers a listener on it, so
// call New during start-up wiring, before the change feed starts applying changes. Metrics are registered on reg
// (nil: none); log may be nil.
func New(cfg Config, cat snapshot.Catalog, log *slog.Logger, reg prometheus.Registerer) (*ControlPlane, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr, err := translate.New(cfg.Envoy)
	if err != nil {
		return nil, fmt.Errorf("create xds control plane: %w", err)
	}
	sm, err := snapshot.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	vm, err := server.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	// ADS mode: the cache answers a request only when it names every resource of that type in the snapshot,
	// which keeps a stream's view consistent (see cachev3.NewSnapshotCache).
	cache := cachev3.NewSnapshotCache(true, snapshot.FleetHash{}, server.Logger(log.With("component", "xds-cache")))
	b, err := snapshot.New(cat, cache, tr, cfg.Snapshot, log, sm)
	if err != nil {
		return nil, err
	}
	srv, err := server.New(cache, b, log, vm)
	if err != nil {
		return nil, err
	}
	return &ControlPlane{cfg: cfg, cache: cache, builder: b, server: srv, log: log.With("component", "xds")}, nil
}

// Run listens on the configured address and serves until ctx is done (see Serve).
func (c *ControlPlane) Run(ctx context.Context) error {
	if c.cfg.Address == "" {
		return fmt.Errorf("run xds: %w: no address to listen on (use Serve)", ErrInvalidConfig)
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", c.cfg.Address)
	if err != nil {
		return fmt.Errorf("listen for ADS on %s: %w", c.cfg.Address, err)
	}
	return c.Serve(ctx, lis)
}

// Serve builds snapshots and serves ADS on lis until ctx is done, then stops the gRPC server and returns nil;
// it returns an error when serving fails. The gRPC health status turns SERVING once the default fleet has its
// first snapshot.
func (c *ControlPlane) Serve(ctx context.Context, lis net.Listener) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.builder.Run(ctx) })
	g.Go(func() error { return c.server.Serve(ctx, lis) })
	g.Go(func() error {
		select {
		case <-c.builder.Ready():
			c.server.SetServing(true)
			c.log.Info("xds control plane ready", "ads", lis.Addr().String(), "listener_port", c.cfg.Envoy.ListenerPort)
		case <-ctx.Done():
		}
		return nil
	})
	return g.Wait()
}

// Cache is the snapshot cache the ADS server serves from, for diagnostics (the last snapshot of each fleet).
func (c *ControlPlane) Cache() cachev3.SnapshotCache { return c.cache }
