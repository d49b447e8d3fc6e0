package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// proc is a running mcpgw.
type proc struct {
	cmd  *exec.Cmd
	base string
	out  *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServe runs `mcpgw serve` on free loopback ports and waits until /readyz answers 200.
func startServe(t *testing.T, dataDir string, extra ...string) *proc {
	t.Helper()
	return runServe(t, dataDir, freeAddr(t), append([]string{"--xds-addr", freeAddr(t), "--authz-addr", freeAddr(t)}, extra...)...)
}

// token prints a development token with the CLI, as a user would.
func token(t *testing.T, dataDir, subject string, groups ...string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(bin, "mcpgw"), "token", "--data-dir", dataDir, "--subject", subject,
		"--groups", strings.Join(groups, ",")).Output()
	if err != nil {
		t.Fatalf("mcpgw token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// call sends a JSON request and decodes a JSON answer into out (when not nil); it returns the status.
func call(ctx context.Context, t testing.TB, method, url, tok string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, url, data, err)
		}
	}
	return resp.StatusCode
}

func serverBody(name string) map[string]any {
	return map[string]any{
		"name": name, "title": "Server " + name, "description": "a test server", "tags": []string{"e2e"},
		"versions": []map[string]any{{"version": "1.0.0", "transport": "streamable-http", "url": "http://127.0.0.1:9/mcp",
			"tools": []map[string]any{{"name": "t", "description": "a tool"}}}},
	}
}

func fmtName(i int) string { return fmt.Sprintf("crash/s%04d", i) }
