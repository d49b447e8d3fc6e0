package toolserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/resource"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/search"
	"github.com/mcpgw/mcpgw/registry/toolserver/endpoint"
	"github.com/mcpgw/mcpgw/registry/view"
)

// Path is where the registry mounts the server.
const Path = resource.RegistryToolsPath

// Name is the server's name in the MCP handshake.
const Name = "airegistry-tools"

// ErrOptions reports Options New cannot build a server from.
var ErrOptions = errors.New("invalid airegistry-tools options")

// Catalog is the part of the in-memory view the tools read (view.Catalog implements it).
type Catalog interface {
	Get(kind catalog.Kind, key string) (catalog.Object, bool)
	List(kind catalog.Kind, p view.Page) ([]catalog.Object, bool)
}

// Searcher ranks the assets a caller may see (search.Index implements it).
type Searcher interface {
	Search(ctx context.Context, q search.Query, v search.Visibility) (search.Results, error)
}

// AccessFunc returns what a caller may see (in the registry: access.Control.ForPolicy).
type AccessFunc func(ctx context.Context, p identity.Principal) (search.Visibility, error)

// Options configure the server. Catalog, Search, Access and Principal are required.
type Options struct {
	Catalog Catalog
	Search  Searcher
	Access  AccessFunc
	// Principal returns the caller the registry API authenticated (api.PrincipalFrom).
	Principal endpoint.PrincipalFunc
	// PublicURL is the gateway's public base URL; results name each server's endpoint under it. Empty leaves
	// endpoints out.
	PublicURL string
	// Version is reported in the handshake (the mcpgw build); empty means "dev".
	Version string
	// SessionTimeout closes idle sessions (0: endpoint.DefaultSessionTimeout).
	SessionTimeout time.Duration
	Logger         *slog.Logger
}

// Server is the airegistry-tools MCP server.
type Server struct {
	cat     Catalog
	search  Searcher
	access  AccessFunc
	base    resource.Base
	log     *slog.Logger
	mcp     *mcp.Server
	handler *endpoint.Handler
}

// New builds the server and its HTTP handler.
func New(opts Options) (*Server, error) {
	if opts.Catalog == nil || opts.Search == nil || opts.Access == nil || opts.Principal == nil {
		return nil, fmt.Errorf("build %s: Catalog, Search, Access and Principal are required: %w", Name, ErrOptions)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "toolserver")
	s := &Server{cat: opts.Catalog, search: opts.Search, access: opts.Access, log: log}
	var metadataURL string
	if opts.PublicURL != "" {
		b, err := resource.ParseBase(opts.PublicURL)
		if err != nil {
			return nil, fmt.Errorf("build %s: public URL: %w: %w", Name, ErrOptions, err)
		}
		s.base = b
		metadataURL, _ = b.MetadataURL(resource.KindRegistryTools, "")
	}
	version := opts.Version
	if version == "" {
		version = "dev"
	}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: Name, Title: "mcpgw registry tools", Version: version},
		&mcp.ServerOptions{
			Instructions: "Find MCP servers, tools, A2A agents and agent skills in the mcpgw registry. Start with " +
				"find_tool when you know what you need done, or search_registry for anything else; answers list only " +
				"what your token may see.",
			Capabilities: &mcp.ServerCapabilities{Tools: &mcp.ToolCapabilities{}},
			Logger:       log,
		})
	if err := s.addTools(); err != nil {
		return nil, fmt.Errorf("build %s: %w", Name, err)
	}
	h, err := endpoint.New(func(*http.Request) *mcp.Server { return s.mcp }, endpoint.Options{
		Principal: opts.Principal, SessionTimeout: opts.SessionTimeout, ResourceMetadataURL: metadataURL, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", Name, err)
	}
	s.handler = h
	return s, nil
}

// Handler serves the MCP endpoint; mount it at Path behind the registry's token check.
func (s *Server) Handler() http.Handler { return s.handler }

// caller returns what the caller of req may see. Failures are JSON-RPC errors: the caller is not at fault for an
// engine failure, and its details stay in the log.
func (s *Server) caller(ctx context.Context, req *mcp.CallToolRequest) (search.Visibility, error) {
	p, ok := endpoint.PrincipalOf(req.Extra)
	if !ok {
		return nil, endpoint.Unauthorized()
	}
	v, err := s.access(ctx, p)
	if err != nil {
		s.log.Error("decide visibility", "tool", req.Params.Name, "err", err)
		return nil, &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "the registry cannot decide what you may see; retry later"}
	}
	return v, nil
}

// endpointOf returns the gateway URL of a server the gateway routes to (enabled or deprecated, with a remote
// version), or "": a disabled or security-pending server has no route, and naming one would send a client to a
// server quarantined for its findings.
func (s *Server) endpointOf(srv *catalog.Server) string {
	if s.base.IsZero() || !srv.Routable() || !remote(srv) {
		return ""
	}
	u, err := s.base.ResourceURL(resource.KindServer, srv.Name)
	if err != nil {
		return ""
	}
	return u
}

// remote reports whether the gateway can route to some version of the server.
func remote(srv *catalog.Server) bool {
	for _, v := range srv.Versions {
		if v.Transport != catalog.TransportStdio && !v.Retired {
			return true
		}
	}
	return false
}
