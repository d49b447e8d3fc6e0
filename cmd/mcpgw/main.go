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
	iofs "io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/cmd/internal/app"
	"github.com/mcpgw/mcpgw/cmd/internal/version"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "mcpgw:", err)
	}
	os.Exit(exitCode(err))
}

// usageError is a mistake in the command line itself: an unknown command or flag, a flag without its value, a
// stray argument. It exits 2, as Go's flag package does, so scripts can tell it from a bad value or a failure to
// start (1).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// exitCode is the process's exit status for run's error: 0 on success and for -h, 2 for a mistake in the command
// line, 1 for anything else.
func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		return 2
	}
	return 1
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
		return &usageError{errors.New("a command is required")}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(cmd, rest, stdout, stderr, app.Parts{Registry: true, XDS: true, Authz: true})
	case "registry":
		return serve(cmd, rest, stdout, stderr, app.Parts{Registry: true})
	case "xds":
		return serve(cmd, rest, stdout, stderr, app.Parts{XDS: true})
	case "authz":
		return serve(cmd, rest, stdout, stderr, app.Parts{Authz: true})
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
	return &usageError{fmt.Errorf("unknown command %q", cmd)}
}

// summaries are the first line of each command's -h.
var summaries = map[string]string{
	"serve":    "Runs registry, xds and authz in one process.",
	"registry": "Runs the registry: the REST API, catalog, discovery, search and the registry's MCP endpoints.",
	"xds":      "Runs the xDS (ADS) server for Envoy.",
	"authz":    "Runs the ext_authz server for Envoy.",
	"token":    "Prints a token from the development issuer of the mcpgw whose --data-dir is given (and nothing else, so\n$(mcpgw token ...) captures it).",
}

// newFlagSet returns the flag set of one command. It prints nothing itself: parseArgs prints -h to stdout and a
// mistake, with the usage, to stderr.
func newFlagSet(cmd string) *flag.FlagSet {
	fs := flag.NewFlagSet("mcpgw "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

func printUsage(w io.Writer, cmd string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: mcpgw %s [flags]\n\n%s\n\nflags (each also read from MCPGW_<FLAG>, upper case, dashes as underscores; a flag given wins):\n",
		cmd, summaries[cmd])
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// parseArgs parses a command's flags, then fills those not given from MCPGW_* variables. -h prints the usage to
// stdout and returns flag.ErrHelp; a mistake in the command line prints the usage to stderr and returns a
// usageError, whose message main prints last, where it is seen below the list of flags.
func parseArgs(cmd string, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) error {
	err := fs.Parse(args)
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q (mcpgw %s takes only flags)", fs.Arg(0), cmd)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout, cmd, fs)
		return err
	case err != nil:
		printUsage(stderr, cmd, fs)
		return &usageError{fmt.Errorf("%s: %w", cmd, err)}
	}
	// Everything on the command line is parsed; with no arguments left, app.Parse only reads the environment.
	return app.Parse(fs, nil)
}

func serve(cmd string, args []string, stdout, stderr io.Writer, parts app.Parts) error {
	fs := newFlagSet(cmd)
	var cfg app.Config
	cfg.Register(fs)
	if err := parseArgs(cmd, fs, args, stdout, stderr); err != nil {
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
	fs := newFlagSet("token")
	dataDir := fs.String("data-dir", "./data", "data directory of the mcpgw whose development issuer signs the token")
	subject := fs.String("subject", "", "the token's subject (required unless --client is set)")
	groups := fs.String("groups", "", "comma-separated groups")
	scopes := fs.String("scopes", "", "comma-separated scopes")
	client := fs.String("client", "", "issue a machine token for this client id instead of a user token")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	if err := parseArgs("token", fs, args, stdout, stderr); err != nil {
		return err
	}
	if *subject == "" && *client == "" {
		return errors.New("--subject (or --client) is required")
	}
	if *ttl <= 0 || *ttl > 30*24*time.Hour {
		return errors.New("--ttl must be positive and at most 720h")
	}
	// A data directory without a key is most often the wrong one (a relative ./data from another directory, a typo):
	// the key created here signs a token that the running mcpgw rejects with a bare 401. The token is still
	// printed (a key may be created before the first start), and stderr says what happened.
	_, statErr := os.Stat(filepath.Join(*dataDir, identity.DevKeyFile))
	dev, err := identity.LoadOrCreateDevIssuer(*dataDir, identity.DevOptions{})
	if err != nil {
		return err
	}
	if errors.Is(statErr, iofs.ErrNotExist) {
		dir := *dataDir
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		fmt.Fprintf(stderr, "mcpgw token: warning: %s held no development issuer key; a new one was created, and only an "+
			"mcpgw started with --data-dir %s accepts this token\n", dir, dir)
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
