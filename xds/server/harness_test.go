package server_test

import (
	"context"
	"fmt"
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
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	sotwv3 "github.com/envoyproxy/go-control-plane/pkg/client/sotw/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/view"
	"github.com/mcpgw/mcpgw/xds/server"
	"github.com/mcpgw/mcpgw/xds/snapshot"
	"github.com/mcpgw/mcpgw/xds/translate"
)

// Type URLs of what a fleet receives.
const (
	listenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"
	routeType    = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
	clusterType  = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	endpointType = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
)

// waitFor bounds how long a test waits for the control plane to react; it is a deadline, not a measurement.
const waitFor = 10 * time.Second

// logRecorder sends records to t.Logf (unless quiet) and keeps them for assertions. Records made after the test's
// last cleanup (a stream's close callback running after the server stopped) are kept but not sent: t.Logf would
// panic once the test has completed.
type logRecorder struct {
	t     testing.TB
	quiet bool
	mu    *sync.Mutex
	ended *bool
	lines *[]string
	attrs string
}

func newLog(t testing.TB, quiet bool) (*slog.Logger, func() []string) {
	r := &logRecorder{t: t, quiet: quiet, mu: &sync.Mutex{}, ended: new(bool), lines: &[]string{}}
	// Registered first, so it runs after every later cleanup, the server's stop included.
	t.Cleanup(func() {
		r.mu.Lock()
		*r.ended = true
		r.mu.Unlock()
	})
	return slog.New(r), func() []string {
		r.mu.Lock()
		defer r.mu.Unlock()
		return append([]string(nil), *r.lines...)
	}
}

func (r *logRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message + r.attrs)
	rec.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.lines = append(*r.lines, b.String())
	if !r.quiet && !*r.ended {
		r.t.Logf("%s", b.String())
	}
	return nil
}

func (r *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *r
	for _, a := range as {
		c.attrs += " " + a.String()
	}
	return &c
}

func (r *logRecorder) WithGroup(string) slog.Handler { return r }

