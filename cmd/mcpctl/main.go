// Command mcpctl manages an mcpgw registry from scripts, pipelines and terminals: list, read, register, apply and
// delete servers, agents, skills, custom entities, virtual servers and the access data, manage server versions and
// read the audit trail. It is built on the Go client in registry/client; docs/mcpctl.md documents every command.
//
//	mcpctl [global flags] <resource> <verb> [flags] [arguments]
//	mcpctl servers list -o json
//	mcpctl servers register -f servers.yaml
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/mcpgw/mcpgw/cmd/internal/version"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/client"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		os.Exit(1) // run has printed the error
	}
}

// run executes one mcpctl invocation. Every error is printed to stderr before it is returned.
func run(args []string, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c := &cli{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	return c.run(ctx, args)
}

// Defaults of the global flags.
const (
	defaultServer  = "http://127.0.0.1:8080"
	defaultTimeout = 2 * time.Minute
	// maxTokenFile bounds --token-file: a JWT is a few KiB.
	maxTokenFile = 64 << 10
)

// output formats.
const (
	outTable = "table"
	outJSON  = "json"
	outYAML  = "yaml"
)

// cli is one invocation: its streams, environment and global flags.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	server    string
	token     string
	tokenSet  bool
	tokenFile string
	output    string
	timeout   time.Duration
	// sent is the token the client was built with, to explain a 401.
	sent string
}

// errReported marks an error that has already been printed.
var errReported = errors.New("reported")

// usageError is a mistake in the command line; its command's usage is printed with it.
type usageError struct {
	cmd *command
	msg string
}

func (e *usageError) Error() string { return e.msg }

func usagef(cmd *command, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

func (c *cli) run(ctx context.Context, args []string) error {
	c.server, c.output, c.timeout = defaultServer, outTable, defaultTimeout
	if s := c.getenv("MCPGW_SERVER"); s != "" {
		c.server = s
	}
	root := rootCommand()
	err := c.dispatch(ctx, root, args)
	switch {
	case err == nil, errors.Is(err, errReported):
	case errors.Is(err, flag.ErrHelp):
		return nil
	default:
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(c.stderr, "error: %s\n", clean(ue.msg))
			fmt.Fprintf(c.stderr, "Run '%s -h' for usage.\n", ue.cmd.path)
		} else {
			c.report("", err)
		}
	}
	return err
}

// globalFlags declares the flags every command accepts. They are declared on each flag set the command line passes
// through, as functions, so that a later flag set does not reset what an earlier one parsed.
func (c *cli) globalFlags(fs *flag.FlagSet) {
	fs.Func("server", "registry base `URL` (env MCPGW_SERVER; default "+defaultServer+")", func(s string) error {
		c.server = s
		return nil
	})
	fs.Func("token", "bearer `TOKEN` (env MCPGW_TOKEN)", func(s string) error {
		c.token, c.tokenSet = s, true
		return nil
	})
	fs.Func("token-file", "read the bearer token from `FILE`", func(s string) error {
		c.tokenFile = s
		return nil
	})
	out := func(s string) error {
		switch s {
		case outTable, outJSON, outYAML:
			c.output = s
			return nil
		}
		return errors.New("must be table, json or yaml")
	}
	fs.Func("o", "output `FORMAT`: table, json or yaml (default table)", out)
	fs.Func("output", "output `FORMAT`, same as -o", out)
	fs.Func("timeout", "give up after `DURATION`, e.g. 30s; 0 waits forever (default 2m)", func(s string) error {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return errors.New("must be a non-negative duration such as 30s")
		}
		c.timeout = d
		return nil
	})
}

func isGlobal(name string) bool {
	switch name {
	case "server", "token", "token-file", "o", "output", "timeout":
		return true
	}
	return false
}

