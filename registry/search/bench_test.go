package search_test

import (
	"context"
	"fmt"
	"slices"
	"syscall"
	"testing"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/search"
	"github.com/mcpgw/mcpgw/registry/search/embed"
	"github.com/mcpgw/mcpgw/registry/search/eval"
)

// benchIndex indexes a synthetic catalog of n servers, n agents and n skills with the builtin embedder.
func benchIndex(b *testing.B, n int, opts search.Options) (*search.Index, []catalog.Object) {
	b.Helper()
	objs := eval.Synthetic(n, n, n, 1)
	for i, o := range objs {
		o.Metadata().Rev = int64(i + 1)
	}
	emb, err := embed.NewBuiltin()
	if err != nil {
		b.Fatal(err)
	}
	opts.Embedder = emb
	x, err := search.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = x.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	x.Load(search.Objects(objs))
	if err := x.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	return x, objs
}

// halfVisible sees every other asset of each kind. Like the registry's access sets it is an immutable pointer, so
// the index caches its bitmap.
type halfVisible struct{ keys map[catalog.Kind][]string }

func newHalfVisible(objs []catalog.Object) *halfVisible {
	h := &halfVisible{keys: map[catalog.Kind][]string{}}
	for i, o := range objs {
		if i%2 == 0 {
			h.keys[o.Kind()] = append(h.keys[o.Kind()], o.Key())
		}
	}
	for _, ks := range h.keys {
		slices.Sort(ks)
	}
	return h
}

func (h *halfVisible) Sees(k catalog.Kind, key string) bool {
	_, ok := slices.BinarySearch(h.keys[k], key)
	return ok
}
func (h *halfVisible) Keys(k catalog.Kind) []string {
	if ks := h.keys[k]; ks != nil {
		return ks
	}
	return []string{}
}
func (*halfVisible) Tools(string) func(string) bool { return nil }

// halfTools sees what halfVisible sees and may call half of each server's tools (those whose names have an even
// length): the ranking then counts the callable tools only.
type halfTools struct{ *halfVisible }

func (halfTools) Tools(string) func(string) bool { return func(t string) bool { return len(t)%2 == 0 } }

// noTools sees what halfVisible sees and may call no tool: a caller without grants who sees the public assets.
type noTools struct{ *halfVisible }

func (noTools) Tools(string) func(string) bool { return func(string) bool { return false } }

// BenchmarkSearch is the per-query CPU of the index at the load test's size (1,000 each of servers, agents and
// skills): an unrestricted caller, one who sees half of the catalog, and two who see that half and may call half of the tools, or none.
func BenchmarkSearch(b *testing.B) {
	x, objs := benchIndex(b, 1000, search.Options{})
	queries := eval.SyntheticQueries(500, 2)
	for _, c := range []struct {
		name string
		v    search.Visibility
	}{{"all", search.Everything{}}, {"half", newHalfVisible(objs)}, {"half-tools", halfTools{newHalfVisible(objs)}},
		{"no-tools", noTools{newHalfVisible(objs)}}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			i := 0
			cpu := cpuTime()
			for b.Loop() {
				if _, err := x.Search(ctx, search.Query{Text: queries[i%len(queries)]}, c.v); err != nil {
					b.Fatal(err)
				}
				i++
			}
			// CPU time per query: on a shared machine wall time per op includes waiting for a core.
			b.ReportMetric(float64(cpuTime()-cpu)/float64(i), "cpu-ns/op")
		})
	}
}

// BenchmarkDense compares exact dense search with the HNSW graph at catalog sizes around the default
// ExactBelow, and reports the graph's recall of the exact top ten (recall@10).
func BenchmarkDense(b *testing.B) {
	for _, n := range []int{1000, 3000, 7000} {
		exact, _ := benchIndex(b, n, search.Options{ExactBelow: 1 << 30})
		ann, _ := benchIndex(b, n, search.Options{ExactBelow: 1})
		queries := eval.SyntheticQueries(200, 3)
		ctx := context.Background()
		recall := 0.0
		for _, q := range queries {
			want, _ := exact.Search(ctx, search.Query{Text: q, Types: []search.Type{search.TypeAgent}}, search.Everything{})
			got, _ := ann.Search(ctx, search.Query{Text: q, Types: []search.Type{search.TypeAgent}}, search.Everything{})
			recall += overlap(want.Results, got.Results)
		}
		recall /= float64(len(queries))
		for _, c := range []struct {
			name string
			x    *search.Index
		}{{"exact", exact}, {"hnsw", ann}} {
			b.Run(fmt.Sprintf("docs=%d/%s", 3*n, c.name), func(b *testing.B) {
				i := 0
				for b.Loop() {
					if _, err := c.x.Search(ctx, search.Query{Text: queries[i%len(queries)]}, search.Everything{}); err != nil {
						b.Fatal(err)
					}
					i++
				}
				if c.name == "hnsw" {
					b.ReportMetric(recall, "recall@10")
				}
			})
		}
	}
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func overlap(want, got []search.Result) float64 {
	if len(want) == 0 {
		return 1
	}
	n := 0
	for _, w := range want {
		for _, g := range got {
			if g.Name == w.Name && g.Type == w.Type {
				n++
				break
			}
		}
	}
	return float64(n) / float64(len(want))
}
