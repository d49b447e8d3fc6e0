package server_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/types/known/anypb"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/xds/server"
	"github.com/mcpgw/mcpgw/xds/snapshot"
)

// step is one catalog change and what a fleet should hold after it.
type step struct {
	name     string
	change   func(h *harness)
	clusters []string
	routed   []string // servers with an upstream (non-direct) route
}

// lifecycle registers, versions, disables and deletes servers.
func lifecycle(a, b *catalog.Server) []step {
	return []step{
		{"initial", func(*harness) {}, []string{clusterName("acme/a", "1.1.0")}, []string{"acme/a"}},
		{"registered", func(h *harness) { h.view.Observe(b) },
			[]string{clusterName("acme/a", "1.1.0"), clusterName("acme/b", "1.1.0")}, []string{"acme/a", "acme/b"}},
		{"versioned", func(h *harness) {
			h.view.Observe(remote("acme/b", 3, "https://b.example.com/v2", "https://b.example.com/mcp"))
		}, []string{clusterName("acme/a", "1.1.0"), clusterName("acme/b", "1.1.0"), clusterName("acme/b", "1.2.0")},
			[]string{"acme/a", "acme/b"}},
		{"disabled", func(h *harness) {
			d := remote("acme/b", 4, "https://b.example.com/v2", "https://b.example.com/mcp")
			d.Status = catalog.StatusDisabled
			h.view.Observe(d)
		}, []string{clusterName("acme/a", "1.1.0")}, []string{"acme/a"}},
		{"deleted", func(h *harness) { h.view.Forget(catalog.KindServer, "acme/a", 5) }, nil, nil},
	}
}

// routedServers lists the servers whose unpinned route goes to a cluster.
func routedServers(t testing.TB, a *anypb.Any) []string {
	t.Helper()
	rc := new(routev3.RouteConfiguration)
	if err := a.UnmarshalTo(rc); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rc.VirtualHosts[0].Routes {
		if c := r.GetRoute().GetCluster(); c != "" && len(r.Match.Headers) == 1 && !r.Match.Headers[0].GetPresentMatch() &&
			r.Match.Headers[0].GetStringMatch() == nil {
			out = append(out, r.Match.GetPathSeparatedPrefix()[len("/mcp/"):])
		}
	}
	slices.Sort(out)
	return out
}

func TestSotWClientFollowsCatalog(t *testing.T) {
	// Invariant: go-control-plane's ADS client (state of the world), one stream per type, receives the listener,
	// the route configuration and the clusters, ACKs them, and follows the catalog as servers are registered,
	// versioned, disabled and deleted; the listener is sent once and never again.
	a := remote("acme/a", 1, "https://a.example.com/mcp")
	b := remote("acme/b", 2, "https://b.example.com/mcp")
	h := newHarness(t, harnessOptions{}, a)
	n := node("envoy-sotw", "default")
	lds := h.sotw(t, n, listenerType)
	rds := h.sotw(t, n, routeType)
	cds := h.sotw(t, n, clusterType)
	lds.until(func(m map[string]*anypb.Any) bool { return m["mcpgw"] != nil })
	for _, st := range lifecycle(a, b) {
		st.change(h)
		cds.until(func(m map[string]*anypb.Any) bool {
			var names []string
			for n := range m {
				names = append(names, n)
			}
			slices.Sort(names)
			return cmp.Equal(st.clusters, names, cmpEmpty)
		})
		rds.until(func(m map[string]*anypb.Any) bool {
			return m["mcpgw"] != nil && cmp.Equal(st.routed, routedServers(t, m["mcpgw"]), cmpEmpty)
		})
	}
	// The listener never changed, so its stream got nothing more.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = lds.client.Fetch()
	}()
	select {
	case <-done:
		t.Error("the listener was sent again although it did not change")
	case <-time.After(200 * time.Millisecond):
	}
}

var cmpEmpty = cmp.Comparer(func(a, b []string) bool { return len(a) == 0 && len(b) == 0 || slices.Equal(a, b) })

func TestDeltaClientFollowsCatalog(t *testing.T) {
	// Invariant: a delta ADS client on one stream receives every type, ACKs, and follows the catalog; each change
	// sends only the resources that changed (a new server: its cluster and the route configuration, not the
	// other clusters) and removals as removed_resources.
	a := remote("acme/a", 1, "https://a.example.com/mcp")
	b := remote("acme/b", 2, "https://b.example.com/mcp")
	h := newHarness(t, harnessOptions{}, a)
	d := h.delta(t, node("envoy-delta", "default"), false, clusterType, endpointType, listenerType, routeType)
	for _, st := range lifecycle(a, b) {
		before := d.snapshotVersions(clusterType)
		st.change(h)
		d.until(func(d *delta) bool {
			return cmp.Equal(st.clusters, d.names(clusterType), cmpEmpty) && d.routeRouted(t, st.routed)
		})
		// Clusters that exist before and after the change were not sent again.
		after := d.snapshotVersions(clusterType)
		for name, v := range before {
			if w, ok := after[name]; ok && w != v {
				t.Errorf("%s: cluster %s was resent", st.name, name)
			}
		}
	}
	if got := d.names(listenerType); !slices.Equal(got, []string{"mcpgw"}) {
		t.Errorf("listeners %v", got)
	}
}

