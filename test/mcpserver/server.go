package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Path is where a started server serves MCP.
const Path = "/mcp"

// Handler serves s over Streamable HTTP. stateless selects the 2026-07-28 revision (no sessions, server/discover,
// every request on its own); otherwise the server keeps sessions (Mcp-Session-Id), as revisions up to 2025-11-25
// require, and answers a 2026-07-28 server/discover with the versions it supports so new clients fall back.
func Handler(s *mcp.Server, stateless bool, log *slog.Logger) http.Handler {
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: stateless, Logger: log})
}

// Seen is what a server observed of one HTTP request: the MCP headers and the identity headers the gateway sets.
type Seen struct {
	Method          string // HTTP method
	Path            string
	MCPMethod       string // Mcp-Method
	MCPName         string // Mcp-Name
	ProtocolVersion string // MCP-Protocol-Version
	SessionID       string // Mcp-Session-Id
	Subject         string // x-mcpgw-subject
	ClientID        string // x-mcpgw-client-id
	DecisionID      string // x-mcpgw-decision-id
	Authorization   bool   // whether an Authorization header arrived
}

// Server is a sample MCP server serving on a loopback port.
type Server struct {
	// URL is the MCP endpoint, http://127.0.0.1:<port>/mcp.
	URL string
	// Addr is the listen address, 127.0.0.1:<port>.
	Addr string

	hs   *http.Server
	done chan error

	mu   sync.Mutex
	seen []Seen
}

// Start serves s on addr (":0" style addresses pick a free port; empty means 127.0.0.1:0) until Close.
func Start(s *mcp.Server, addr string, stateless bool, log *slog.Logger) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &Server{Addr: l.Addr().String(), done: make(chan error, 1)}
	srv.URL = "http://" + srv.Addr + Path
	mux := http.NewServeMux()
	mux.Handle(Path, srv.record(Handler(s, stateless, log)))
	srv.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		err := srv.hs.Serve(l)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		srv.done <- err
	}()
	return srv, nil
}

// record notes the headers of every request before serving it.
func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header
		s.mu.Lock()
		s.seen = append(s.seen, Seen{
			Method: r.Method, Path: r.URL.Path,
			MCPMethod: h.Get("Mcp-Method"), MCPName: h.Get("Mcp-Name"), ProtocolVersion: h.Get("Mcp-Protocol-Version"),
			SessionID: h.Get("Mcp-Session-Id"), Subject: h.Get("X-Mcpgw-Subject"), ClientID: h.Get("X-Mcpgw-Client-Id"),
			DecisionID: h.Get("X-Mcpgw-Decision-Id"), Authorization: h.Get("Authorization") != "",
		})
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// Seen returns what the server observed so far, oldest first.
func (s *Server) Seen() []Seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Seen(nil), s.seen...)
}

// Close stops the server; open SSE streams are cut.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.hs.Shutdown(ctx); err != nil {
		_ = s.hs.Close()
	}
	return <-s.done
}

// CallResult is the outcome of a tool call made with CallAsync.
type CallResult struct {
	Res *mcp.CallToolResult
	Err error
}

// CallAsync calls a tool on its own goroutine and delivers the outcome on the returned channel, so that a test can
// watch what arrives while the call runs (progress notifications, a stream that must not be buffered).
func CallAsync(ctx context.Context, cs *mcp.ClientSession, p *mcp.CallToolParams) <-chan CallResult {
	done := make(chan CallResult, 1)
	go func() {
		res, err := cs.CallTool(ctx, p)
		done <- CallResult{res, err}
	}()
	return done
}
