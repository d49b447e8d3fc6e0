package xds_test

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/anypb"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	sotwv3 "github.com/envoyproxy/go-control-plane/pkg/client/sotw/v3"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/feed"
	"github.com/mcpgw/mcpgw/registry/store/mongo"
	"github.com/mcpgw/mcpgw/registry/view"
	"github.com/mcpgw/mcpgw/xds"
	"github.com/mcpgw/mcpgw/xds/server"
)

const (
	listenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"
	routeType    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	clusterType  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
)

// tlog sends logs to t.Logf.
type tlog struct {
	t     testing.TB
	attrs string
}

func (h tlog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h tlog) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message + h.attrs)
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	h.t.Logf("%s", b.String())
	return nil
}
func (h tlog) WithAttrs(as []slog.Attr) slog.Handler {
	for _, a := range as {
		h.attrs += " " + a.String()
	}
	return h
}
func (h tlog) WithGroup(string) slog.Handler { return h }

// fetcher is go-control-plane's SotW ADS client for one type, reading in the background so the test can wait
// for a state with a deadline.
type fetcher struct {
	client sotwv3.ADSClient
	mu     sync.Mutex
	last   map[string]*anypb.Any
	update chan struct{}
}

func newFetcher(t *testing.T, ctx context.Context, conn *grpc.ClientConn, n *corev3.Node, typeURL string) *fetcher {
	f := &fetcher{client: sotwv3.NewADSClient(ctx, n, typeURL), update: make(chan struct{}, 1)}
	if err := f.client.InitConnect(conn); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			r, err := f.client.Fetch()
			if err != nil {
				return
			}
			m := map[string]*anypb.Any{}
			for _, a := range r.Resources {
				msg, err := a.UnmarshalNew()
				if err != nil {
					return
				}
				m[msg.(interface{ GetName() string }).GetName()] = a
			}
			f.mu.Lock()
			f.last = m
			f.mu.Unlock()
			if err := f.client.Ack(); err != nil {
				return
			}
			select {
			case f.update <- struct{}{}:
			default:
			}
		}
	}()
	return f
}

// wait returns the first state within d that satisfies ok, or fails.
func (f *fetcher) wait(t *testing.T, d time.Duration, what string, ok func(map[string]*anypb.Any) bool) map[string]*anypb.Any {
	t.Helper()
	deadline := time.After(d)
	for {
		f.mu.Lock()
		cur := f.last
		f.mu.Unlock()
		if cur != nil && ok(cur) {
			return cur
		}
		select {
		case <-f.update:
		case <-deadline:
			t.Fatalf("%s: not within %v", what, d)
		}
	}
}

