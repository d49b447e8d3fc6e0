package snapshot_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/view"
	"github.com/mcpgw/mcpgw/xds/snapshot"
	"github.com/mcpgw/mcpgw/xds/translate"
)

// logRecorder sends records to t.Logf and keeps their messages and attributes for assertions.
type logRecorder struct {
	t     testing.TB
	mu    *sync.Mutex
	lines *[]string
	attrs string
}

func newLog(t testing.TB) (*slog.Logger, func() []string) {
	r := &logRecorder{t: t, mu: &sync.Mutex{}, lines: &[]string{}}
	return slog.New(r), func() []string {
		r.mu.Lock()
		defer r.mu.Unlock()
		return append([]string(nil), *r.lines...)
	}
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message + r.attrs)
	rec.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	r.mu.Lock()
	*r.lines = append(*r.lines, b.String())
	r.mu.Unlock()
	r.t.Logf("%s", b.String())
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

// server makes a normalized catalog server with one remote version per URL (the first is the default).
func server(name string, rev int64, urls ...string) *catalog.Server {
	s := &catalog.Server{Name: name, Governance: catalog.Governance{Description: "d"}}
	for i, u := range urls {
		s.Versions = append(s.Versions, catalog.ServerVersion{Version: fmt.Sprintf("1.%d.0", len(urls)-i),
			Transport: catalog.TransportStreamableHTTP, URL: u})
	}
	s.Rev = rev
	s.Normalize()
	return s
}

func with(s *catalog.Server, rev int64, mod func(*catalog.Server)) *catalog.Server {
	c := *s
	c.Versions = append([]catalog.ServerVersion(nil), s.Versions...)
	c.Gateways = append([]string(nil), s.Gateways...)
	mod(&c)
	c.Rev = rev
	c.Normalize()
	return &c
}

type fixture struct {
	view    *view.Catalog
	cache   cachev3.SnapshotCache
	builder *snapshot.Builder
	logs    func() []string
	reg     *prometheus.Registry
}

// metric returns the value of a counter or gauge on the fixture's registry whose labels include want.
func (f *fixture) metric(t testing.TB, name string, want map[string]string) float64 {
	t.Helper()
	families, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
	next:
		for _, m := range fam.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// newFixture builds a real view (filled with Observe), a real snapshot cache and a builder.
func newFixture(t testing.TB, pub snapshot.Publisher, objs ...catalog.Object) *fixture {
	t.Helper()
	log, logs := newLog(t)
	v := view.New(nil, log)
	for _, o := range objs {
		v.Observe(o)
	}
	cache := cachev3.NewSnapshotCache(true, snapshot.FleetHash{}, nil)
	if pub == nil {
		pub = cache
	}
	tr, err := translate.New(translate.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	cfg := snapshot.DefaultConfig()
	cfg.MaxFleets = 3
	reg := prometheus.NewRegistry()
	m, err := snapshot.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := snapshot.New(v, pub, tr, cfg, log, m)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{view: v, cache: cache, builder: b, logs: logs, reg: reg}
}

// versions returns the version of each resource type of a fleet's published snapshot.
func (f *fixture) versions(t testing.TB, fleet string) map[types.ResponseType]string {
	t.Helper()
	snap := f.builder.Snapshot(fleet)
	if snap == nil {
		t.Fatalf("fleet %s has no snapshot", fleet)
	}
	out := map[types.ResponseType]string{}
	for _, k := range []types.ResponseType{types.Listener, types.Route, types.Cluster, types.Endpoint} {
		out[k] = snap.Resources[k].Version
	}
	return out
}

func (f *fixture) clusters(t testing.TB, fleet string) []string {
	t.Helper()
	snap, err := f.cache.GetSnapshot(fleet)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range snap.GetResources("type.googleapis.com/envoy.config.cluster.v3.Cluster") {
		names = append(names, name)
	}
	return sorted(names)
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}
