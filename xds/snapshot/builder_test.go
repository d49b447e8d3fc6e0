package snapshot_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/view"
	"github.com/mcpgw/mcpgw/xds/snapshot"
	"github.com/mcpgw/mcpgw/xds/translate"
)

func TestBuildPublishesValidSnapshot(t *testing.T) {
	// Invariant: a build publishes, for the default fleet, the listener, one route configuration and one cluster
	// per serving version of every routable server; a server that cannot be routed is left out, logged and
	// counted, and never keeps the others from the fleet; the snapshot is consistent.
	stdio := &catalog.Server{Name: "acme/local", Versions: []catalog.ServerVersion{{Version: "1.0.0",
		Transport: catalog.TransportStdio, Launch: &catalog.Launch{Command: "x"}}}}
	stdio.Normalize()
	f := newFixture(t, nil,
		server("acme/a", 1, "https://a.example.com/mcp", "https://a.example.com/old"),
		server("acme/b", 2, "http://10.0.0.1:8080/"),
		server("acme/bad", 3, "https://bad.example.com/mcp?token=x"),
		stdio,
	)
	if err := f.builder.Build(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := f.metric(t, "mcpgw_xds_servers_skipped", nil); got != 1 {
		t.Errorf("servers skipped = %v, want 1", got)
	}
	want := []string{"mcp|acme/a|1.1.0", "mcp|acme/a|1.2.0", "mcp|acme/b|1.1.0"}
	if diff := cmp.Diff(want, f.clusters(t, "default")); diff != "" {
		t.Errorf("clusters (-want +got):\n%s", diff)
	}
	snap := f.builder.Snapshot("default")
	if err := snap.Consistent(); err != nil {
		t.Fatal(err)
	}
	if got := len(snap.Resources[types.Listener].Items); got != 1 {
		t.Errorf("%d listeners", got)
	}
	if _, ok := snap.Resources[types.Route].Items[translate.RouteConfigName]; !ok {
		t.Errorf("no route configuration %q", translate.RouteConfigName)
	}
	found := false
	for _, l := range f.logs() {
		found = found || strings.Contains(l, "left out of the gateway") && strings.Contains(l, "name=acme/bad")
	}
	if !found {
		t.Error("the skipped server was not logged")
	}
}

func TestVersionsChangeOnlyWithContent(t *testing.T) {
	// Invariant: after a catalog change, exactly the resource types whose content changed get a new version; the
	// new version is greater than every earlier one; a change Envoy cannot see publishes nothing; the listener
	// never changes.
	a := server("acme/a", 1, "https://a.example.com/mcp")
	b := server("acme/b", 2, "https://b.example.com/mcp")
	f := newFixture(t, nil, a, b)
	if err := f.builder.Build(t.Context()); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		change  func(v *view.Catalog)
		changed []types.ResponseType
	}{
		{"description only", func(v *view.Catalog) {
			v.Observe(with(a, 10, func(s *catalog.Server) { s.Description = "new words" }))
		}, nil},
		{"upstream host", func(v *view.Catalog) {
			v.Observe(with(a, 11, func(s *catalog.Server) { s.Versions[0].URL = "https://a2.example.com/mcp" }))
		}, []types.ResponseType{types.Cluster}},
		{"new version", func(v *view.Catalog) {
			v.Observe(with(b, 12, func(s *catalog.Server) {
				s.Versions = append(s.Versions, catalog.ServerVersion{Version: "2.0.0",
					Transport: catalog.TransportStreamableHTTP, URL: "https://b.example.com/v2"})
			}))
		}, []types.ResponseType{types.Route, types.Cluster}},
		{"disabled", func(v *view.Catalog) {
			v.Observe(with(b, 13, func(s *catalog.Server) { s.Status = catalog.StatusDisabled }))
		}, []types.ResponseType{types.Route, types.Cluster}},
		{"deleted", func(v *view.Catalog) { v.Forget(catalog.KindServer, "acme/b", 14) },
			[]types.ResponseType{types.Route}},
		{"several endpoints by IP (EDS)", func(v *view.Catalog) {
			v.Observe(server("acme/pool", 15, "http://10.0.0.1:80/"))
			p, _ := v.Get(catalog.KindServer, "acme/pool")
			v.Observe(with(p.(*catalog.Server), 16, func(s *catalog.Server) { s.Versions[0].Endpoints = []string{"http://10.0.0.2:80/"} }))
		}, []types.ResponseType{types.Route, types.Cluster, types.Endpoint}},
	}
	prev := f.versions(t, "default")
	highest := prev[types.Cluster]
	for _, st := range steps {
		st.change(f.view)
		if err := f.builder.Build(t.Context()); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		cur := f.versions(t, "default")
		var changed []types.ResponseType
		before := highest
		for _, k := range []types.ResponseType{types.Listener, types.Route, types.Cluster, types.Endpoint} {
			if cur[k] != prev[k] {
				changed = append(changed, k)
				if !newer(cur[k], before) {
					t.Errorf("%s: version %s of type %v is not newer than %s", st.name, cur[k], k, before)
				}
				highest = cur[k]
			}
		}
		if diff := cmp.Diff(st.changed, changed); diff != "" {
			t.Errorf("%s: changed types (-want +got):\n%s", st.name, diff)
		}
		prev = cur
	}
}

