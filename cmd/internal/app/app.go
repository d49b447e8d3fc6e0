package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/policy"
	"github.com/mcpgw/mcpgw/registry/access"
	"github.com/mcpgw/mcpgw/registry/api"
	"github.com/mcpgw/mcpgw/registry/feed"
	"github.com/mcpgw/mcpgw/registry/registrar"
	"github.com/mcpgw/mcpgw/registry/store/mongo"
	"github.com/mcpgw/mcpgw/registry/view"
)

// Parts selects which parts a process runs.
type Parts struct {
	Registry, XDS, Authz bool
}

// Logger builds the process logger from the configuration.
func Logger(cfg *Config) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lv}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// listen opens a listener early, so that a port in use fails the start with a clear message.
func listen(flagName, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && strings.Contains(strings.ToLower(op.Err.Error()), "address already in use") {
			return nil, fmt.Errorf("--%s %s: the address is already in use", flagName, addr)
		}
		return nil, fmt.Errorf("--%s %s: %w", flagName, addr, err)
	}
	return l, nil
}

// Run starts the selected parts and blocks until ctx ends or one part fails.
func Run(ctx context.Context, cfg *Config, parts Parts, log *slog.Logger) error {
	if err := cfg.Validate(parts); err != nil {
		return err
	}
	if !cfg.Gateway {
		parts.XDS, parts.Authz = false, false
	}
	var httpL net.Listener
	if parts.Registry {
		l, err := listen("http-addr", cfg.HTTPAddr)
		if err != nil {
			return err
		}
		defer l.Close()
		httpL = l
	}
	if cfg.MongoURI == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
	}

	started := time.Now()
	store, err := mongo.Open(ctx, mongo.Config{URI: cfg.MongoURI, DataDir: cfg.DataDir, Logger: log})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer func() { _ = store.Close(context.WithoutCancel(ctx)) }()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	engine, err := policy.New(ctx, policy.Options{Dir: cfg.PolicyDir, Logger: log})
	if err != nil {
		return fmt.Errorf("load policy: %w", err)
	}
	cat := view.New(store, log)
	ctl := access.New(engine, cat, access.Options{Logger: log})
	cat.AddListener(ctl.Listener(ctx))
	pos, err := cat.Load(ctx)
	if err != nil {
		return err
	}
	if err := ctl.Sync(ctx); err != nil {
		return err
	}
	tailer := feed.New(store, cat, pos, feed.Options{Interval: cfg.FeedInterval, Reconcile: 5 * time.Minute, Logger: log})

	verifier, dev, err := buildIdentity(cfg, log)
	if err != nil {
		return err
	}
	batcher, err := buildAudit(cfg, store, log)
	if err != nil {
		return err
	}
	rg, err := registrar.New(store, cat, registrar.Options{
		Gate: access.Gate{Engine: engine}, Auditor: batcher, Logger: log,
		BuiltinScopes: []string{policy.DefaultAdminScope},
	})
	if err != nil {
		return err
	}
	log.Info("catalog loaded", "servers", cat.Len("servers"), "agents", cat.Len("agents"), "skills", cat.Len("skills"),
		"position", pos, "embedded_store", store.Embedded(), "took", time.Since(started).Round(time.Millisecond))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return tailer.Run(gctx) })
	g.Go(func() error { return verifier.Run(gctx) })
	g.Go(func() error { return engine.Run(gctx) })
	g.Go(func() error { return batcher.Run(gctx) })

	if parts.Registry {
		var jwks []byte
		if dev != nil {
			jwks = dev.JWKS()
		}
		srv, err := api.New(api.Options{
			View: cat, Registrar: rg, Auth: verifier, JWKS: jwks, Logger: log,
			Access: api.AccessFunc(func(ctx context.Context, p identity.Principal) (api.Visible, error) {
				return ctl.ForPolicy(ctx, access.PolicyPrincipal(p))
			}),
			Ready: store.Ping,
			Audit: store,
			Mounts: []api.Mount{
				{Path: "/metrics", Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), Public: true},
			},
		})
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
		g.Go(func() error {
			log.Info("registry listening", "addr", httpL.Addr().String(), "public_url", cfg.Public())
			if err := hs.Serve(httpL); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("serve http: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), cfg.ShutdownGrace)
			defer cancel()
			return hs.Shutdown(sctx)
		})
	}
	err = g.Wait()
	log.Info("stopped")
	return err
}

