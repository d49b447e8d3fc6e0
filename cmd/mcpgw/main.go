// Command mcpgw runs the MCP gateway's control plane and registry.
//
//	mcpgw serve      registry + xds + authz in one process (the laptop and CI path)
//	mcpgw registry   the REST API, catalog and discovery only
//	mcpgw xds        the ADS server for Envoy
//	mcpgw authz      the ext_authz server for Envoy
//	mcpgw token      print a development token
//	mcpgw version    print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/cmd/internal/app"
	"github.com/mcpgw/mcpgw/cmd/internal/version"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "mcpgw:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage: mcpgw <command> [flags]

commands:
  serve      run registry, xds and authz in one process
  registry   run the registry (REST API, catalog, discovery)
  xds        run the xDS (ADS) server for Envoy
  authz      run the ext_authz server for Envoy
  token      print a token from the development issuer
  version    print the version

Run "mcpgw <command> -h" for the flags of a command. Every flag can also be set as MCPGW_<FLAG>
(upper case, dashes as underscores), e.g. MCPGW_DATA_DIR.
`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("a command is required")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(rest, stderr, app.Parts{Registry: true, XDS: true, Authz: true})
	case "registry":
		return serve(rest, stderr, app.Parts{Registry: true})
	case "xds":
		return serve(rest, stderr, app.Parts{XDS: true})
	case "authz":
		return serve(rest, stderr, app.Parts{Authz: true})
	case "token":
		return token(rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "mcpgw", version.String())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

func serve(args []string, stderr io.Writer, parts app.Parts) error {
	fs := flag.NewFlagSet("mcpgw", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg app.Config
	cfg.Register(fs)
	if err := app.Parse(fs, args); err != nil {
		return err
	}
	// Secrets come from the environment only, never from flags (which other users can read in the process list).
	cfg.Embedder.APIKey = os.Getenv("MCPGW_EMBEDDER_API_KEY")
	if err := cfg.Validate(parts); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := app.Logger(&cfg)
	log.Info("starting mcpgw", "version", version.String())
	return app.Run(ctx, &cfg, parts, log)
}

func token(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mcpgw token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "./data", "data directory of the mcpgw whose development issuer signs the token")
	subject := fs.String("subject", "", "the token's subject (required unless --client is set)")
	groups := fs.String("groups", "", "comma-separated groups")
	scopes := fs.String("scopes", "", "comma-separated scopes")
	client := fs.String("client", "", "issue a machine token for this client id instead of a user token")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	if err := app.Parse(fs, args); err != nil {
		return err
	}
	if *subject == "" && *client == "" {
		return errors.New("--subject (or --client) is required")
	}
	if *ttl <= 0 || *ttl > 30*24*time.Hour {
		return errors.New("--ttl must be positive and at most 720h")
	}
	dev, err := identity.LoadOrCreateDevIssuer(*dataDir, identity.DevOptions{})
	if err != nil {
		return err
	}
	var opts []identity.IssueOption
	if s := split(*scopes); len(s) > 0 {
		opts = append(opts, identity.WithScopes(s...))
	}
	sub := *subject
	if *client != "" {
		opts = append(opts, identity.WithClientID(*client))
		if sub == "" {
			sub = *client
		}
	}
	tok, err := dev.Issue(sub, split(*groups), *ttl, opts...)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