// newer compares "v<n>" versions numerically.
func newer(a, b string) bool {
	n := func(s string) int {
		var x int
		for _, c := range strings.TrimPrefix(s, "v") {
			x = x*10 + int(c-'0')
		}
		return x
	}
	return n(a) > n(b)
}

func TestFleets(t *testing.T) {
	// Invariant: a node's fleet gets the servers naming it or naming no fleet, and only those; a fleet no server
	// names still gets the listener and the registry routes; invalid fleet names and fleets beyond the limit are
	// refused and counted.
	everywhere := server("acme/all", 1, "https://all.example.com/")
	edge := with(server("acme/edge", 2, "https://edge.example.com/"), 2, func(s *catalog.Server) { s.Gateways = []string{"edge"} })
	f := newFixture(t, nil, everywhere, edge)
	for _, fl := range []string{"edge", "lonely"} {
		if !f.builder.EnsureFleet(fl) {
			t.Fatalf("fleet %s refused", fl)
		}
	}
	if f.builder.EnsureFleet("has space") || f.builder.EnsureFleet("fourth") {
		t.Error("an invalid fleet or one beyond MaxFleets (3) was accepted")
	}
	if err := f.builder.Build(t.Context()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		fleet    string
		clusters []string
	}{
		{"default", []string{"mcp|acme/all|1.1.0"}},
		{"edge", []string{"mcp|acme/all|1.1.0", "mcp|acme/edge|1.1.0"}},
		{"lonely", []string{"mcp|acme/all|1.1.0"}},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.clusters, f.clusters(t, tc.fleet)); diff != "" {
			t.Errorf("fleet %s clusters (-want +got):\n%s", tc.fleet, diff)
		}
		snap, _ := f.cache.GetSnapshot(tc.fleet)
		if len(snap.GetResources("type.googleapis.com/envoy.config.listener.v3.Listener")) != 1 {
			t.Errorf("fleet %s has no listener", tc.fleet)
		}
	}
	if got := snapshot.FleetOf(nil); got != "default" {
		t.Errorf("FleetOf(nil) = %q", got)
	}
}

