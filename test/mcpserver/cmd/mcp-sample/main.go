// Command mcp-sample serves one of mcpgw's sample MCP servers (package test/mcpserver) over Streamable HTTP, for
// trying the gateway by hand:
//
//	go run ./test/mcpserver/cmd/mcp-sample --server ledger --addr 127.0.0.1:9000
//
// The endpoint is http://<addr>/mcp. --stateless serves the 2026-07-28 revision (no sessions).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/test/mcpserver"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mcp-sample:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mcp-sample", flag.ContinueOnError)
	name := fs.String("server", "ledger", "which sample server: ledger or hr")
	addr := fs.String("addr", "127.0.0.1:9000", "listen address")
	stateless := fs.Bool("stateless", false, "serve the stateless 2026-07-28 revision (no sessions)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var s *mcp.Server
	switch *name {
	case "ledger":
		s = mcpserver.Ledger(mcpserver.Options{})
	case "hr":
		s = mcpserver.HR()
	default:
		return fmt.Errorf("--server %q: want ledger or hr", *name)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "mcp-sample")
	srv, err := mcpserver.Start(s, *addr, *stateless, log)
	if err != nil {
		return err
	}
	log.Info("serving", "server", *name, "url", srv.URL, "stateless", *stateless)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return srv.Close()
}
