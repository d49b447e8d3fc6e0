package snapshot_test

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/view"
	"github.com/mcpgw/mcpgw/xds/snapshot"
	"github.com/mcpgw/mcpgw/xds/translate"
)

// catalogOf returns n servers shaped like a real catalog: 100 namespaces, https upstreams with a path, every
// third server with a second (deprecated) version, every tenth with a retired one.
func catalogOf(n int) []*catalog.Server {
	out := make([]*catalog.Server, 0, n)
	for i := range n {
		s := &catalog.Server{Name: fmt.Sprintf("team-%02d/server-%05d", i%100, i),
			Governance: catalog.Governance{Description: "benchmark server"}}
		s.Versions = []catalog.ServerVersion{{Version: "2.0.0", Transport: catalog.TransportStreamableHTTP,
			URL: fmt.Sprintf("https://s%05d.mcp.example.com/mcp", i)}}
		if i%3 == 0 {
			s.Versions = append(s.Versions, catalog.ServerVersion{Version: "1.0.0", Deprecated: true,
				Transport: catalog.TransportStreamableHTTP, URL: fmt.Sprintf("https://s%05d.mcp.example.com/v1", i)})
		}
		if i%10 == 0 {
			s.Versions = append(s.Versions, catalog.ServerVersion{Version: "0.9.0", Retired: true,
				Transport: catalog.TransportStreamableHTTP, URL: fmt.Sprintf("https://s%05d.mcp.example.com/v0", i)})
		}
		s.Rev = int64(i + 1)
		s.Normalize()
		out = append(out, s)
	}
	return out
}

func benchView(b *testing.B, servers []*catalog.Server) *view.Catalog {
	b.Helper()
	v := view.New(nil, nil)
	for _, s := range servers {
		v.Observe(s)
	}
	return v
}

// BenchmarkBuild measures building and publishing the default fleet's snapshot. "cold" builds with an empty
// translation cache (a control plane starting, or the first build after a restart); "one-change" rebuilds after
// one server changed, the steady state. The heap-MB metric is the live heap holding the published snapshot and
// the translation cache.
func BenchmarkBuild(b *testing.B) {
	tr, err := translate.New(translate.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1000, 10000} {
		servers := catalogOf(n)
		b.Run(fmt.Sprintf("servers=%d/cold", n), func(b *testing.B) {
			v := benchView(b, servers)
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				cache := cachev3.NewSnapshotCache(true, snapshot.FleetHash{}, nil)
				bl, err := snapshot.New(v, cache, tr, snapshot.DefaultConfig(), nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := bl.Build(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
		b.Run(fmt.Sprintf("servers=%d/one-change", n), func(b *testing.B) {
			v := benchView(b, servers)
			cache := cachev3.NewSnapshotCache(true, snapshot.FleetHash{}, nil)
			bl, err := snapshot.New(v, cache, tr, snapshot.DefaultConfig(), nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := bl.Build(b.Context()); err != nil {
				b.Fatal(err)
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heap := float64(ms.HeapAlloc) / (1 << 20)
			rev := int64(n + 1)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			for i := 0; b.Loop(); i++ {
				s := *servers[i%n]
				s.Versions = append([]catalog.ServerVersion(nil), s.Versions...)
				s.Versions[0].URL = fmt.Sprintf("https://moved-%d.mcp.example.com/mcp", i)
				rev++
				s.Rev = rev
				v.Observe(&s)
				if err := bl.Build(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
			b.ReportMetric(heap, "heap-MB")
		})
	}
}

// cpuClock measures the process's CPU time (user and system, GC included) across a benchmark loop. On a shared
// machine wall time mostly measures the neighbours; CPU time per operation is what the build costs.
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{processCPU()} }

func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(processCPU()-c.start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}