// client builds the registry client from the global flags.
func (c *cli) client() (*client.Client, error) {
	token, source := c.token, "--token"
	switch {
	case c.tokenFile != "" && c.tokenSet:
		return nil, errors.New("use --token or --token-file, not both")
	case c.tokenFile != "":
		t, err := readTokenFile(c.tokenFile)
		if err != nil {
			return nil, err
		}
		token, source = t, "--token-file "+c.tokenFile
	case !c.tokenSet:
		token, source = strings.TrimSpace(c.getenv("MCPGW_TOKEN")), "MCPGW_TOKEN"
	}
	// Checked here rather than left to client.New, whose error cannot say where the token came from. A pasted
	// "Authorization: Bearer ..." value is the usual culprit.
	if strings.ContainsFunc(token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return nil, fmt.Errorf("%s: the token must not contain spaces or control characters; give the token alone, without \"Bearer \"", source)
	}
	cl, err := client.New(c.server, client.WithToken(token), client.WithUserAgent("mcpctl/"+firstWord(version.String())))
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	c.sent = token
	return cl, nil
}

func readTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	if len(b) > maxTokenFile {
		return "", fmt.Errorf("read token file: %s is larger than %d bytes", path, maxTokenFile)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", fmt.Errorf("read token file: %s is empty", path)
	}
	return t, nil
}

// serverHasAPIPath reports whether the --server URL already ends in the API's path.
func serverHasAPIPath(server string) bool {
	u, err := url.Parse(server)
	return err == nil && strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/api/v1")
}

// tokenExpiry reads the exp claim of a JWT without verifying it: only to explain why the registry refused it.
func tokenExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp *float64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == nil {
		return time.Time{}, false
	}
	return time.Unix(int64(*claims.Exp), 0), true
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

// report prints an error: a problem from the registry as its title, status and detail with one line per field error,
// anything else as its message. prefix names the object an error is about when a command handles several.
func (c *cli) report(prefix string, err error) {
	var p *client.Error
	if errors.As(err, &p) {
		line := fmt.Sprintf("error: %s%s (%d)", prefix, p.Title, p.Status)
		if p.Detail != "" {
			line += ": " + p.Detail
		}
		fmt.Fprintln(c.stderr, clean(line))
		for _, f := range p.Errors {
			fmt.Fprintf(c.stderr, "  %s: %s\n", clean(f.Field), clean(f.Reason))
		}
		if errors.Is(err, client.ErrUnauthorized) && c.token == "" && c.tokenFile == "" && c.getenv("MCPGW_TOKEN") == "" {
			fmt.Fprintln(c.stderr, "hint: pass --token or --token-file, or set MCPGW_TOKEN")
		} else if p.Status == http.StatusNotFound && serverHasAPIPath(c.server) {
			// A URL copied from curl examples: every path would be /api/v1/api/v1/..., so everything is a 404.
			fmt.Fprintln(c.stderr, "hint: --server is the registry's base URL (http://host:port); mcpctl adds /api/v1 itself")
		} else if exp, ok := tokenExpiry(c.sent); ok && errors.Is(err, client.ErrUnauthorized) && time.Now().After(exp) {
			// The registry says only "not valid" (it does not tell a caller why); an expired token is the usual
			// reason, and the token itself says when it expired.
			fmt.Fprintf(c.stderr, "hint: the token expired at %s; get a new one (mcpgw token prints one for the development issuer)\n",
				exp.UTC().Format(time.RFC3339))
		}
		return
	}
	var ve *catalog.ValidationError
	if errors.As(err, &ve) {
		fmt.Fprintf(c.stderr, "error: %sinvalid argument\n", clean(prefix))
		for _, f := range ve.Fields {
			fmt.Fprintf(c.stderr, "  %s: %s\n", clean(f.Field), clean(f.Reason))
		}
		return
	}
	var ue *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		fmt.Fprintf(c.stderr, "error: %sno answer from the registry at %s within --timeout %s\n", clean(prefix), clean(c.server), c.timeout)
	case errors.As(err, &ue) && !errors.Is(err, context.Canceled):
		// The request never got an HTTP answer: the registry is down, the address is wrong, or TLS failed. The
		// cause (connection refused, no such host, a certificate error) is what to act on; the method and the
		// request URL around it are noise.
		fmt.Fprintf(c.stderr, "error: %scannot reach the registry at %s: %s\n", clean(prefix), clean(c.server), clean(ue.Err.Error()))
		fmt.Fprintln(c.stderr, "hint: is mcpgw running there? Pass --server URL or set MCPGW_SERVER")
	default:
		fmt.Fprintln(c.stderr, "error: "+clean(prefix+err.Error()))
	}
}
