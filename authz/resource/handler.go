package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Config is what every metadata document says besides the resource itself.
type Config struct {
	// PublicBaseURL is the gateway's public base URL (see ParseBase); required.
	PublicBaseURL string `json:"publicBaseURL" yaml:"publicBaseURL"`
	// AuthorizationServers are the issuer identifiers of the OAuth authorization servers whose tokens the gateway
	// accepts (RFC 8414 issuer URLs: absolute http(s) URLs without query or fragment). The MCP authorization
	// specification needs at least one for a client to start OAuth; an empty list publishes none, which suits only
	// a development setup whose tokens come from `mcpgw token`.
	AuthorizationServers []string `json:"authorizationServers,omitempty" yaml:"authorizationServers,omitempty"`
	// ScopesSupported are the scopes published as scopes_supported (RFC 6749 scope tokens); optional.
	ScopesSupported []string `json:"scopesSupported,omitempty" yaml:"scopesSupported,omitempty"`
	// ResourceName names the gateway as a whole (the root document's resource_name); default DefaultResourceName.
	ResourceName string `json:"resourceName,omitempty" yaml:"resourceName,omitempty"`
	// ResourceDocumentation is an optional absolute URL of human-readable documentation for developers.
	ResourceDocumentation string `json:"resourceDocumentation,omitempty" yaml:"resourceDocumentation,omitempty"`
}

// DefaultResourceName is Config.ResourceName when it is empty.
const DefaultResourceName = "mcpgw gateway"

// Validate checks the configuration once, at start, and reports every problem; each error matches
// ErrInvalidConfig.
func (c Config) Validate() error {
	var errs []error
	if _, err := ParseBase(c.PublicBaseURL); err != nil {
		errs = append(errs, err)
	}
	for i, as := range c.AuthorizationServers {
		if err := checkIssuerURL(as); err != nil {
			errs = append(errs, fmt.Errorf("check authorization server #%d %q: %w: %w", i, as, ErrInvalidConfig, err))
		}
		if slices.Contains(c.AuthorizationServers[:i], as) {
			errs = append(errs, fmt.Errorf("check authorization server #%d %q: listed twice: %w", i, as, ErrInvalidConfig))
		}
	}
	for i, s := range c.ScopesSupported {
		if !scopeToken(s) {
			errs = append(errs, fmt.Errorf("check scope #%d %q: not an RFC 6749 scope token: %w", i, s, ErrInvalidConfig))
		}
		if slices.Contains(c.ScopesSupported[:i], s) {
			errs = append(errs, fmt.Errorf("check scope #%d %q: listed twice: %w", i, s, ErrInvalidConfig))
		}
	}
	if c.ResourceDocumentation != "" {
		if u, err := url.Parse(c.ResourceDocumentation); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("check resource documentation %q: want an absolute http(s) URL: %w",
				c.ResourceDocumentation, ErrInvalidConfig))
		}
	}
	return errors.Join(errs...)
}

func checkIssuerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return errors.New("want an absolute http(s) URL")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("user info, query and fragment are not allowed in an issuer")
	}
	return nil
}

// scopeToken reports whether s is a scope-token of RFC 6749 §3.3: one or more of %x21 / %x23-5B / %x5D-7E.
func scopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Metadata is the RFC 9728 protected resource metadata document.
type Metadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers,omitempty"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
	ResourceDocumentation  string   `json:"resource_documentation,omitempty"`
}

// Lookup tells whether the gateway serves an endpoint: found false answers 404. title is the resource_name to
// publish ("" means the name itself). An error answers 500 and is logged; its text never reaches the client.
type Lookup func(ctx context.Context, kind, name string) (title string, found bool, err error)

