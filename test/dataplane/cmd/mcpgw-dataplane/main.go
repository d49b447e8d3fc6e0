// Command mcpgw-dataplane runs the test data plane (package test/dataplane) against a running mcpgw, for trying the
// gateway path by hand where Envoy is not available:
//
//	go run ./test/dataplane/cmd/mcpgw-dataplane --bootstrap envoy/bootstrap.yaml
//
// It reads the same bootstrap Envoy would. It is a test fixture: use Envoy in any real deployment.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mcpgw/mcpgw/test/dataplane"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mcpgw-dataplane:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mcpgw-dataplane", flag.ContinueOnError)
	path := fs.String("bootstrap", "envoy/bootstrap.yaml", "Envoy v3 bootstrap file")
	bind := fs.String("bind-host", "", "bind listeners on this host instead of their configured address (e.g. 127.0.0.1)")
	var overrides multiFlag
	fs.Var(&overrides, "cluster", "override a static cluster's address: name=host:port (repeatable)")
	debug := fs.Bool("debug", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := dataplane.LoadBootstrap(*path)
	if err != nil {
		return err
	}
	for _, o := range overrides {
		name, addr, ok := strings.Cut(o, "=")
		if !ok {
			return fmt.Errorf("--cluster %q: want name=host:port", o)
		}
		if err := dataplane.SetClusterAddress(b, name, addr); err != nil {
			return err
		}
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	d, err := dataplane.New(dataplane.Config{Bootstrap: b, BindHost: *bind, AccessLog: os.Stdout, Logger: log})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return d.Run(ctx)
}

type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }

func (m *multiFlag) Set(v string) error {
	*m = append(*m, v)
	return nil
}
