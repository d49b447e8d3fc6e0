package dataplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// Config configures a data plane.
type Config struct {
	// Bootstrap is what Envoy's bootstrap gives it: the node (id and fleet), the ADS cluster, and the static
	// clusters dynamic configuration refers to (mcpgw_xds, mcpgw_authz, mcpgw_registry). Load envoy/bootstrap.yaml
	// with LoadBootstrap and point its clusters with SetClusterAddress.
	Bootstrap *bootstrapv3.Bootstrap
	// BindHost, when set, replaces the host of every listener's address (mcpgw's listener binds 0.0.0.0; tests bind
	// 127.0.0.1). The port is always the listener's.
	BindHost string
	// AccessLog receives the stdout access loggers' lines; nil discards them.
	AccessLog io.Writer
	// Logger receives the data plane's own logs, with component=dataplane; nil discards them.
	Logger *slog.Logger
	// RetryInterval is the wait before reconnecting a failed ADS stream (default 500ms).
	RetryInterval time.Duration
}

// Status is what the data plane has applied, for tests to wait on.
type Status struct {
	// Connected reports whether the ADS stream is up.
	Connected bool
	// Versions are the last accepted version_info per resource type URL.
	Versions map[string]string
	// Listeners maps each listener to the address it is bound to.
	Listeners map[string]string
	// Routes are the names of the routes of every route configuration, in match order.
	Routes []string
	// Clusters are the dynamic clusters, sorted.
	Clusters []string
	// Endpoints maps each EDS cluster to its endpoint addresses.
	Endpoints map[string][]string
	// NACKs counts rejected responses; LastNACK is the error detail of the last one.
	NACKs    int
	LastNACK string
}

// state is the applied configuration, replaced whole on every accepted update (readers never lock).
type state struct {
	listeners map[string]*listenerConfig
	routes    map[string]*routeTable
	clusters  map[string]*cluster
}

// DataPlane is a running test data plane.
type DataPlane struct {
	cfg Config
	log *slog.Logger

	node            *corev3.Node
	nodeOnFirstOnly bool
	xdsCluster      string
	static          map[string]*cluster

	state    atomic.Pointer[state]
	streamID atomic.Uint64

	mu      sync.Mutex // guards servers, status, changed, conns
	servers map[string]*server
	status  Status
	changed chan struct{}
	conns   map[string]*grpc.ClientConn

	logMu    sync.Mutex
	proxyLog *log.Logger // the reverse proxy's errors, at debug level
	// baseCtx is Run's context without its cancellation, for draining listeners past an update.
	baseCtx context.Context
}

// server is a bound listener.
type server struct {
	addr string
	l    net.Listener
	hs   *http.Server
}

// New checks the configuration and prepares a data plane; Run connects it.
func New(cfg Config) (*DataPlane, error) {
	if cfg.Bootstrap == nil {
		return nil, fmt.Errorf("new data plane: no bootstrap: %w", ErrInvalid)
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = 500 * time.Millisecond
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &DataPlane{cfg: cfg, log: log.With("component", "dataplane"), servers: map[string]*server{},
		changed: make(chan struct{}), conns: map[string]*grpc.ClientConn{}}
	d.proxyLog = slog.NewLogLogger(d.log.Handler(), slog.LevelDebug)
	if err := d.fromBootstrap(cfg.Bootstrap); err != nil {
		return nil, fmt.Errorf("new data plane: %w", err)
	}
	d.state.Store(&state{listeners: map[string]*listenerConfig{}, routes: map[string]*routeTable{},
		clusters: map[string]*cluster{}})
	d.status = Status{Versions: map[string]string{}, Listeners: map[string]string{}, Endpoints: map[string][]string{}}
	return d, nil
}

// Run keeps an ADS stream to the control plane open (reconnecting after failures, with the last applied
// configuration still serving), and serves the listeners it receives, until ctx ends.
func (d *DataPlane) Run(ctx context.Context) error {
	d.baseCtx = context.WithoutCancel(ctx)
	conn, err := d.grpcConn(d.xdsCluster)
	if err != nil {
		return fmt.Errorf("run data plane: %w", err)
	}
	defer d.shutdown()
	for {
		err := d.stream(ctx, conn)
		d.setConnected(false)
		if ctx.Err() != nil {
			return nil
		}
		d.log.Warn("ADS stream ended; reconnecting", "error", err, "in", d.cfg.RetryInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(d.cfg.RetryInterval):
		}
	}
}

// shutdown stops the listeners and closes the gRPC connections.
func (d *DataPlane) shutdown() {
	d.mu.Lock()
	servers := d.servers
	d.servers = map[string]*server{}
	conns := d.conns
	d.conns = map[string]*grpc.ClientConn{}
	d.mu.Unlock()
	for _, s := range servers {
		_ = s.hs.Close()
	}
	for _, c := range conns {
		_ = c.Close()
	}
	for _, c := range d.state.Load().clusters {
		c.close()
	}
	for _, c := range d.static {
		c.close()
	}
}

// grpcConn returns the connection to a static cluster used as a gRPC service (ADS, ext_authz).
func (d *DataPlane) grpcConn(name string) (*grpc.ClientConn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.conns[name]; c != nil {
		return c, nil
	}
	c := d.static[name]
	if c == nil {
		return nil, fmt.Errorf("gRPC service cluster %q is not a static cluster of the bootstrap: %w", name, ErrUnsupported)
	}
	hosts := *c.hosts.Load()
	if len(hosts) != 1 || hosts[0].socket.tls != nil {
		return nil, fmt.Errorf("gRPC service cluster %q: one plaintext endpoint: %w", name, ErrUnsupported)
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if c.keepalive != nil {
		opts = append(opts, grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: c.keepalive.interval,
			Timeout: c.keepalive.timeout, PermitWithoutStream: true}))
	}
	conn, err := grpc.NewClient(hosts[0].addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", name, err)
	}
	d.conns[name] = conn
	return conn, nil
}

