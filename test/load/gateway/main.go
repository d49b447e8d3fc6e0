// Command gateway measures what the gateway path adds to an MCP tool call: the same tools/call (get_balance on the
// sample ledger, through the official Go SDK, stateless revision) made directly against the MCP server and through
// the gateway (the test data plane in place of Envoy, with mcpgw's ext_authz deciding every call on a real token
// and policy, and audit records written), at several numbers of concurrent clients.
//
//	make build && go run ./test/load/gateway                 # 1 and 50 clients, 5 s per target each
//	go run ./test/load/gateway -concurrency 1,8,50 -duration 10s -json
//
// It starts `mcpgw serve` (bin/mcpgw, on the embedded store, with the development issuer), the data plane and the
// sample server on loopback ports, registers the server and a scope through the REST API, then alternates direct and
// gateway rounds so that drift in the machine's load hits both alike. Everything shares the machine's cores: the
// figures are the cost on one host, not a capacity claim.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/test/dataplane"
	"github.com/mcpgw/mcpgw/test/load/internal/mcpgwproc"
	"github.com/mcpgw/mcpgw/test/mcpserver"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gateway benchmark:", err)
		os.Exit(1)
	}
}

type options struct {
	mcpgw       string
	bootstrap   string
	duration    time.Duration
	concurrency []int
	rounds      int
	json        bool
}