func TestReleasedFleetIsDropped(t *testing.T) {
	// Invariant: a fleet is built while at least one node names it (EnsureFleet and ReleaseFleet count nodes);
	// after the last release the next build clears its snapshot from the cache and its series from the metrics,
	// and its place under MaxFleets is free again. The default fleet is always built.
	f := newFixture(t, nil, server("acme/all", 1, "https://all.example.com/"))
	for _, fl := range []string{"blue", "blue", "green"} {
		if !f.builder.EnsureFleet(fl) {
			t.Fatalf("fleet %s refused", fl)
		}
	}
	if err := f.builder.Build(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.builder.ReleaseFleet("blue")
	f.builder.ReleaseFleet("default")
	if err := f.builder.Build(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cache.GetSnapshot("blue"); err != nil {
		t.Fatal("blue was dropped while one of its two nodes remained")
	}
	f.builder.ReleaseFleet("blue")
	if err := f.builder.Build(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cache.GetSnapshot("blue"); err == nil || f.builder.Snapshot("blue") != nil {
		t.Error("blue still has a snapshot after its last node went")
	}
	if got := f.metric(t, "mcpgw_xds_resources", map[string]string{"fleet": "blue"}); got != 0 {
		t.Errorf("blue still has resource series (%v)", got)
	}
	for _, fl := range []string{"default", "green"} {
		if _, err := f.cache.GetSnapshot(fl); err != nil {
			t.Errorf("fleet %s lost its snapshot", fl)
		}
	}
	if !f.builder.EnsureFleet("red") {
		t.Error("a new fleet was refused after blue freed its place (MaxFleets is 3)")
	}
}

// failingPublisher refuses snapshots while fail is set, and forwards them to the cache otherwise.
type failingPublisher struct {
	cache cachev3.SnapshotCache
	fail  bool
}

func (p *failingPublisher) SetSnapshot(ctx context.Context, fleet string, s cachev3.ResourceSnapshot) error {
	if p.fail {
		return errors.New("cache refused")
	}
	return p.cache.SetSnapshot(ctx, fleet, s)
}

func (p *failingPublisher) ClearSnapshot(fleet string) { p.cache.ClearSnapshot(fleet) }

func TestLastGoodSnapshotStays(t *testing.T) {
	// Invariant: when a fleet's snapshot cannot be published, the fleet keeps its last good snapshot, Build
	// returns the error, a log line and the failed-builds metric say so, and the next change publishes again.
	a := server("acme/a", 1, "https://a.example.com/")
	pub := &failingPublisher{}
	f := newFixture(t, pub, a)
	pub.cache = f.cache
	if err := f.builder.Build(t.Context()); err != nil {
		t.Fatal(err)
	}
	good, _ := f.cache.GetSnapshot("default")
	pub.fail = true
	f.view.Observe(with(a, 2, func(s *catalog.Server) { s.Versions[0].URL = "https://a2.example.com/" }))
	if err := f.builder.Build(t.Context()); err == nil {
		t.Fatal("a refused snapshot was not reported")
	}
	if cur, _ := f.cache.GetSnapshot("default"); cur != good {
		t.Error("the last good snapshot was replaced")
	}
	if got := f.metric(t, "mcpgw_xds_snapshot_builds_total", map[string]string{"result": snapshot.ResultFailed}); got != 1 {
		t.Errorf("failed builds = %v", got)
	}
	logged := false
	for _, l := range f.logs() {
		logged = logged || strings.HasPrefix(l, "ERROR fleet snapshot rejected")
	}
	if !logged {
		t.Error("no log line for the rejected snapshot")
	}
	pub.fail = false
	f.view.Observe(with(a, 3, func(s *catalog.Server) { s.Versions[0].URL = "https://a3.example.com/" }))
	if err := f.builder.Build(t.Context()); err != nil {
		t.Fatal(err)
	}
	if cur, _ := f.cache.GetSnapshot("default"); cur == good {
		t.Error("the fleet did not recover")
	}
}

func TestRunFollowsChanges(t *testing.T) {
	// Invariant: Run publishes at start, then once per burst of catalog changes after the debounce delay; changes
	// to kinds the gateway does not route trigger nothing. Time is synctest's fake clock.
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t, nil, server("acme/a", 1, "https://a.example.com/"))
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- f.builder.Run(ctx) }()
		synctest.Wait()
		select {
		case <-f.builder.Ready():
		default:
			t.Fatal("not ready after the first build")
		}
		v1 := f.versions(t, "default")[types.Cluster]
		for i := range 5 {
			f.view.Observe(server("acme/new", int64(10+i), "https://new.example.com/"))
			f.view.Observe(&catalog.Skill{Name: "acme/skill"})
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(time.Second)
		v2 := f.versions(t, "default")[types.Cluster]
		if v2 == v1 || !newer(v2, v1) {
			t.Errorf("cluster version %s after changes, was %s", v2, v1)
		}
		if v2 != "v2" {
			t.Errorf("a burst of changes gave version %s, want one build (v2)", v2)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

func TestVersionMapMatchesGoControlPlane(t *testing.T) {
	// Invariant: the per-resource versions the builder precomputes for clusters, endpoints and the listener are
	// exactly those go-control-plane computes itself (ConstructVersionMap), so a delta client reconnecting with
	// initial_resource_versions is not resent what it holds.
	pool := server("acme/pool", 1, "http://10.0.0.1:80/")
	pool.Versions[0].Endpoints = []string{"http://10.0.0.2:80/"}
	f := newFixture(t, nil, server("acme/a", 2, "https://a.example.com/mcp"), pool)
	if err := f.builder.Build(t.Context()); err != nil {
		t.Fatal(err)
	}
	ours := f.builder.Snapshot("default")
	theirs := &cachev3.Snapshot{Resources: ours.Resources}
	if err := theirs.ConstructVersionMap(); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{
		"type.googleapis.com/envoy.config.cluster.v3.Cluster",
		"type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
		"type.googleapis.com/envoy.config.listener.v3.Listener",
	} {
		if len(theirs.VersionMap[typ]) == 0 {
			t.Fatalf("no %s resources to compare", typ)
		}
		if diff := cmp.Diff(theirs.VersionMap[typ], ours.VersionMap[typ]); diff != "" {
			t.Errorf("%s versions (-go-control-plane +builder):\n%s", typ, diff)
		}
	}
}

func TestPublishedResourcesEncodeLikeTheTypedOnes(t *testing.T) {
	// Invariant: every resource the cache serves encodes to exactly the bytes of the typed Envoy resource it stands
	// for (so Envoy receives real listeners, routes and clusters), is named like it, and Message returns it.
	pool := server("acme/pool", 1, "http://10.0.0.1:80/")
	pool.Versions[0].Endpoints = []string{"http://10.0.0.2:80/"}
	f := newFixture(t, nil, server("acme/a", 2, "https://a.example.com/mcp"), pool)
	if err := f.builder.Build(t.Context()); err != nil {
		t.Fatal(err)
	}
	served, err := f.cache.GetSnapshot("default")
	if err != nil {
		t.Fatal(err)
	}
	typed := f.builder.Snapshot("default")
	det := proto.MarshalOptions{Deterministic: true}
	for _, k := range []types.ResponseType{types.Listener, types.Route, types.Cluster, types.Endpoint} {
		typeURL, _ := cachev3.GetResponseTypeURL(k)
		items := served.GetResources(typeURL)
		if len(items) == 0 {
			t.Fatalf("no %s served", typeURL)
		}
		for name, r := range items {
			want := typed.Resources[k].Items[name].Resource
			if snapshot.Message(r) != want || cachev3.GetResourceName(r) != name {
				t.Errorf("%s %s: Message or name does not lead back to the typed resource", typeURL, name)
			}
			a, err1 := det.Marshal(r)
			b, err2 := det.Marshal(want)
			if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
				t.Errorf("%s %s: served encoding differs from the typed resource's (%v %v)", typeURL, name, err1, err2)
			}
		}
	}
}
