package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
)

func TestDataSurvivesKill9(t *testing.T) {
	// Invariant: every registration answered 201 is there after the process is killed with SIGKILL and restarted,
	// and the change sequence (the revs) continues after the highest one handed out.
	if testing.Short() {
		t.Skip("starts processes")
	}
	ctx := t.Context()
	dir := t.TempDir()
	p := startServe(t, dir)
	tok := token(t, dir, "alice", "mcpgw-admins")
	const n = 1000
	var wg sync.WaitGroup
	var mu sync.Mutex
	maxRev := int64(0)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var out struct{ Rev int64 }
			if st := call(ctx, t, http.MethodPost, p.base+"/api/v1/servers", tok, serverBody(fmtName(i)), &out); st != http.StatusCreated {
				t.Errorf("register %d: status %d", i, st)
				return
			}
			mu.Lock()
			maxRev = max(maxRev, out.Rev)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	p.done <- nil

	p2 := startServe(t, dir)
	seen := 0
	cursor := ""
	for {
		var page struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		url := p2.base + "/api/v1/servers?limit=500"
		if cursor != "" {
			url += "&cursor=" + cursor
		}
		if st := call(ctx, t, http.MethodGet, url, tok, nil, &page); st != http.StatusOK {
			t.Fatalf("list: %d", st)
		}
		seen += len(page.Items)
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if seen != n {
		t.Fatalf("after kill -9: %d servers, want %d", seen, n)
	}
	var out struct{ Rev int64 }
	if st := call(ctx, t, http.MethodPost, p2.base+"/api/v1/servers", tok, serverBody("crash/after"), &out); st != http.StatusCreated {
		t.Fatalf("register after restart: %d", st)
	}
	if out.Rev <= maxRev {
		t.Fatalf("sequence went back: rev %d after %d", out.Rev, maxRev)
	}
	fmt.Println("revs continue:", maxRev, "->", out.Rev)
}
