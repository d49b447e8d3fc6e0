// Command foundation measures the registry against the foundation issue's targets, through the real binary over
// loopback: register p50 with N assets stored, list-page-of-500 p50 at N assets, start-up time and RSS at N assets.
//
//	go run ./test/load/foundation -n 10000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/mcpgw/mcpgw/test/load/internal/mcpgwproc"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "foundation:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 10000, "assets to store")
	workers := flag.Int("workers", 8, "concurrent registrations while loading")
	samples := flag.Int("samples", 200, "timed requests per measurement")
	flag.Parse()

	tmp, err := os.MkdirTemp("", "mcpgw-foundation")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := mcpgwproc.Build(tmp)
	if err != nil {
		return err
	}
	data := filepath.Join(tmp, "data")
	tok, err := mcpgwproc.Token(bin, data, "bench", "mcpgw-admins", 10*time.Hour)
	if err != nil {
		return err
	}

	p, err := mcpgwproc.Start(bin, "serve", data)
	if err != nil {
		return err
	}
	fmt.Printf("loading %d servers with %d workers...\n", *n, *workers)
	t0 := time.Now()
	if err := load(p.Base, tok, *n, *workers); err != nil {
		p.Stop()
		return err
	}
	fmt.Printf("loaded in %s (%.0f registrations/s)\n", time.Since(t0).Round(time.Millisecond), float64(*n)/time.Since(t0).Seconds())

	reg := make([]time.Duration, 0, *samples)
	for i := range *samples {
		d, err := timed(http.MethodPost, p.Base+"/api/v1/servers", tok, server(fmt.Sprintf("bench/extra-%05d", i)), http.StatusCreated)
		if err != nil {
			p.Stop()
			return err
		}
		reg = append(reg, d)
	}
	list := make([]time.Duration, 0, *samples)
	cursor := ""
	for range *samples {
		u := p.Base + "/api/v1/servers?limit=500"
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		var page struct {
			NextCursor string `json:"next_cursor"`
		}
		// The latency is the time to receive the whole page; decoding it is the client's cost, not the server's.
		d, body, err := fetch(u, tok)
		if err != nil {
			p.Stop()
			return err
		}
		list = append(list, d)
		if err := json.Unmarshal(body, &page); err != nil {
			p.Stop()
			return err
		}
		cursor = page.NextCursor
	}
	p.Stop()

	// Start-up at N assets: time from exec to /readyz answering 200, and RSS once ready and after a listing.
	p2, err := mcpgwproc.Start(bin, "serve", data)
	if err != nil {
		return err
	}
	var page struct{}
	_ = get(p2.Base+"/api/v1/servers?limit=500", tok, &page)
	rss := mcpgwproc.RSSKiB(p2.PID())
	p2.Stop()

	fmt.Printf("\n| measure (%d servers stored) | value | target |\n|---|---|---|\n", *n)
	fmt.Printf("| register p50 / p99 | %s / %s | p50 < 20 ms |\n", pct(reg, 50), pct(reg, 99))
	fmt.Printf("| list page of 500 p50 / p99 | %s / %s | p50 < 10 ms |\n", pct(list, 50), pct(list, 99))
	fmt.Printf("| start-up to ready | %s | < 5 s |\n", p2.Ready.Round(time.Millisecond))
	fmt.Printf("| RSS after start-up and a listing | %.0f MiB | < 500 MB |\n", float64(rss)/1024)
	return nil
}

func server(name string) map[string]any {
	return map[string]any{"name": name, "title": "Bench " + name, "description": "a server registered by the benchmark",
		"tags": []string{"bench", "load"}, "versions": []map[string]any{{"version": "1.0.0", "transport": "streamable-http",
			"url": "http://127.0.0.1:9/mcp", "tools": []map[string]any{
				{"name": "get_thing", "description": "Read one thing", "inputSchema": map[string]any{"type": "object"}},
				{"name": "put_thing", "description": "Write one thing"}}}}}
}

func load(base, tok string, n, workers int) error {
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if _, err := timed(http.MethodPost, base+"/api/v1/servers", tok, server(fmt.Sprintf("bench/s-%05d", i)), http.StatusCreated); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var err error
loop:
	for i := range n {
		select {
		case next <- i:
		case err = <-errc:
			break loop
		}
	}
	close(next)
	wg.Wait()
	return err
}

var client = &http.Client{Timeout: 30 * time.Second}

func timed(method, url, tok string, body any, want int) (time.Duration, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if resp.StatusCode != want {
		return 0, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, data)
	}
	return d, nil
}

// fetch times one GET until its whole body has arrived.
func fetch(url, tok string) (time.Duration, []byte, error) {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	d := time.Since(t0)
	if err != nil {
		return 0, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, nil, fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return d, body, nil
}

func get(url, tok string, out any) error {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func pct(d []time.Duration, p int) string {
	s := slices.Clone(d)
	slices.Sort(s)
	v := s[min(len(s)-1, len(s)*p/100)]
	return fmt.Sprintf("%.2f ms", float64(v.Microseconds())/1000)
}
