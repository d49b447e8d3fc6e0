// Package app composes mcpgw's parts into processes: `mcpgw serve` runs registry, xds and authz together on one
// store; `mcpgw registry|xds|authz` run one part each. It owns the one Config every part is built from, parsed
// from flags and MCPGW_* environment variables and checked once by Validate.
package app

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/search/embed"
)

// Config is the process configuration.
type Config struct {
	DataDir        string
	MongoURI       string
	HTTPAddr       string
	XDSAddr        string
	AuthzAddr      string
	AdminAddr      string
	PublicURL      string
	Gateway        bool
	IdentityConfig string
	PolicyDir      string
	LogLevel       string
	LogFormat      string
	FeedInterval   time.Duration
	ShutdownGrace  time.Duration
	// AuditRedact is a list of argument key patterns hashed in audit records.
	AuditRedact string
	// Embedder selects the embedding provider of search (embed.Config).
	Embedder embed.Config
	// EnvoyPort is the port of the listener pushed to Envoy.
	EnvoyPort int
	// EnvoyMCPFilter inserts Envoy's MCP filter before ext_authz.
	EnvoyMCPFilter bool
	// DenyUpstreams is a comma-separated list of CIDR prefixes that servers' URLs may not name.
	DenyUpstreams string
}

// defaultAuditRedact are the words of argument keys whose values are hashed in audit records by default.
const defaultAuditRedact = "password,passwd,secret,token,api_key,api-key,apikey,authorization,credential,private_key,private-key,cookie"

// Register declares the flags of cfg on fs. Each flag also reads MCPGW_<NAME> (upper case, dashes as
// underscores) when not given on the command line.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory for the embedded store and the development issuer's key")
	fs.StringVar(&c.MongoURI, "mongodb-uri", "", "MongoDB, DocumentDB or Atlas URI; empty runs the embedded store under --data-dir")
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8080", "registry REST API and MCP endpoints listen address")
	fs.StringVar(&c.XDSAddr, "xds-addr", "127.0.0.1:18000", "xDS (ADS) gRPC listen address")
	fs.StringVar(&c.AuthzAddr, "authz-addr", "127.0.0.1:9191", "ext_authz gRPC listen address")
	fs.StringVar(&c.AdminAddr, "admin-addr", "127.0.0.1:9102", "listen address of the health, readiness and metrics endpoints of mcpgw xds and mcpgw authz (the registry serves them on --http-addr)")
	fs.StringVar(&c.PublicURL, "public-url", "", "the gateway's public base URL, used in OAuth resource metadata (default http://<http-addr>)")
	fs.BoolVar(&c.Gateway, "gateway", true, "run the gateway parts (xds and authz); false runs the registry only")
	fs.StringVar(&c.IdentityConfig, "identity-config", "", "YAML file of trusted OIDC issuers (docs/identity.md); empty uses the development issuer")
	fs.StringVar(&c.PolicyDir, "policy-dir", "", "directory of .rego files overriding the embedded policy (hot-reloaded)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.DurationVar(&c.FeedInterval, "feed-interval", 200*time.Millisecond, "how often the change feed is polled")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", 10*time.Second, "how long in-flight requests may take at shutdown")
	fs.StringVar(&c.AuditRedact, "audit-redact", defaultAuditRedact,
		"comma-separated words: the values of argument keys containing one (any case, at any depth) are hashed in audit records")
	fs.StringVar(&c.Embedder.Provider, "embedder", "builtin", "search embeddings: builtin (offline, in the binary), openai (any OpenAI-compatible /v1/embeddings), ollama or bedrock; the API key comes from MCPGW_EMBEDDER_API_KEY")
	fs.StringVar(&c.Embedder.BaseURL, "embedder-url", "", "base URL of the embedding provider (openai, ollama; a bedrock endpoint override)")
	fs.StringVar(&c.Embedder.Model, "embedder-model", "", "embedding model name (provider default when empty)")
	fs.IntVar(&c.Embedder.Dimensions, "embedder-dimensions", 0, "requested embedding size for models that support it (0: the model's default)")
	fs.StringVar(&c.Embedder.Region, "embedder-region", "", "AWS region for bedrock (default: from the AWS configuration)")
	fs.StringVar(&c.Embedder.QueryPrefix, "embedder-query-prefix", "", "text prepended to queries (asymmetric models, e.g. \"search_query: \")")
	fs.StringVar(&c.Embedder.DocumentPrefix, "embedder-document-prefix", "", "text prepended to indexed documents (e.g. \"search_document: \")")
	fs.IntVar(&c.EnvoyPort, "envoy-port", 10000, "port of the MCP listener pushed to Envoy")
	fs.BoolVar(&c.EnvoyMCPFilter, "envoy-mcp-filter", false, "insert Envoy's MCP filter (envoy.filters.http.mcp) before ext_authz")
	fs.StringVar(&c.DenyUpstreams, "deny-upstreams", strings.Join(catalog.DefaultDeniedUpstreams, ","),
		"comma-separated CIDR prefixes a server's url, endpoints and token_url may not name (add 127.0.0.0/8,::1/128 where upstreams are never local; empty allows all)")
}

// Parse parses args into fs, then fills unset flags from the environment.
func Parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] {
			return
		}
		env := "MCPGW_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

// Validate checks the configuration once, before anything starts.
func (c *Config) Validate(parts Parts) error {
	var errs []error
	if c.MongoURI == "" && c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required when --mongodb-uri is not set"))
	}
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		errs = append(errs, errors.New("--mongodb-uri must start with mongodb:// or mongodb+srv://"))
	}
	check := func(name, addr string) {
		if addr == "" {
			return // not opened: the caller serves the handler itself (tests)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("--%s %q is not host:port", name, addr))
		}
	}
	if parts.Registry {
		check("http-addr", c.HTTPAddr)
	}
	if parts.XDS {
		check("xds-addr", c.XDSAddr)
	}
	if parts.Authz {
		check("authz-addr", c.AuthzAddr)
	}
	if c.PolicyDir != "" {
		// Checked here so that a typo fails before the store is opened, with the flag's name.
		if fi, err := os.Stat(c.PolicyDir); err != nil || !fi.IsDir() {
			errs = append(errs, fmt.Errorf("--policy-dir %q is not a readable directory", c.PolicyDir))
		}
	}
	if _, err := catalog.NewUpstreamPolicy(strings.Split(c.DenyUpstreams, ",")); err != nil {
		errs = append(errs, fmt.Errorf("--deny-upstreams: %w", err))
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("--public-url %q must be an absolute http(s) URL", c.PublicURL))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level %q must be debug, info, warn or error", c.LogLevel))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q must be text or json", c.LogFormat))
	}
	if c.FeedInterval < 10*time.Millisecond {
		errs = append(errs, errors.New("--feed-interval must be at least 10ms"))
	}
	if err := c.Embedder.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("--embedder: %w", err))
	}
	if c.EnvoyPort < 1 || c.EnvoyPort > 65535 {
		errs = append(errs, errors.New("--envoy-port must be between 1 and 65535"))
	}
	return errors.Join(errs...)
}

// Public returns the public base URL.
func (c *Config) Public() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	if c.HTTPAddr == "" {
		return "http://localhost" // the caller serves the handler (tests); nothing better is known
	}
	return "http://" + c.HTTPAddr
}