func run(args []string) error {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	var o options
	var conc string
	fs.StringVar(&o.mcpgw, "mcpgw", "bin/mcpgw", "the mcpgw binary (make build)")
	fs.StringVar(&o.bootstrap, "bootstrap", "envoy/bootstrap.yaml", "the Envoy bootstrap the data plane reads")
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measuring time per target and concurrency, split over the rounds")
	fs.StringVar(&conc, "concurrency", "1,50", "comma-separated numbers of concurrent clients")
	fs.IntVar(&o.rounds, "rounds", 4, "alternating direct/gateway rounds per concurrency")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, c := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return fmt.Errorf("-concurrency %q: want positive integers", conc)
		}
		o.concurrency = append(o.concurrency, n)
	}
	if o.rounds < 1 || o.duration <= 0 {
		return errors.New("-rounds and -duration must be positive")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env, err := setUp(ctx, o)
	if err != nil {
		return err
	}
	defer env.close()

	var results []result
	for _, c := range o.concurrency {
		r, err := env.measure(ctx, c, o)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	if o.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	fmt.Printf("tools/call get_balance, Go SDK, stateless revision; %s per target and concurrency; %d CPUs, GOMAXPROCS %d\n\n",
		o.duration, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Printf("%-8s %-8s %10s %10s %10s %10s %12s\n", "clients", "target", "calls/s", "mean µs", "p50 µs", "p99 µs", "")
	for _, r := range results {
		for _, s := range []stats{r.Direct, r.Gateway} {
			fmt.Printf("%-8d %-8s %10.0f %10.0f %10.0f %10.0f\n", r.Clients, s.Target, s.PerSecond, s.MeanMicros, s.P50Micros, s.P99Micros)
		}
		fmt.Printf("%-8d %-8s %10s %10.0f %10.0f %10.0f   ratio %.2fx (mean), %.2fx (p50)\n\n", r.Clients, "added", "",
			r.AddedMeanMicros, r.AddedP50Micros, r.AddedP99Micros, r.RatioMean, r.RatioP50)
	}
	return nil
}

// env is the running benchmark setup.
type env struct {
	direct, gateway string // MCP endpoints
	token           string
	proc            *exec.Cmd
	procDone        chan error
	sample          *mcpserver.Server
	dpCancel        context.CancelFunc
	dpDone          chan error
	dataDir         string
	client          *http.Client
}

func setUp(ctx context.Context, o options) (_ *env, err error) {
	e := &env{procDone: make(chan error, 1)}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if _, err := os.Stat(o.mcpgw); err != nil {
		return nil, fmt.Errorf("mcpgw binary %s: %w (run make build)", o.mcpgw, err)
	}
	if e.dataDir, err = os.MkdirTemp("", "mcpgw-bench"); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	addrs := make([]string, 4)
	for i := range addrs {
		if addrs[i], err = mcpgwproc.FreeAddr(); err != nil {
			return nil, err
		}
	}
	httpAddr, xdsAddr, authzAddr, envoyAddr := addrs[0], addrs[1], addrs[2], addrs[3]
	_, envoyPort, _ := net.SplitHostPort(envoyAddr)
	e.gateway = "http://" + envoyAddr
	e.proc = exec.CommandContext(ctx, o.mcpgw, "serve", "--data-dir", e.dataDir, "--http-addr", httpAddr,
		"--xds-addr", xdsAddr, "--authz-addr", authzAddr, "--envoy-port", envoyPort, "--public-url", e.gateway,
		"--log-level", "warn", "--feed-interval", "50ms")
	e.proc.Stdout, e.proc.Stderr = os.Stderr, os.Stderr
	if err := e.proc.Start(); err != nil {
		return nil, fmt.Errorf("start mcpgw: %w", err)
	}
	go func() { e.procDone <- e.proc.Wait() }()
	e.client = &http.Client{Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}}
	if err := waitReady(ctx, e.client, "http://"+httpAddr+"/readyz", e.procDone); err != nil {
		return nil, err
	}

	b, err := dataplane.LoadBootstrap(o.bootstrap)
	if err != nil {
		return nil, err
	}
	for name, addr := range map[string]string{"mcpgw_xds": xdsAddr, "mcpgw_authz": authzAddr, "mcpgw_registry": httpAddr} {
		if err := dataplane.SetClusterAddress(b, name, addr); err != nil {
			return nil, err
		}
	}
	dp, err := dataplane.New(dataplane.Config{Bootstrap: b, BindHost: "127.0.0.1",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return nil, err
	}
	dctx, dcancel := context.WithCancel(ctx)
	e.dpCancel, e.dpDone = dcancel, make(chan error, 1)
	go func() { e.dpDone <- dp.Run(dctx) }()

	if e.sample, err = mcpserver.Start(mcpserver.Ledger(mcpserver.Options{}), "", true, nil); err != nil {
		return nil, err
	}
	e.direct = e.sample.URL

	admin, err := mcpgwproc.Token(o.mcpgw, e.dataDir, "bench-admin", "mcpgw-admins", 2*time.Hour)
	if err != nil {
		return nil, err
	}
	if e.token, err = mcpgwproc.Token(o.mcpgw, e.dataDir, "bench-user", "bench", 2*time.Hour); err != nil {
		return nil, err
	}
	for _, w := range []struct {
		path string
		body any
	}{
		{"/api/v1/servers", map[string]any{"name": "bench/ledger", "description": "benchmark ledger",
			"versions": []map[string]any{{"version": "1.0.0", "transport": "streamable-http", "url": e.direct,
				"tools": []map[string]any{{"name": mcpserver.ToolGetBalance, "description": "balance"}}}}}},
		{"/api/v1/scopes", map[string]any{"name": "bench-read", "grants": []map[string]any{{"server": "bench/ledger",
			"methods": []string{"tools/list", "tools/call"}, "tools": []string{mcpserver.ToolGetBalance}}}}},
		{"/api/v1/group-mappings", map[string]any{"group": "bench", "scopes": []string{"bench-read"}}},
	} {
		if err := post(ctx, e.client, e.gateway+w.path, admin, w.body); err != nil {
			return nil, err
		}
	}
	// The registration reaches the data plane through the change feed, the snapshot and ADS; the scope reaches
	// authz through the feed. Wait until a call goes through.
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := e.session(ctx, e.gateway+"/mcp/bench/ledger")
		if err == nil {
			_, err = call(ctx, s)
			_ = s.Close()
			if err == nil {
				return e, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the gateway never served the benchmark server: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) close() {
	if e.sample != nil {
		_ = e.sample.Close()
	}
	if e.dpCancel != nil {
		e.dpCancel()
		if err := <-e.dpDone; err != nil {
			fmt.Fprintln(os.Stderr, "data plane:", err)
		}
	}
	if e.proc != nil && e.proc.Process != nil {
		_ = e.proc.Process.Signal(os.Interrupt)
		var err error
		select {
		case err = <-e.procDone:
		case <-time.After(10 * time.Second):
			_ = e.proc.Process.Kill()
			err = <-e.procDone
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "mcpgw:", err)
		}
	}
	if e.dataDir != "" {
		_ = os.RemoveAll(e.dataDir)
	}
}

func waitReady(ctx context.Context, c *http.Client, url string, done <-chan error) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			return fmt.Errorf("mcpgw exited: %w", err)
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("mcpgw never became ready")
}

func post(ctx context.Context, c *http.Client, url, token string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(b)))
	if err != nil {
		return fmt.Errorf("post %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("post %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		data, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("post %s: %d %s", url, resp.StatusCode, data)
	}
	return nil
}

type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// session connects a Go SDK client (stateless revision: each call is one POST). Direct calls carry the token too,
// so both targets send the same bytes.
func (e *env) session(ctx context.Context, endpoint string) (*mcp.ClientSession, error) {
	hc := &http.Client{Transport: bearer{token: e.token, next: e.client.Transport}}
	c := mcp.NewClient(&mcp.Implementation{Name: "mcpgw-bench", Version: "1"}, nil)
	s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: hc, MaxRetries: -1},
		&mcp.ClientSessionOptions{ProtocolVersion: "2026-07-28"})
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", endpoint, err)
	}
	return s, nil
}