// snapshotVersions returns the pointer identity of each resource the client holds, which changes when the
// server sends the resource again.
func (d *delta) snapshotVersions(typ string) map[string]*anypb.Any {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]*anypb.Any{}
	for n, r := range d.state[typ] {
		out[n] = r.GetResource()
	}
	return out
}

func (d *delta) routeRouted(t testing.TB, want []string) bool {
	d.mu.Lock()
	r := d.state[routeType]["mcpgw"]
	d.mu.Unlock()
	return r != nil && cmp.Equal(want, routedServers(t, r.GetResource()), cmpEmpty)
}

func TestSotWNACKIsNotResent(t *testing.T) {
	// Invariant: a client that rejects every response is not sent the rejected version again (go-control-plane
	// would resend it at once, thousands of times a second); it is counted and logged per node; and once the
	// catalog changes, the new version reaches it.
	h := newHarness(t, harnessOptions{}, remote("acme/a", 1, "https://a.example.com/mcp"))
	c := h.sotw(t, node("envoy-nack", "default"), clusterType)
	if _, err := c.fetch(); err != nil {
		t.Fatal(err)
	}
	if err := c.client.Nack("cluster rejected by test"); err != nil {
		t.Fatal(err)
	}
	resent := make(chan struct{}, 1024)
	go func() {
		for {
			if _, err := c.client.Fetch(); err != nil {
				return
			}
			resent <- struct{}{}
			if err := c.client.Nack("cluster rejected by test"); err != nil {
				return
			}
		}
	}()
	time.Sleep(2 * time.Second) // the window the issue names: a tight loop would resend thousands of times
	if n := len(resent); n > 3 {
		t.Fatalf("the rejected version was resent %d times in 2s", n)
	}
	h.view.Observe(remote("acme/b", 2, "https://b.example.com/mcp"))
	select {
	case <-resent:
	case <-time.After(waitFor):
		t.Fatal("a new version did not reach the client after its NACK")
	}
	if !contains(h.logs(), "node rejected configuration", "envoy-nack", "cluster rejected by test") {
		t.Error("the NACK was not logged with its detail")
	}
	if got := counter(t, h, "mcpgw_xds_nacks_total", "envoy-nack"); got < 1 {
		t.Errorf("nacks counted %v", got)
	}
}

func TestSotWNACKOfAnOlderVersionGetsTheNewer(t *testing.T) {
	// Invariant: the NACK guard holds back only the version the client rejected. When the catalog changed after
	// the rejected response was sent (so no watch was open to carry the new version), the NACK is answered with
	// the new version at once: it may be the very fix for what the client rejected, and parking the watch would
	// leave the node on its old configuration until some unrelated change.
	h := newHarness(t, harnessOptions{}, remote("acme/a", 1, "https://a.example.com/mcp"))
	c := h.sotw(t, node("envoy-nack-late", "default"), clusterType)
	if _, err := c.fetch(); err != nil {
		t.Fatal(err)
	}
	// The upstream moves: the same cluster name with new content, so the client's known names do not reveal the
	// change to go-control-plane.
	h.view.Observe(remote("acme/a", 2, "https://a2.example.com/mcp"))
	cluster := clusterName("acme/a", "1.1.0")
	deadline := time.Now().Add(waitFor)
	for {
		if s := h.builder.Snapshot("default"); s != nil && strings.Contains(
			prototext.Format(snapshot.Message(s.GetResources(clusterType)[cluster])), "a2.example.com") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the builder never published the new cluster")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := c.client.Nack("cluster rejected by test"); err != nil {
		t.Fatal(err)
	}
	r, err := c.fetch()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Resources) != 1 || !strings.Contains(string(r.Resources[0].GetValue()), "a2.example.com") {
		t.Fatalf("after the NACK the client got %v, want the cluster moved to a2.example.com", r.Resources)
	}
}

func TestDeltaNACKIsNotResent(t *testing.T) {
	// Invariant: a delta client that rejects everything is not sent the same resources again; NACKs are counted.
	h := newHarness(t, harnessOptions{}, remote("acme/a", 1, "https://a.example.com/mcp"))
	d := h.delta(t, node("envoy-delta-nack", "default"), true, clusterType)
	d.until(func(d *delta) bool { r, _ := d.counters(); return r >= 1 })
	time.Sleep(2 * time.Second)
	if r, _ := d.counters(); r > 3 {
		t.Fatalf("%d responses in 2s to a client rejecting them", r)
	}
	if got := counter(t, h, "mcpgw_xds_nacks_total", "envoy-delta-nack"); got < 1 {
		t.Errorf("nacks counted %v", got)
	}
}