// Handler serves the metadata documents of the gateway (GET <origin>/.well-known/oauth-protected-resource<prefix>)
// and of its endpoints (the same followed by /mcp/{namespace}/{name}, /virtual/{name} or /airegistry-tools/mcp),
// where <prefix> is the path of the public base URL. It answers GET and HEAD, a CORS preflight (browser-based MCP
// clients read these documents cross-origin), 404 for any other path or an unknown endpoint, and 405 for other
// methods. Mount it for every path under WellKnownPath; it matches the full request path itself.
func Handler(cfg Config, lookup Lookup, log *slog.Logger) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("build resource metadata handler: %w", err)
	}
	if lookup == nil {
		return nil, fmt.Errorf("build resource metadata handler: nil lookup: %w", ErrInvalidConfig)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base, _ := ParseBase(cfg.PublicBaseURL) // validated above
	name := cfg.ResourceName
	if name == "" {
		name = DefaultResourceName
	}
	return &handler{
		base:   base,
		cfg:    cfg,
		name:   name,
		lookup: lookup,
		root:   WellKnownPath + base.prefix,
		log:    log.With("component", "authz/resource"),
	}, nil
}

type handler struct {
	base   Base
	cfg    Config
	name   string
	lookup Lookup
	root   string // the escaped path of the root document
	log    *slog.Logger
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind, name, ok := h.route(r.URL.EscapedPath())
	if !ok {
		problem(w, http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "*")
		w.Header().Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		problem(w, http.StatusMethodNotAllowed)
		return
	}
	doc, status := h.document(r.Context(), kind, name)
	if status != http.StatusOK {
		problem(w, status)
		return
	}
	body, err := json.Marshal(doc)
	if err != nil {
		h.log.ErrorContext(r.Context(), "encode resource metadata", "kind", kind, "name", name, "err", err)
		problem(w, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// route maps an escaped request path to the endpoint whose document it names; kind "" is the root document.
func (h *handler) route(p string) (kind, name string, ok bool) {
	rest, ok := strings.CutPrefix(p, h.root)
	if !ok {
		return "", "", false
	}
	if rest == "" || rest == "/" {
		return "", "", true
	}
	if rest == RegistryToolsPath {
		return KindRegistryTools, "", true
	}
	if !strings.HasPrefix(rest, "/") {
		return "", "", false
	}
	segs := strings.Split(rest[1:], "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil || !segmentOK(u) {
			return "", "", false
		}
		segs[i] = u
	}
	switch {
	case len(segs) == 3 && segs[0] == "mcp":
		return KindServer, segs[1] + "/" + segs[2], true
	case len(segs) == 2 && segs[0] == "virtual":
		return KindVirtual, segs[1], true
	}
	return "", "", false
}

// document builds the metadata of one endpoint, or of the gateway when kind is "".
func (h *handler) document(ctx context.Context, kind, name string) (Metadata, int) {
	doc := Metadata{
		Resource:               h.base.String(),
		AuthorizationServers:   h.cfg.AuthorizationServers,
		ScopesSupported:        h.cfg.ScopesSupported,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           h.name,
		ResourceDocumentation:  h.cfg.ResourceDocumentation,
	}
	if kind == "" {
		return doc, http.StatusOK
	}
	title, found, err := h.lookup(ctx, kind, name)
	if err != nil {
		h.log.ErrorContext(ctx, "look up protected resource", "kind", kind, "name", name, "err", err)
		return Metadata{}, http.StatusInternalServerError
	}
	if !found {
		return Metadata{}, http.StatusNotFound
	}
	res, err := h.base.ResourceURL(kind, name)
	if err != nil {
		// route only yields names Path accepts.
		h.log.ErrorContext(ctx, "build resource URL", "kind", kind, "name", name, "err", err)
		return Metadata{}, http.StatusInternalServerError
	}
	doc.Resource = res
	doc.ResourceName = title
	if title == "" {
		doc.ResourceName = name
		if kind == KindRegistryTools {
			doc.ResourceName = "airegistry-tools"
		}
	}
	return doc, http.StatusOK
}

// problem writes an RFC 9457 problem document that says no more than the status.
func problem(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	body, _ := json.Marshal(struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Status int    `json:"status"`
	}{"about:blank", http.StatusText(status), status})
	_, _ = w.Write(body)
}
