package server_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/xds/translate"
)

// syncWithin bounds the initial sync of large fleets in benchmarks (a deadline, not a measurement).
const syncWithin = 5 * time.Minute

// benchCatalog returns n servers shaped like a real catalog: 100 namespaces, https upstreams with a path, every
// third server with a second (deprecated) version.
func benchCatalog(n int) []catalog.Object {
	out := make([]catalog.Object, 0, n)
	for i := range n {
		s := &catalog.Server{Name: fmt.Sprintf("team-%02d/server-%05d", i%100, i),
			Governance: catalog.Governance{Description: "benchmark server"}}
		s.Versions = []catalog.ServerVersion{{Version: "2.0.0", Transport: catalog.TransportStreamableHTTP,
			URL: fmt.Sprintf("https://s%05d.mcp.example.com/mcp", i)}}
		if i%3 == 0 {
			s.Versions = append(s.Versions, catalog.ServerVersion{Version: "1.0.0", Deprecated: true,
				Transport: catalog.TransportStreamableHTTP, URL: fmt.Sprintf("https://s%05d.mcp.example.com/v1", i)})
		}
		s.Rev = int64(i + 1)
		s.Normalize()
		out = append(out, s)
	}
	return out
}

var allTypes = []string{clusterType, endpointType, listenerType, routeType}

// BenchmarkDeltaOneChange measures the bytes a delta client receives when one server of a 10k catalog changes,
// against the full push (everything a node receives when it connects, which is also what a state-of-the-world
// node receives for a change that touches routes and clusters). Two changes: "upstream" moves a version to
// another host (its cluster changes, no route does); "new-version" adds a version (a cluster is added and the
// route configuration changes). ns-scoped-% is what a new-version change would cost if routes were split into
// one route configuration per namespace (100 namespaces here), computed from the published resources.
func BenchmarkDeltaOneChange(b *testing.B) {
	const n = 10000
	for _, change := range []string{"upstream", "new-version"} {
		b.Run(fmt.Sprintf("servers=%d/%s", n, change), func(b *testing.B) {
			objs := benchCatalog(n)
			h := newHarness(b, harnessOptions{quietLogs: true}, objs...)
			d := h.delta(b, node("envoy-bench", "default"), false, allTypes...)
			wantClusters := 0
			for _, o := range objs {
				wantClusters += len(o.(*catalog.Server).Versions)
			}
			d.untilWithin(syncWithin, func(d *delta) bool {
				return len(d.names(clusterType)) == wantClusters && len(d.names(routeType)) == 1
			})
			_, full := d.counters()
			var changeBytes, scoped int
			rev := int64(n + 1)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				s := *objs[(i*37)%n].(*catalog.Server)
				s.Versions = append([]catalog.ServerVersion(nil), s.Versions...)
				var want string
				switch change {
				case "upstream":
					s.Versions[0].URL = fmt.Sprintf("https://moved-%d.mcp.example.com/mcp", i)
					want = translate.ClusterName(s.Name, s.Versions[0].Version)
				default:
					v := fmt.Sprintf("3.%d.0", i)
					s.Versions = append(s.Versions, catalog.ServerVersion{Version: v, Transport: catalog.TransportStreamableHTTP,
						URL: fmt.Sprintf("https://s-next-%d.mcp.example.com/mcp", i)})
					want = translate.ClusterName(s.Name, v)
				}
				rev++
				s.Rev = rev
				s.Normalize()
				_, before := d.counters()
				old, oldRoutes := d.version(clusterType, want), d.version(routeType, translate.RouteConfigName)
				h.view.Observe(&s)
				// Wait for everything the change sends: the cluster, and for a new version the routes too.
				d.untilWithin(syncWithin, func(d *delta) bool {
					v := d.version(clusterType, want)
					return v != "" && v != old && (change == "upstream" || d.version(routeType, translate.RouteConfigName) != oldRoutes)
				})
				_, after := d.counters()
				changeBytes += after - before
				scoped += namespaceScoped(b, h, s.Name)
			}
			b.ReportMetric(float64(full), "full-push-bytes")
			b.ReportMetric(float64(changeBytes)/float64(b.N), "change-bytes")
			b.ReportMetric(100*float64(changeBytes)/float64(b.N)/float64(full), "change-%")
			if change == "new-version" {
				b.ReportMetric(100*float64(scoped)/float64(b.N)/float64(full), "ns-scoped-%")
			}
		})
	}
}

