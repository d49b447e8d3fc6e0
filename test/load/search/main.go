// Command search measures the registry's search and list endpoints under concurrent load, through the real binary
// over loopback: it registers N servers, N agents and N skills (a synthetic catalog in varied enterprise English),
// waits until every asset has its vectors, then runs closed-loop clients at each concurrency level for a fixed time
// and prints p50/p95/p99 latency, throughput and the server's CPU time per request.
//
//	go run ./test/load/search -n 1000 -duration 10s -levels 1,10,100
//
// It is bounded (fixed duration per level, loopback only, a temporary data directory removed at the end) and it is
// not part of `go test`: the targets (≥ 1,000 rps and p99 < 100 ms at 100 concurrent on 2 cores) are
// measured here, never asserted in a unit test.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/search/eval"
	"github.com/mcpgw/mcpgw/test/load/internal/mcpgwproc"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "search load:", err)
		os.Exit(1)
	}
}

type options struct {
	n        int
	workers  int
	duration time.Duration
	levels   []int
	queries  int
}

func run() error {
	var o options
	var levels string
	flag.IntVar(&o.n, "n", 1000, "servers, agents and skills to register (each)")
	flag.IntVar(&o.workers, "workers", 8, "concurrent registrations while loading")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measuring time per concurrency level (at most 2m)")
	flag.StringVar(&levels, "levels", "1,10,100", "comma-separated numbers of concurrent clients (at most 1000)")
	flag.IntVar(&o.queries, "queries", 500, "distinct search queries the clients cycle through")
	flag.Parse()
	for _, l := range strings.Split(levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil || c < 1 || c > 1000 {
			return fmt.Errorf("-levels: %q is not a number from 1 to 1000", l)
		}
		o.levels = append(o.levels, c)
	}
	if o.n < 1 || o.n > 100000 || o.duration <= 0 || o.duration > 2*time.Minute || o.queries < 1 || o.workers < 1 {
		return errors.New("-n must be 1..100000, -duration positive and at most 2m, -queries and -workers positive")
	}

	tmp, err := os.MkdirTemp("", "mcpgw-search-load")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := mcpgwproc.Build(tmp)
	if err != nil {
		return err
	}
	data := filepath.Join(tmp, "data")
	admin, err := mcpgwproc.Token(bin, data, "bench-admin", "mcpgw-admins", 10*time.Hour)
	if err != nil {
		return err
	}
	user, err := mcpgwproc.Token(bin, data, "bench-user", "", 10*time.Hour)
	if err != nil {
		return err
	}
	p, err := mcpgwproc.Start(bin, "registry", data)
	if err != nil {
		return err
	}
	defer p.Stop()

	objs := eval.Synthetic(o.n, o.n, o.n, 1)
	fmt.Printf("registering %d servers, %d agents and %d skills with %d workers...\n", o.n, o.n, o.n, o.workers)
	t0 := time.Now()
	if err := load(p.Base, admin, objs, o.workers); err != nil {
		return err
	}
	fmt.Printf("registered in %s; ", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	if err := waitIndexed(p.Base, admin, len(objs)); err != nil {
		return err
	}
	fmt.Printf("every asset had its vectors %s later\n", time.Since(t0).Round(time.Millisecond))

	queries := eval.SyntheticQueries(o.queries, 2)
	searchURL := func(i int) string {
		return p.Base + "/api/v1/search?" + url.Values{"q": {queries[i%len(queries)]}, "limit": {"10"}}.Encode()
	}
	kinds := []string{"servers", "agents", "skills"}
	listURL := func(i int) string { return p.Base + "/api/v1/" + kinds[i%3] + "?limit=50" }

	load, _ := loadAvg()
	fmt.Printf("\nmachine: %d CPUs, load average %s before measuring (other processes share the cores)\n\n", nCPU(), load)
	fmt.Println("| endpoint | caller | clients | requests | rps | p50 | p95 | p99 | errors | server CPU/request |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range []struct {
		name, caller, tok string
		url               func(int) string
		levels            []int
	}{
		{"GET /api/v1/search", "user", user, searchURL, o.levels},
		{"GET /api/v1/search", "admin", admin, searchURL, o.levels[len(o.levels)-1:]},
		{"GET /api/v1/{servers,agents,skills}?limit=50", "user", user, listURL, o.levels},
	} {
		for _, conc := range c.levels {
			r, err := measure(p, c.tok, c.url, conc, o.duration)
			if err != nil {
				return err
			}
			fmt.Printf("| %s | %s | %d | %d | %.0f | %s | %s | %s | %d | %.2f ms |\n", c.name, c.caller, conc, r.n, r.rps,
				ms(r.pct(50)), ms(r.pct(95)), ms(r.pct(99)), r.errors, r.cpuPerReq)
		}
	}
	fmt.Printf("\nserver RSS after the run: %.0f MiB\n", float64(mcpgwproc.RSSKiB(p.PID()))/1024)
	return nil
}

// result is one measurement.
type result struct {
	n         int
	errors    int64
	rps       float64
	lat       []time.Duration
	cpuPerReq float64 // server CPU milliseconds per request
}

func (r result) pct(p int) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[min(len(r.lat)-1, len(r.lat)*p/100)]
}

