package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	sotwv3 "github.com/envoyproxy/go-control-plane/pkg/server/sotw/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"

	"github.com/mcpgw/mcpgw/xds/snapshot"
)

// Keepalive suited to Envoy, whose bootstrap (envoy/bootstrap.yaml) pings the xDS connection every 30s and gives
// up after 5s. The server pings an idle connection after 60s so that a vanished node's stream is closed and its
// watches released, and permits client pings down to 10s, well below Envoy's interval, so Envoy is never sent
// GOAWAY for pinging too often.
const (
	keepaliveTime       = 60 * time.Second
	keepaliveTimeout    = 10 * time.Second
	keepaliveMinTime    = 10 * time.Second
	maxRecvMessageBytes = 16 << 20 // a delta request naming the versions of 10k resources fits comfortably
)

// HealthService is the service name the gRPC health server reports for, besides the overall "" status.
const HealthService = "envoy.service.discovery.v3.AggregatedDiscoveryService"

// Metrics are the server's Prometheus metrics.
type Metrics struct {
	connected    prometheus.Gauge
	nacks        *prometheus.CounterVec
	syncsWaiting prometheus.Gauge
}

// NewMetrics creates the metrics and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		connected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mcpgw_xds_connected_nodes",
			Help: "ADS streams whose node has identified itself.",
		}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcpgw_xds_nacks_total",
			Help: "Configuration rejected by a node, by node id and resource type; a node's series go when its last stream closes.",
		}, []string{"node", "type"}),
		syncsWaiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mcpgw_xds_streams_waiting_to_sync",
			Help: "New ADS streams waiting for their first configuration while others receive theirs (see admission.go).",
		}),
	}
	if reg != nil {
		if err := errors.Join(reg.Register(m.connected), reg.Register(m.nacks), reg.Register(m.syncsWaiting)); err != nil {
			return nil, fmt.Errorf("register xds server metrics: %w", err)
		}
	}
	return m, nil
}

// Server serves ADS, state-of-the-world and delta, from a snapshot cache keyed by fleet, and the gRPC health
// service. It serves nothing else: Envoy's bootstrap points every xDS type at ADS.
type Server struct {
	grpc   *grpc.Server
	health *health.Server
	cache  cachev3.SnapshotCache
	cb     *callbacks
	log    *slog.Logger
}

// New creates the server over the cache, whose node hash must be snapshot.FleetHash. fleets is told each
// connecting node's fleet. m may be nil (no metrics), log may be nil (no logs).
func New(cache cachev3.SnapshotCache, fleets Fleets, log *slog.Logger, m *Metrics) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "xds-server")
	if m == nil {
		var err error
		if m, err = NewMetrics(nil); err != nil {
			return nil, err
		}
	}
	s := &Server{
		grpc: grpc.NewServer(
			grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
			grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: keepaliveMinTime, PermitWithoutStream: true}),
			grpc.MaxRecvMsgSize(maxRecvMessageBytes),
			grpc.StreamInterceptor(newSyncGate(concurrentSyncs, syncHold, m).intercept),
		),
		health: health.NewServer(),
		cache:  cache,
		cb:     &callbacks{log: log, m: m, fleets: fleets, streams: map[int64]*stream{}},
		log:    log,
	}
	s.SetServing(false)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	return s, nil
}

// SetServing sets the health status: serving once the fleets have snapshots, not serving before and at shutdown.
func (s *Server) SetServing(ok bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if ok {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus("", st)
	s.health.SetServingStatus(HealthService, st)
}

// Serve serves on lis until ctx is done, then stops the gRPC server with Stop: Envoy never closes its ADS
// streams, so a graceful stop would wait forever. It returns nil after ctx is done, or the error that ended
// serving. Serve may be called once.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	// Ordered ADS sends the responses of one stream in the cache's type order (clusters before routes, ...), so
	// Envoy never sees a route to a cluster it does not have yet.
	xds := serverv3.NewServer(ctx, nackGuard{SnapshotCache: s.cache, hash: snapshot.FleetHash{}}, s.cb,
		sotwv3.WithOrderedADS(), sotwv3.WithLogger(Logger(s.log)))
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(s.grpc, xds)
	done := make(chan error, 1)
	go func() { done <- s.grpc.Serve(lis) }()
	s.log.Info("ADS server listening", "address", lis.Addr().String())
	select {
	case err := <-done:
		return fmt.Errorf("serve ADS: %w", err)
	case <-ctx.Done():
	}
	s.SetServing(false)
	s.health.Shutdown()
	s.grpc.Stop()
	if err := <-done; err != nil {
		s.log.Warn("ADS server stopped with an error", "err", err)
	}
	s.log.Info("ADS server stopped")
	return nil
}