// namespaceScoped returns the bytes of the routes of the server's namespace plus the clusters of the server: what
// a change would send if each namespace had its own route configuration.
func namespaceScoped(b *testing.B, h *harness, server string) int {
	snap := h.builder.Snapshot("default")
	rc := snap.Resources[types.Route].Items[translate.RouteConfigName].Resource.(*routev3.RouteConfiguration)
	ns := translate.PathMCP + catalog.Namespace(server) + "/"
	part := &routev3.RouteConfiguration{Name: rc.Name, VirtualHosts: []*routev3.VirtualHost{{Name: "ns", Domains: []string{"*"}}}}
	for _, r := range rc.VirtualHosts[0].Routes {
		if strings.HasPrefix(r.Match.GetPathSeparatedPrefix(), ns) {
			part.VirtualHosts[0].Routes = append(part.VirtualHosts[0].Routes, r)
		}
	}
	size := proto.Size(part)
	for name, c := range snap.Resources[types.Cluster].Items {
		if strings.HasPrefix(name, "mcp|"+server+"|") {
			size += proto.Size(c.Resource)
		}
	}
	return size
}

// BenchmarkFanOut connects 100 ADS clients (state of the world on one stream each, as Envoy does, or delta) from
// a child process over TCP, so that what it measures is the control plane alone: its heap once every client holds
// everything and the streams are quiet (heap-MB, and streams-heap-MB above the heap before the clients came), the
// highest heap while the 100 clients connected at once and received their first push (peak-heap-MB: every stream
// holds its own encoded copy of the responses until the client has read them; admission.go bounds it), the time
// until all 100 hold their first configuration (first-sync-ms, the child process's start included), its CPU per
// change, and the time from a catalog change until every client holds it.
func BenchmarkFanOut(b *testing.B) {
	const clients = 100
	for _, n := range []int{1000, 10000} {
		for _, protocol := range []string{"sotw", "delta"} {
			b.Run(fmt.Sprintf("servers=%d/clients=%d/%s", n, clients, protocol), func(b *testing.B) {
				objs := benchCatalog(n)
				h := newHarness(b, harnessOptions{quietLogs: true, tcp: true}, objs...)
				settleHeap()
				var base runtime.MemStats
				runtime.ReadMemStats(&base)
				first := objs[0].(*catalog.Server)
				peak := samplePeakHeap()
				connect := time.Now()
				fleet := startClients(b, h.addr, clients, protocol, translate.ClusterName(first.Name, first.Versions[0].Version))
				fleet.quiet(b)
				syncTime := time.Since(connect) - quietFor
				peakHeap := peak()
				settleHeap()
				var synced runtime.MemStats
				runtime.ReadMemStats(&synced)
				cpu0 := processCPU()
				var fanout time.Duration
				rev := int64(n + 1)
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					name := fmt.Sprintf("bench/added-%05d", i)
					rev++
					s := &catalog.Server{Name: name, Governance: catalog.Governance{Description: "added"},
						Versions: []catalog.ServerVersion{{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP,
							URL: fmt.Sprintf("https://added-%d.example.com/mcp", i)}}}
					s.Normalize()
					s.Rev = rev
					start := time.Now()
					h.view.Observe(s)
					fleet.waitAll(b, translate.ClusterName(name, "1.0.0"))
					fanout += time.Since(start)
				}
				b.ReportMetric(float64(synced.HeapInuse-min(base.HeapInuse, synced.HeapInuse))/(1<<20), "streams-heap-MB")
				b.ReportMetric(float64(synced.HeapInuse)/(1<<20), "heap-MB")
				b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(syncTime.Milliseconds()), "first-sync-ms")
				b.ReportMetric(float64(fanout.Milliseconds())/float64(b.N), "fanout-ms")
				b.ReportMetric(float64(processCPU()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

// clientFleet is the child process running the ADS clients; it answers "wait <cluster>" with "ok" once every
// client holds the cluster.
type clientFleet struct {
	in  io.Writer
	out *bufio.Scanner
}

func startClients(b *testing.B, addr string, n int, protocol, first string) *clientFleet {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestADSClientsHelper$", "-test.timeout=60m")
	cmd.Env = append(os.Environ(), "MCPGW_XDS_BENCH_ADDR="+addr, "MCPGW_XDS_BENCH_CLIENTS="+strconv.Itoa(n),
		"MCPGW_XDS_BENCH_PROTOCOL="+protocol)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = in.Close()
		_ = cmd.Wait()
	})
	f := &clientFleet{in: in, out: bufio.NewScanner(out)}
	f.waitAll(b, first)
	return f
}

func (f *clientFleet) waitAll(b *testing.B, cluster string) {
	b.Helper()
	f.ask(b, "wait "+cluster)
}

// quiet waits until no client has received anything for quietFor.
func (f *clientFleet) quiet(b *testing.B) {
	b.Helper()
	f.ask(b, "quiet")
}

// quietFor is how long the clients must receive nothing for the fleet to count as quiet.
const quietFor = time.Second

func (f *clientFleet) ask(b *testing.B, cmd string) {
	b.Helper()
	if _, err := fmt.Fprintln(f.in, cmd); err != nil {
		b.Fatal(err)
	}
	for f.out.Scan() {
		switch line := f.out.Text(); {
		case line == "ok":
			return
		case strings.HasPrefix(line, "error"):
			b.Fatal(line)
		}
	}
	b.Fatalf("client process ended: %v", f.out.Err())
}

// TestADSClientsHelper is the child process of BenchmarkFanOut, not a test: without its environment it returns
// at once. It connects the clients, then for each "wait <cluster>" line on stdin prints "ok" once every client
// holds that cluster.
func TestADSClientsHelper(t *testing.T) {
	addr := os.Getenv("MCPGW_XDS_BENCH_ADDR")
	if addr == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv("MCPGW_XDS_BENCH_CLIENTS"))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(256<<20)))
	if err != nil {
		fmt.Println("error", err)
		return
	}
	defer conn.Close()
	h := &harness{conn: conn}
	has := make([]func(string) bool, n)
	changed := make(chan struct{}, 1)
	for i := range n {
		nd := node(fmt.Sprintf("envoy-%03d", i), "default")
		if os.Getenv("MCPGW_XDS_BENCH_PROTOCOL") == "sotw" {
			c := h.ads(t, nd, allTypes...)
			has[i] = func(name string) bool { return c.has(clusterType, name) }
			go forward(c.changed, changed)
		} else {
			d := h.deltaLight(t, nd, allTypes...)
			has[i] = func(name string) bool { return d.has(clusterType, name) }
			go forward(d.changed, changed)
		}
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "quiet" {
			for quiet := time.After(quietFor); quiet != nil; {
				select {
				case <-changed:
					quiet = time.After(quietFor)
				case <-quiet:
					quiet = nil
				}
			}
			fmt.Println("ok")
			continue
		}
		cluster, ok := strings.CutPrefix(in.Text(), "wait ")
		if !ok {
			continue
		}
		deadline := time.After(syncWithin)
		for !all(has, cluster) {
			select {
			case <-changed:
			case <-time.After(50 * time.Millisecond): // a change seen by a client between checks
			case <-deadline:
				fmt.Println("error: clients did not receive", cluster)
				return
			}
		}
		fmt.Println("ok")
	}
}

func forward(from <-chan struct{}, to chan<- struct{}) {
	for range from {
		select {
		case to <- struct{}{}:
		default:
		}
	}
}

func all(has []func(string) bool, name string) bool {
	for _, h := range has {
		if !h(name) {
			return false
		}
	}
	return true
}

// samplePeakHeap samples the heap in use every 10 ms until the returned function is called, which returns the
// highest value seen.
func samplePeakHeap() func() uint64 {
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var peak uint64
		var m runtime.MemStats
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				done <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}

// settleHeap collects twice, so that buffers parked in sync.Pools (gRPC's among them) are released before the
// heap is read.
func settleHeap() {
	runtime.GC()
	runtime.GC()
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