// measure runs conc closed-loop clients for d and collects every latency.
func measure(p *mcpgwproc.Process, tok string, target func(int) string, conc int, d time.Duration) (result, error) {
	tr := &http.Transport{MaxIdleConns: conc, MaxIdleConnsPerHost: conc, IdleConnTimeout: time.Minute}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	// Warm up the connections and the server's caches for a moment, unmeasured.
	warm, cancelWarm := context.WithTimeout(context.Background(), min(d/5, 2*time.Second))
	fire(warm, hc, tok, target, conc, nil, nil)
	cancelWarm()

	cpu0 := mcpgwproc.CPUMillis(p.PID())
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	lats := make([][]time.Duration, conc)
	var errs atomic.Int64
	start := time.Now()
	fire(ctx, hc, tok, target, conc, lats, &errs)
	elapsed := time.Since(start)
	cpu := mcpgwproc.CPUMillis(p.PID()) - cpu0

	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := result{n: len(all), errors: errs.Load(), rps: float64(len(all)) / elapsed.Seconds(), lat: all}
	if len(all) > 0 {
		r.cpuPerReq = cpu / float64(len(all))
	}
	if r.errors > 0 && r.errors*100 > int64(len(all)) {
		return r, fmt.Errorf("%d of %d requests failed", r.errors, len(all))
	}
	return r, nil
}

// fire runs conc clients until ctx ends; when lats is set, client i appends its latencies to lats[i].
func fire(ctx context.Context, hc *http.Client, tok string, target func(int) string, conc int, lats [][]time.Duration,
	errs *atomic.Int64) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target(int(next.Add(1))), nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil && errs != nil {
						errs.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				if resp.StatusCode != http.StatusOK {
					if errs != nil {
						errs.Add(1)
					}
					continue
				}
				if lats != nil {
					lats[i] = append(lats[i], d)
				}
			}
		}()
	}
	wg.Wait()
}

// load registers the objects through the API.
func load(base, tok string, objs []catalog.Object, workers int) error {
	hc := &http.Client{Timeout: 30 * time.Second}
	next := make(chan catalog.Object)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range next {
				body, _ := json.Marshal(o)
				req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/"+string(o.Kind()), bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					errc <- err
					return
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errc <- fmt.Errorf("register %s: %d %s", o.Key(), resp.StatusCode, msg)
					return
				}
			}
		}()
	}
	var err error
feed:
	for _, o := range objs {
		select {
		case next <- o:
		case err = <-errc:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}

// waitIndexed polls the index's status until every asset has vectors.
func waitIndexed(base, tok string, want int) error {
	for t0 := time.Now(); time.Since(t0) < 5*time.Minute; time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/admin/search/status", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var st struct {
			Documents, Missing int
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("search status: %w", err)
		}
		if st.Documents >= want && st.Missing == 0 {
			return nil
		}
	}
	return errors.New("the search index did not catch up within 5 minutes")
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func loadAvg() (string, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown", err
	}
	return strings.Join(strings.Fields(string(b))[:3], " "), nil
}

func nCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\nprocessor") + 1
}