func (d *DataPlane) authzClient(cluster string) (authv3.AuthorizationClient, error) {
	conn, err := d.grpcConn(cluster)
	if err != nil {
		return nil, err
	}
	return authv3.NewAuthorizationClient(conn), nil
}

func (d *DataPlane) writeAccessLog(line []byte) {
	if d.cfg.AccessLog == nil {
		return
	}
	d.logMu.Lock()
	defer d.logMu.Unlock()
	_, _ = d.cfg.AccessLog.Write(line)
}

// Status returns a copy of what the data plane has applied.
func (d *DataPlane) Status() Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.copyStatus()
}

func (d *DataPlane) copyStatus() Status {
	s := d.status
	s.Versions = maps.Clone(s.Versions)
	s.Listeners = maps.Clone(s.Listeners)
	s.Routes = slices.Clone(s.Routes)
	s.Clusters = slices.Clone(s.Clusters)
	s.Endpoints = maps.Clone(s.Endpoints)
	return s
}

// WaitFor blocks until cond holds for the status (checked at once and after every change) or ctx ends.
func (d *DataPlane) WaitFor(ctx context.Context, cond func(Status) bool) (Status, error) {
	for {
		d.mu.Lock()
		s, ch := d.copyStatus(), d.changed
		d.mu.Unlock()
		if cond(s) {
			return s, nil
		}
		select {
		case <-ctx.Done():
			return s, fmt.Errorf("wait for data plane status: %w", ctx.Err())
		case <-ch:
		}
	}
}

// updateStatus changes the status under the lock and wakes waiters.
func (d *DataPlane) updateStatus(f func(*Status)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.status)
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *DataPlane) setConnected(up bool) {
	d.updateStatus(func(s *Status) { s.Connected = up })
}

// bindListeners opens sockets for listeners that are new or moved, before the update is accepted: a listener
// that cannot bind makes Envoy reject the update, and so does this. It returns the servers to start and the ones
// to stop once the update is committed.
func (d *DataPlane) bindListeners(next map[string]*listenerConfig) (start, stop map[string]*server, err error) {
	d.mu.Lock()
	current := maps.Clone(d.servers)
	d.mu.Unlock()
	start, stop = map[string]*server{}, map[string]*server{}
	for name, lc := range next {
		addr := lc.addr
		if d.cfg.BindHost != "" {
			_, port, _ := net.SplitHostPort(addr)
			addr = net.JoinHostPort(d.cfg.BindHost, port)
		}
		if s := current[name]; s != nil && s.addr == addr {
			continue
		}
		l, lerr := net.Listen("tcp", addr)
		if lerr != nil {
			for _, s := range start {
				_ = s.l.Close()
			}
			return nil, nil, fmt.Errorf("listener %q: bind %s: %w", name, addr, errors.Join(lerr, ErrInvalid))
		}
		protocols := new(http.Protocols)
		protocols.SetHTTP1(true)
		protocols.SetUnencryptedHTTP2(true) // codec_type AUTO
		start[name] = &server{addr: addr, l: l, hs: &http.Server{
			Handler:           listenerHandler{d: d, name: name},
			ReadHeaderTimeout: lc.hcm.headerTimeout,
			IdleTimeout:       lc.hcm.idleTimeout,
			Protocols:         protocols,
			ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelDebug),
		}}
		if s := current[name]; s != nil {
			stop[name] = s
		}
	}
	for name, s := range current {
		if _, ok := next[name]; !ok {
			stop[name] = s
		}
	}
	return start, stop, nil
}

// swapServers starts the new listeners and drains the old ones (open streams may finish).
func (d *DataPlane) swapServers(start, stop map[string]*server) {
	d.mu.Lock()
	for name := range stop {
		if d.servers[name] == stop[name] {
			delete(d.servers, name)
		}
	}
	for name, s := range start {
		d.servers[name] = s
	}
	d.mu.Unlock()
	for name, s := range start {
		d.log.Info("listener bound", "listener", name, "addr", s.addr)
		go func() {
			if err := s.hs.Serve(s.l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("listener failed", "listener", name, "error", err)
			}
		}()
	}
	for name, s := range stop {
		d.log.Info("listener draining", "listener", name, "addr", s.addr)
		go func() {
			ctx, cancel := context.WithTimeout(d.baseCtx, 30*time.Second)
			defer cancel()
			if err := s.hs.Shutdown(ctx); err != nil {
				_ = s.hs.Close()
			}
		}()
	}
}