func newServer(t *testing.T, name string, versions ...catalog.ServerVersion) *catalog.Server {
	t.Helper()
	s := &catalog.Server{Name: name, Governance: catalog.Governance{Description: "test server"}, Versions: versions}
	s.Normalize()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func version(v, url string) catalog.ServerVersion {
	return catalog.ServerVersion{Version: v, Transport: catalog.TransportStreamableHTTP, URL: url}
}

// serverRoutes maps each server path of the route configuration to the clusters its routes name.
func serverRoutes(t *testing.T, a *anypb.Any) map[string][]string {
	rc := new(routev3.RouteConfiguration)
	if err := a.UnmarshalTo(rc); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, r := range rc.VirtualHosts[0].Routes {
		if p := r.Match.GetPathSeparatedPrefix(); strings.HasPrefix(p, "/mcp/") {
			out[p] = append(out[p], r.GetRoute().GetCluster())
		}
	}
	return out
}

// TestContract runs the acceptance contract against the real pipeline: the embedded store, the change feed, the
// in-memory view, the control plane on a TCP port, and go-control-plane's ADS client as the Envoy node. With
// three servers registered, a node of fleet "default" receives the listener mcpgw, a route configuration with a
// route for /mcp/{namespace}/{name} of each enabled server, and a cluster per server version; two seconds after
// a server is deleted from the store, its route and cluster are gone. (The two seconds are the contract's
// deadline, with the default debounce and feed interval, not a performance measurement.)
func TestContract(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	log := slog.New(tlog{t: t})
	store, err := mongo.Open(ctx, mongo.Config{DataDir: t.TempDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = store.Close(context.WithoutCancel(ctx)) }()
	v := view.New(store, log)

	cfg := xds.DefaultConfig()
	reg := prometheus.NewRegistry()
	cp, err := xds.New(cfg, v, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	seq, err := v.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tailer := feed.New(store, v, seq, feed.Options{Logger: log})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = tailer.Run(ctx) }()
	go func() {
		defer wg.Done()
		if err := cp.Serve(ctx, lis); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	defer wg.Wait()
	defer cancel()

	for _, s := range []*catalog.Server{
		newServer(t, "acme/search", version("2.0.0", "https://search.example.com/mcp"), version("1.0.0", "https://search.example.com/v1")),
		newServer(t, "acme/wiki", version("0.3.0", "http://10.0.0.7:8080/mcp")),
		newServer(t, "tools/github", version("1.4.2", "https://github-mcp.example.com/")),
	} {
		if _, err := store.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := &corev3.Node{Id: "envoy-contract", Cluster: "default"}
	lds := newFetcher(t, ctx, conn, n, listenerType)
	rds := newFetcher(t, ctx, conn, n, routeType)
	cds := newFetcher(t, ctx, conn, n, clusterType)

	const settle = 10 * time.Second // registration goes through the feed and the debounce; generous for a busy CI
	l := lds.wait(t, settle, "listener mcpgw", func(m map[string]*anypb.Any) bool { return m["mcpgw"] != nil })
	if err := l["mcpgw"].UnmarshalTo(new(listenerv3.Listener)); err != nil {
		t.Fatal(err)
	}
	wantClusters := []string{"mcp|acme/search|1.0.0", "mcp|acme/search|2.0.0", "mcp|acme/wiki|0.3.0", "mcp|tools/github|1.4.2"}
	clusters := cds.wait(t, settle, "a cluster per server version", func(m map[string]*anypb.Any) bool { return len(m) == 4 })
	for _, c := range wantClusters {
		if clusters[c] == nil {
			t.Fatalf("no cluster %s in %v", c, keys(clusters))
		}
		if err := clusters[c].UnmarshalTo(new(clusterv3.Cluster)); err != nil {
			t.Fatal(err)
		}
	}
	routes := rds.wait(t, settle, "routes of every server", func(m map[string]*anypb.Any) bool {
		return m["mcpgw"] != nil && len(serverRoutes(t, m["mcpgw"])) == 3
	})
	for _, p := range []string{"/mcp/acme/search", "/mcp/acme/wiki", "/mcp/tools/github"} {
		if len(serverRoutes(t, routes["mcpgw"])[p]) == 0 {
			t.Errorf("no route for %s", p)
		}
	}

	hc := healthpb.NewHealthClient(conn)
	if resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: server.HealthService}); err != nil ||
		resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health: %v %v", resp, err)
	}

	if _, err := store.Delete(ctx, catalog.KindServer, "acme/wiki", 0); err != nil {
		t.Fatal(err)
	}
	const contract = 2 * time.Second
	cds.wait(t, contract, "cluster of the deleted server gone", func(m map[string]*anypb.Any) bool {
		return m["mcp|acme/wiki|0.3.0"] == nil && len(m) == 3
	})
	rds.wait(t, contract, "route of the deleted server gone", func(m map[string]*anypb.Any) bool {
		r := serverRoutes(t, m["mcpgw"])
		_, ok := r["/mcp/acme/wiki"]
		return !ok && len(r) == 2
	})
}

func keys(m map[string]*anypb.Any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestConfigValidate(t *testing.T) {
	// Invariant: the defaults are valid; a bad ADS address, an ADS port equal to the local Envoy listener port,
	// and bad nested options are all reported.
	tests := []struct {
		name string
		mod  func(*xds.Config)
		ok   bool
	}{
		{"defaults", func(*xds.Config) {}, true},
		{"explicit host", func(c *xds.Config) { c.Address = "10.0.0.1:18000" }, true},
		{"caller's listener", func(c *xds.Config) { c.Address = "" }, true},
		{"no port", func(c *xds.Config) { c.Address = "localhost" }, false},
		{"port clash", func(c *xds.Config) { c.Address = ":10000" }, false},
		{"bad listener", func(c *xds.Config) { c.Envoy.ListenerPort = 0 }, false},
		{"bad debounce", func(c *xds.Config) { c.Snapshot.MaxDelay = 0 }, false},
	}
	for _, tc := range tests {
		c := xds.DefaultConfig()
		tc.mod(&c)
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}