// buildIdentity returns the token verifier: the configured issuers, or the development issuer when none is.
func buildIdentity(cfg *Config, log *slog.Logger) (*identity.Verifier, *identity.DevIssuer, error) {
	var icfg identity.Config
	var dev *identity.DevIssuer
	if cfg.IdentityConfig != "" {
		c, err := identity.LoadConfig(cfg.IdentityConfig)
		if err != nil {
			return nil, nil, fmt.Errorf("load --identity-config: %w", err)
		}
		icfg = c
	} else {
		if cfg.DataDir == "" {
			return nil, nil, errors.New("the development issuer needs --data-dir (or set --identity-config)")
		}
		d, err := identity.LoadOrCreateDevIssuer(cfg.DataDir, identity.DevOptions{Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("development issuer: %w", err)
		}
		dev = d
		icfg.Issuers = append(icfg.Issuers, d.IssuerConfig())
		log.Warn("using the development token issuer: for local use only; configure --identity-config in production")
	}
	v, err := identity.NewVerifier(icfg, identity.Options{Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("identity: %w", err)
	}
	return v, dev, nil
}

// buildAudit returns the audit pipeline writing to the store. The HMAC key for hashed arguments comes from the data
// directory (created once) or MCPGW_AUDIT_HASH_KEY, so hashes stay comparable across restarts.
func buildAudit(cfg *Config, sink audit.Sink, log *slog.Logger) (*audit.Batcher, error) {
	key, err := auditKey(cfg)
	if err != nil {
		return nil, err
	}
	rc := audit.RedactConfig{HashKey: key, MaxStringBytes: 4096}
	for _, k := range strings.Split(cfg.AuditRedact, ",") {
		if k = strings.TrimSpace(k); k != "" {
			rc.Rules = append(rc.Rules, audit.Rule{Key: "*" + k + "*", Action: audit.ActionHash})
		}
	}
	red, err := audit.NewRedactor(rc)
	if err != nil {
		return nil, fmt.Errorf("--audit-redact: %w", err)
	}
	return audit.NewBatcher(sink, audit.BatcherConfig{Redactor: red}, log)
}

func auditKey(cfg *Config) ([]byte, error) {
	if k := os.Getenv("MCPGW_AUDIT_HASH_KEY"); k != "" {
		if len(k) < audit.MinHashKeyBytes {
			return nil, fmt.Errorf("MCPGW_AUDIT_HASH_KEY must be at least %d bytes", audit.MinHashKeyBytes)
		}
		return []byte(k), nil
	}
	if cfg.DataDir == "" {
		return nil, errors.New("set MCPGW_AUDIT_HASH_KEY (or --data-dir) for audit argument hashing")
	}
	path := filepath.Join(cfg.DataDir, "audit-hash.key")
	if b, err := os.ReadFile(path); err == nil && len(b) >= audit.MinHashKeyBytes {
		return b, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// Write a temporary file and link it into place: the link fails if another process won the race, and then
	// both use the winner's key.
	f, err := os.CreateTemp(cfg.DataDir, "audit-hash.key.*")
	if err != nil {
		return nil, fmt.Errorf("write audit hash key: %w", err)
	}
	defer os.Remove(f.Name())
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("write audit hash key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write audit hash key: %w", err)
	}
	if err := os.Link(f.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("write audit hash key: %w", err)
	}
	return os.ReadFile(path)
}