func contains(lines []string, parts ...string) bool {
	for _, l := range lines {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

// harness runs the real pipeline in process: a view filled with Observe, the snapshot builder, go-control-plane's
// snapshot cache and the ADS server on an in-memory gRPC listener.
type harness struct {
	view    *view.Catalog
	builder *snapshot.Builder
	server  *server.Server
	conn    *grpc.ClientConn
	reg     *prometheus.Registry
	logs    func() []string
	addr    string
}

type harnessOptions struct {
	maxFleets int
	quietLogs bool
	tcp       bool // serve on 127.0.0.1 (for clients in another process) instead of in memory
}

func newHarness(t testing.TB, o harnessOptions, objs ...catalog.Object) *harness {
	t.Helper()
	log, logs := newLog(t, o.quietLogs)
	v := view.New(nil, log)
	for _, obj := range objs {
		v.Observe(obj)
	}
	tr, err := translate.New(translate.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	cache := cachev3.NewSnapshotCache(true, snapshot.FleetHash{}, server.Logger(log))
	cfg := snapshot.Config{Quiet: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond, MaxFleets: 8}
	if o.maxFleets > 0 {
		cfg.MaxFleets = o.maxFleets
	}
	b, err := snapshot.New(v, cache, tr, cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := server.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(cache, b, log, m)
	if err != nil {
		t.Fatal(err)
	}
	var lis net.Listener = bufconn.Listen(1 << 20)
	dial := grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return lis.(*bufconn.Listener).DialContext(ctx)
	})
	target := "passthrough:///bufconn"
	if o.tcp {
		if lis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		dial, target = grpc.EmptyDialOption{}, lis.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = b.Run(ctx) }()
	go func() {
		defer wg.Done()
		if err := srv.Serve(ctx, lis); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	conn, err := grpc.NewClient(target, dial,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		cancel()
		wg.Wait()
	})
	return &harness{view: v, builder: b, server: srv, conn: conn, reg: reg, logs: logs, addr: lis.Addr().String()}
}

func node(id, fleet string) *corev3.Node {
	return &corev3.Node{Id: id, Cluster: fleet, UserAgentName: "envoy",
		UserAgentVersionType: &corev3.Node_UserAgentBuildVersion{UserAgentBuildVersion: &corev3.BuildVersion{
			Version: &typev3.SemanticVersion{MajorNumber: 1, MinorNumber: 40},
		}}}
}

// sotw is go-control-plane's own state-of-the-world ADS client for one resource type, with a deadline on Fetch.
type sotw struct {
	t      testing.TB
	client sotwv3.ADSClient
	typ    string
}

func (h *harness) sotw(t testing.TB, n *corev3.Node, typeURL string) *sotw {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	c := sotwv3.NewADSClient(ctx, n, typeURL)
	if err := c.InitConnect(h.conn); err != nil {
		t.Fatal(err)
	}
	return &sotw{t: t, client: c, typ: typeURL}
}

// fetch waits for the next response, failing the test after waitFor.
func (c *sotw) fetch() (*sotwv3.Response, error) {
	type result struct {
		r   *sotwv3.Response
		err error
	}
	ch := make(chan result, 1)
	go func() {
		r, err := c.client.Fetch()
		ch <- result{r, err}
	}()
	select {
	case r := <-ch:
		return r.r, r.err
	case <-time.After(waitFor):
		c.t.Fatalf("no %s response within %v", c.typ, waitFor)
		return nil, nil
	}
}

// until fetches and ACKs responses until one satisfies ok.
func (c *sotw) until(ok func(names map[string]*anypb.Any) bool) map[string]*anypb.Any {
	c.t.Helper()
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		r, err := c.fetch()
		if err != nil {
			c.t.Fatalf("fetch %s: %v", c.typ, err)
		}
		if err := c.client.Ack(); err != nil {
			c.t.Fatalf("ack %s: %v", c.typ, err)
		}
		names := map[string]*anypb.Any{}
		for _, a := range r.Resources {
			names[resourceName(c.t, a)] = a
		}
		if ok(names) {
			return names
		}
	}
	c.t.Fatalf("%s never reached the expected state", c.typ)
	return nil
}

// resourceName unpacks a resource far enough to read its name.
func resourceName(t testing.TB, a *anypb.Any) string {
	t.Helper()
	m, err := a.UnmarshalNew()
	if err != nil {
		t.Fatal(err)
	}
	switch r := m.(type) {
	case interface{ GetName() string }:
		return r.GetName()
	case interface{ GetClusterName() string }:
		return r.GetClusterName()
	}
	t.Fatalf("unnamed resource %T", m)
	return ""
}

// delta is a minimal incremental ADS client on one stream: it subscribes (wildcard) to the types it is given,
// applies updates and removals to its state, ACKs (or NACKs, when nack is set) every response, and counts the
// bytes it receives.
type delta struct {
	t      testing.TB
	stream discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	node   *corev3.Node
	nack   bool
	light  bool // keep names and versions only, not resource bodies

	mu        sync.Mutex
	state     map[string]map[string]*discoveryv3.Resource // type → name → resource
	responses int
	bytes     int
	changed   chan struct{}
	done      chan struct{}
	err       error
}

func (h *harness) delta(t testing.TB, n *corev3.Node, nack bool, types ...string) *delta {
	t.Helper()
	return h.newDelta(t, n, nack, false, types...)
}

// deltaLight is a delta client that keeps only names and versions, so that many in one process measure the
// server rather than themselves.
func (h *harness) deltaLight(t testing.TB, n *corev3.Node, types ...string) *delta {
	t.Helper()
	return h.newDelta(t, n, false, true, types...)
}

func (h *harness) newDelta(t testing.TB, n *corev3.Node, nack, light bool, types ...string) *delta {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(h.conn).DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := &delta{t: t, stream: stream, node: n, nack: nack, light: light, state: map[string]map[string]*discoveryv3.Resource{},
		changed: make(chan struct{}, 1), done: make(chan struct{})}
	for i, typ := range types {
		d.state[typ] = map[string]*discoveryv3.Resource{}
		req := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: typ}
		if i == 0 {
			req.Node = n
		}
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	go d.recv()
	return d
}

func (d *delta) recv() {
	defer close(d.done)
	for {
		resp, err := d.stream.Recv()
		if err != nil {
			d.mu.Lock()
			d.err = err
			d.mu.Unlock()
			return
		}
		d.mu.Lock()
		d.responses++
		d.bytes += proto.Size(resp)
		st := d.state[resp.GetTypeUrl()]
		if !d.nack {
			for _, r := range resp.GetResources() {
				if d.light {
					r = &discoveryv3.Resource{Name: r.GetName(), Version: r.GetVersion()}
				}
				st[r.GetName()] = r
			}
			for _, name := range resp.GetRemovedResources() {
				delete(st, name)
			}
		}
		d.mu.Unlock()
		ack := &discoveryv3.DeltaDiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce()}
		if d.nack {
			ack.ErrorDetail = &rpcstatus.Status{Code: 3, Message: "test client rejects everything"}
		}
		if err := d.stream.Send(ack); err != nil {
			return
		}
		select {
		case d.changed <- struct{}{}:
		default:
		}
	}
}