func TestNACKSeriesGoWithTheNode(t *testing.T) {
	// Invariant: a node's NACK series stay while any of its streams is open (Envoy reconnects before the old stream
	// is gone) and are removed with its last stream, so churning node ids do not grow the metric without bound.
	h := newHarness(t, harnessOptions{}, remote("acme/a", 1, "https://a.example.com/mcp"))
	n := node("envoy-churn", "default")
	first := h.delta(t, n, true, clusterType)
	first.until(func(d *delta) bool { r, _ := d.counters(); return r >= 1 })
	second := h.delta(t, n, true, clusterType)
	second.until(func(d *delta) bool { r, _ := d.counters(); return r >= 1 })
	waitCounter := func(want func(float64) bool, what string) {
		t.Helper()
		deadline := time.Now().Add(waitFor)
		for !want(counter(t, h, "mcpgw_xds_nacks_total", "envoy-churn")) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: nacks counted %v", what, counter(t, h, "mcpgw_xds_nacks_total", "envoy-churn"))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitCounter(func(v float64) bool { return v >= 2 }, "two NACKing streams")
	if err := first.stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitFor)
	for gauge(t, h, "mcpgw_xds_connected_nodes") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the first stream did not close")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := counter(t, h, "mcpgw_xds_nacks_total", "envoy-churn"); got < 2 {
		t.Errorf("the series went while the node still had a stream: %v", got)
	}
	if err := second.stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	waitCounter(func(v float64) bool { return v == 0 }, "after the last stream")
}

func counter(t testing.TB, h *harness, name, node string) float64 {
	t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "node" && l.GetValue() == node {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}

func TestNodeLifecycleLogsAndHealth(t *testing.T) {
	// Invariant: a node's first request logs its id, fleet and Envoy version; closing its stream logs the
	// disconnect; the fleet it names gets its own snapshot; health reports what SetServing says.
	h := newHarness(t, harnessOptions{}, remote("acme/a", 1, "https://a.example.com/mcp"))
	hc := healthpb.NewHealthClient(h.conn)
	resp, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: server.HealthService})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health before ready: %v %v", resp, err)
	}
	h.server.SetServing(true)
	if resp, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health when serving: %v %v", resp, err)
	}
	d := h.delta(t, node("envoy-7", "edge"), false, clusterType)
	d.until(func(d *delta) bool { return len(d.names(clusterType)) == 1 })
	if !contains(h.logs(), "node connected", "node=envoy-7", "fleet=edge", "envoy_version=envoy 1.40.0") {
		t.Errorf("no connect line: %v", h.logs())
	}
	if h.builder.Snapshot("edge") == nil {
		t.Error("the node's fleet has no snapshot")
	}
	if got := gauge(t, h, "mcpgw_xds_connected_nodes"); got != 1 {
		t.Errorf("connected nodes = %v, want 1", got)
	}
	if err := d.stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(waitFor)
	for !contains(h.logs(), "node disconnected", "node=envoy-7", "fleet=edge") || gauge(t, h, "mcpgw_xds_connected_nodes") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("no disconnect line")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFleetLimitRefusesNode(t *testing.T) {
	// Invariant: a node naming a fleet beyond the limit gets a ResourceExhausted stream error, not a hang.
	h := newHarness(t, harnessOptions{maxFleets: 1}, remote("acme/a", 1, "https://a.example.com/mcp"))
	c := h.sotw(t, node("envoy-x", "another-fleet"), clusterType)
	_, err := c.fetch()
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("err = %v, want ResourceExhausted", err)
	}
	deadline := time.Now().Add(waitFor)
	for gauge(t, h, "mcpgw_xds_connected_nodes") != 0 || !contains(h.logs(), "node refused", "envoy-x") {
		if time.Now().After(deadline) {
			t.Fatalf("connected nodes = %v after a refused node", gauge(t, h, "mcpgw_xds_connected_nodes"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFleetOfGoneNodesIsReleased(t *testing.T) {
	// Invariant: a fleet is served while nodes name it: once the last one has gone, the fleet no longer counts
	// against the limit (nor is it rebuilt on every change), so fleet names that come and go, such as one per
	// deployment, are not refused for good once MaxFleets of them have ever connected.
	h := newHarness(t, harnessOptions{maxFleets: 2}, remote("acme/a", 1, "https://a.example.com/mcp"))
	blue := h.delta(t, node("envoy-blue", "blue"), false, clusterType)
	blue.until(func(d *delta) bool { return len(d.names(clusterType)) == 1 })
	if err := blue.stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	<-blue.done
	deadline := time.Now().Add(waitFor)
	for gauge(t, h, "mcpgw_xds_connected_nodes") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the blue node never disconnected")
		}
		time.Sleep(10 * time.Millisecond)
	}
	green := h.delta(t, node("envoy-green", "green"), false, clusterType)
	green.until(func(d *delta) bool { return len(d.names(clusterType)) == 1 })
}

func gauge(t testing.TB, h *harness, name string) float64 {
	t.Helper()
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}