func call(ctx context.Context, s *mcp.ClientSession) (time.Duration, error) {
	start := time.Now()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: mcpserver.ToolGetBalance, Arguments: map[string]any{"account": "acme-ops"}})
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("call: %w", err)
	}
	if res.IsError {
		return d, fmt.Errorf("call: tool error %v", res.Content)
	}
	return d, nil
}

// stats summarizes the latencies of one target.
type stats struct {
	Target     string  `json:"target"`
	Calls      int     `json:"calls"`
	PerSecond  float64 `json:"calls_per_second"`
	MeanMicros float64 `json:"mean_us"`
	P50Micros  float64 `json:"p50_us"`
	P99Micros  float64 `json:"p99_us"`
}

// result compares the targets at one concurrency.
type result struct {
	Clients         int     `json:"clients"`
	Direct          stats   `json:"direct"`
	Gateway         stats   `json:"gateway"`
	AddedMeanMicros float64 `json:"added_mean_us"`
	AddedP50Micros  float64 `json:"added_p50_us"`
	AddedP99Micros  float64 `json:"added_p99_us"`
	RatioMean       float64 `json:"ratio_mean"`
	RatioP50        float64 `json:"ratio_p50"`
}

// measure runs the rounds at one concurrency: each round runs every client against one target for its share of
// the duration, direct and gateway alternating.
func (e *env) measure(ctx context.Context, clients int, o options) (result, error) {
	targets := map[string]string{"direct": e.direct, "gateway": e.gateway + "/mcp/bench/ledger"}
	sessions := map[string][]*mcp.ClientSession{}
	for name, url := range targets {
		for range clients {
			s, err := e.session(ctx, url)
			if err != nil {
				return result{}, err
			}
			defer s.Close()
			sessions[name] = append(sessions[name], s)
		}
	}
	lat := map[string][]time.Duration{}
	elapsed := map[string]time.Duration{}
	per := o.duration / time.Duration(o.rounds)
	// Warm up both paths (connections, caches) before measuring.
	for _, name := range []string{"direct", "gateway"} {
		if _, _, err := round(ctx, sessions[name], per/4); err != nil {
			return result{}, err
		}
	}
	for i := range o.rounds * 2 {
		name := []string{"direct", "gateway"}[i%2]
		ds, took, err := round(ctx, sessions[name], per)
		if err != nil {
			return result{}, fmt.Errorf("%s round: %w", name, err)
		}
		lat[name] = append(lat[name], ds...)
		elapsed[name] += took
	}
	d, g := summarize("direct", lat["direct"], elapsed["direct"]), summarize("gateway", lat["gateway"], elapsed["gateway"])
	return result{Clients: clients, Direct: d, Gateway: g,
		AddedMeanMicros: g.MeanMicros - d.MeanMicros, AddedP50Micros: g.P50Micros - d.P50Micros,
		AddedP99Micros: g.P99Micros - d.P99Micros, RatioMean: g.MeanMicros / d.MeanMicros, RatioP50: g.P50Micros / d.P50Micros}, nil
}

// round has every session call in a loop for d and returns each call's latency and the round's wall time.
func round(ctx context.Context, sessions []*mcp.ClientSession, d time.Duration) ([]time.Duration, time.Duration, error) {
	var (
		mu   sync.Mutex
		all  []time.Duration
		errs []error
		wg   sync.WaitGroup
	)
	start := time.Now()
	stop := start.Add(d)
	for _, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(stop) {
				took, err := call(ctx, s)
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				mine = append(mine, took)
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, time.Since(start), errors.Join(errs...)
}

func summarize(target string, ds []time.Duration, elapsed time.Duration) stats {
	s := stats{Target: target, Calls: len(ds)}
	if len(ds) == 0 {
		return s
	}
	slices.Sort(ds)
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	s.MeanMicros = us(sum / time.Duration(len(ds)))
	s.P50Micros = us(ds[len(ds)/2])
	s.P99Micros = us(ds[min(len(ds)-1, len(ds)*99/100)])
	s.PerSecond = float64(len(ds)) / elapsed.Seconds()
	return s
}
