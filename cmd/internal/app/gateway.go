package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/mcpgw/mcpgw/authz/extauthz"
	"github.com/mcpgw/mcpgw/authz/resource"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/view"
	"github.com/mcpgw/mcpgw/xds"
)

// routeLookup resolves an ext_authz target from the in-memory view.
func routeLookup(cat *view.Catalog) extauthz.CatalogFunc {
	return func(_ context.Context, kind, server, version string) (extauthz.Route, error) {
		switch kind {
		case resource.KindRegistryTools:
			// The registry authenticates the token itself and filters by visibility: it needs the header.
			return extauthz.Route{ForwardAuthorization: true}, nil
		case resource.KindVirtual:
			o, ok := cat.Get(catalog.KindVirtualServer, server)
			if !ok || !routable(o.(*catalog.VirtualServer).Status) {
				return extauthz.Route{}, fmt.Errorf("virtual server %q: %w", server, extauthz.ErrUnknownTarget)
			}
			// The registry serves virtual servers: it verifies the caller's token itself, decides per tool and
			// never passes the token on to the upstreams.
			return extauthz.Route{ForwardAuthorization: true}, nil
		case resource.KindServer, "":
		default:
			return extauthz.Route{}, fmt.Errorf("route kind %q: %w", kind, extauthz.ErrUnknownTarget)
		}
		o, ok := cat.Get(catalog.KindServer, server)
		if !ok || !o.(*catalog.Server).Routable() {
			return extauthz.Route{}, fmt.Errorf("server %q: %w", server, extauthz.ErrUnknownTarget)
		}
		s := o.(*catalog.Server)
		v := s.DefaultVersion()
		if version != "" {
			v = s.Version(version)
		}
		switch {
		case v == nil || v.Transport == catalog.TransportStdio:
			return extauthz.Route{}, fmt.Errorf("server %q version %q: %w", server, version, extauthz.ErrUnknownTarget)
		case v.Retired:
			return extauthz.Route{}, fmt.Errorf("server %q version %q: %w", server, v.Version, extauthz.ErrRetired)
		}
		return extauthz.Route{Version: v.Version, ForwardAuthorization: v.ForwardAuthorization}, nil
	}
}

func routable(s catalog.Status) bool {
	return s == catalog.StatusEnabled || s == catalog.StatusDeprecated
}

// resourceLookup tells the RFC 9728 handler which protected resources exist.
func resourceLookup(cat *view.Catalog) resource.Lookup {
	return func(_ context.Context, kind, name string) (string, bool, error) {
		switch kind {
		case resource.KindServer:
			if o, ok := cat.Get(catalog.KindServer, name); ok {
				s := o.(*catalog.Server)
				return firstNonEmpty(s.Title, s.Name), true, nil
			}
		case resource.KindVirtual:
			if o, ok := cat.Get(catalog.KindVirtualServer, name); ok {
				v := o.(*catalog.VirtualServer)
				return firstNonEmpty(v.Title, v.Name), true, nil
			}
		case resource.KindRegistryTools:
			return "mcpgw registry tools", true, nil
		}
		return "", false, nil
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// buildXDS prepares the ADS server; it serves on lis when run.
func (a *App) buildXDS() error {
	cfg := xds.DefaultConfig()
	cfg.Address = a.cfg.XDSAddr
	cfg.Envoy.ListenerPort = uint32(a.cfg.EnvoyPort)
	cfg.Envoy.MCPFilter = a.cfg.EnvoyMCPFilter
	cp, err := xds.New(cfg, a.View, a.log, a.Metrics)
	if err != nil {
		return fmt.Errorf("xds: %w", err)
	}
	a.XDS = cp
	if a.cfg.XDSAddr == "" {
		return nil
	}
	l, err := listen("xds-addr", a.cfg.XDSAddr)
	if err != nil {
		return err
	}
	a.listeners = append(a.listeners, l)
	a.runners = append(a.runners, func(ctx context.Context) error {
		a.log.Info("xds listening", "addr", l.Addr().String())
		return cp.Serve(ctx, l)
	})
	return nil
}

// buildAuthz prepares the ext_authz gRPC server.
func (a *App) buildAuthz() error {
	srv, err := extauthz.New(extauthz.Config{PublicBaseURL: a.cfg.Public()}, extauthz.Deps{
		Verifier: a.Verifier, Decider: a.Policy, Auditor: a.Audit, Catalog: routeLookup(a.View), Logger: a.log,
	})
	if err != nil {
		return fmt.Errorf("authz: %w", err)
	}
	a.Authz = srv
	if a.cfg.AuthzAddr == "" {
		return nil
	}
	l, err := listen("authz-addr", a.cfg.AuthzAddr)
	if err != nil {
		return err
	}
	a.listeners = append(a.listeners, l)
	gs := grpc.NewServer(
		// Envoy keeps its ext_authz connections open; ping idle ones so dead peers are noticed.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	srv.Register(gs)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	a.runners = append(a.runners, func(ctx context.Context) error {
		a.log.Info("authz listening", "addr", l.Addr().String())
		errc := make(chan error, 1)
		go func() { errc <- gs.Serve(l) }()
		select {
		case err := <-errc:
			if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				return fmt.Errorf("serve authz: %w", err)
			}
			return nil
		case <-ctx.Done():
		}
		hs.Shutdown()
		done := make(chan struct{})
		go func() { gs.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(a.cfg.ShutdownGrace):
			gs.Stop()
		}
		return nil
	})
	return nil
}