// names returns the sorted names the client holds for a type.
func (d *delta) names(typ string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for n := range d.state[typ] {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// until waits until ok holds for the client's state.
func (d *delta) until(ok func(d *delta) bool) {
	d.t.Helper()
	d.untilWithin(waitFor, ok)
}

// has reports whether the client holds the named resource.
func (d *delta) has(typ, name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.state[typ][name]
	return ok
}

// version returns the version of a resource the client holds ("" when it holds none).
func (d *delta) version(typ, name string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state[typ][name].GetVersion()
}

// untilWithin waits at most within until ok holds for the client's state.
func (d *delta) untilWithin(within time.Duration, ok func(d *delta) bool) {
	d.t.Helper()
	deadline := time.After(within)
	for !ok(d) {
		select {
		case <-d.changed:
		case <-d.done:
			d.t.Fatalf("delta stream ended: %v", d.err)
		case <-deadline:
			d.t.Fatalf("delta client never reached the expected state; holds clusters %v", d.names(clusterType))
		}
	}
}

func (d *delta) counters() (responses, bytes int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.responses, d.bytes
}

// remote makes a normalized catalog server with one version per URL, the first the default.
func remote(name string, rev int64, urls ...string) *catalog.Server {
	s := &catalog.Server{Name: name, Governance: catalog.Governance{Description: "d"}}
	for i, u := range urls {
		s.Versions = append(s.Versions, catalog.ServerVersion{Version: fmt.Sprintf("1.%d.0", len(urls)-i),
			Transport: catalog.TransportStreamableHTTP, URL: u})
	}
	s.Rev = rev
	s.Normalize()
	return s
}

func clusterName(server, version string) string { return translate.ClusterName(server, version) }

// adsClient is a state-of-the-world ADS client on one stream, like Envoy: it subscribes to every type (wildcard),
// ACKs each response, and keeps per type only the names and the response version, so that many of them in one
// process measure the server rather than themselves.
type adsClient struct {
	stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesClient

	mu      sync.Mutex
	names   map[string]map[string]bool
	bytes   int
	changed chan struct{}
	done    chan struct{}
	err     error
}

func (h *harness) ads(t testing.TB, n *corev3.Node, types ...string) *adsClient {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(h.conn).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := &adsClient{stream: stream, names: map[string]map[string]bool{}, changed: make(chan struct{}, 1),
		done: make(chan struct{})}
	for _, typ := range types {
		if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: n, TypeUrl: typ}); err != nil {
			t.Fatal(err)
		}
	}
	go c.recv()
	return c
}

func (c *adsClient) recv() {
	defer close(c.done)
	for {
		resp, err := c.stream.Recv()
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		names := make(map[string]bool, len(resp.GetResources()))
		for _, r := range resp.GetResources() {
			names[anyName(r)] = true
		}
		c.mu.Lock()
		c.names[resp.GetTypeUrl()] = names
		c.bytes += proto.Size(resp)
		c.mu.Unlock()
		if err := c.stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resp.GetTypeUrl(),
			VersionInfo: resp.GetVersionInfo(), ResponseNonce: resp.GetNonce()}); err != nil {
			return
		}
		select {
		case c.changed <- struct{}{}:
		default:
		}
	}
}

// anyName reads a resource's name without unpacking the whole resource: field 1 of every xDS resource type the
// fleet receives (Listener, RouteConfiguration, Cluster, ClusterLoadAssignment) is its name.
func anyName(a *anypb.Any) string {
	b := a.GetValue()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			return string(v)
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return ""
		}
		b = b[m:]
	}
	return ""
}

// has reports whether the client holds the named resource of a type.
func (c *adsClient) has(typ, name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.names[typ][name]
}
