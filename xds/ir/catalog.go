package ir

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// FromCatalog builds the model from catalog servers and virtual servers. It is best-effort: a server or virtual
// server that cannot be routed is left out and its error returned (each an *Error), so one bad entry never keeps
// the others from the fleet. The inputs are not modified; the result shares no memory with them.
func FromCatalog(servers []*catalog.Server, virtuals []*catalog.VirtualServer) (*Model, []error) {
	m := &Model{Servers: make([]*Server, 0, len(servers)), Virtuals: make([]*VirtualServer, 0, len(virtuals))}
	var errs []error
	for _, cs := range servers {
		s, err := ServerFromCatalog(cs)
		switch {
		case err != nil:
			errs = append(errs, err)
		case s != nil:
			m.Servers = append(m.Servers, s)
		}
	}
	for _, cv := range virtuals {
		v, err := VirtualFromCatalog(cv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.Virtuals = append(m.Virtuals, v)
	}
	slices.SortFunc(m.Servers, func(a, b *Server) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(m.Virtuals, func(a, b *VirtualServer) int { return strings.Compare(a.Name, b.Name) })
	m.Servers = dedupe(m.Servers, func(s *Server) string { return s.Name }, &errs)
	m.Virtuals = dedupe(m.Virtuals, func(v *VirtualServer) string { return v.Name }, &errs)
	return m, errs
}

func dedupe[T any](items []T, name func(T) string, errs *[]error) []T {
	out := items[:0]
	for i, it := range items {
		if i > 0 && name(items[i-1]) == name(it) {
			*errs = append(*errs, invalid(name(it), "name", "appears twice"))
			continue
		}
		out = append(out, it)
	}
	return out
}

// ServerFromCatalog converts one catalog server. It returns nil and no error for a server the gateway has nothing
// to route for (only stdio versions).
func ServerFromCatalog(cs *catalog.Server) (*Server, error) {
	if cs == nil {
		return nil, invalid("", "servers", "nil server")
	}
	ns, short, err := catalog.SplitName(cs.Name)
	if err != nil {
		return nil, invalid(cs.Name, "name", "%v", err)
	}
	s := &Server{Name: cs.Name, Namespace: ns, Short: short, Rev: cs.Rev, Fleets: slices.Clone(cs.Gateways)}
	if s.Blocked, s.Deprecated, err = fromStatus(cs.Name, cs.Status); err != nil {
		return nil, err
	}
	var errs []error
	for i := range cs.Versions {
		cv := &cs.Versions[i]
		if cv.Transport == catalog.TransportStdio {
			continue
		}
		v, err := versionFromCatalog(cs.Name, i, cv)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.Versions = append(s.Versions, v)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(s.Versions) == 0 {
		return nil, nil
	}
	pickDefault(s.Versions)
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// pickDefault keeps the catalog's default when it serves and otherwise applies the catalog's own rule (the
// newest serving version that is not deprecated, else the newest serving one), so that a catalog written by an
// older or foreign writer still routes. Versions are newest first.
func pickDefault(vs []*Version) {
	def := slices.IndexFunc(vs, func(v *Version) bool { return v.Default && v.Serves() })
	if def < 0 {
		def = slices.IndexFunc(vs, func(v *Version) bool { return v.Serves() && !v.Deprecated })
	}
	if def < 0 {
		def = slices.IndexFunc(vs, (*Version).Serves)
	}
	for i, v := range vs {
		v.Default = i == def
	}
}

func versionFromCatalog(server string, i int, cv *catalog.ServerVersion) (*Version, error) {
	f := fmt.Sprintf("versions[%d]", i)
	v := &Version{
		Version:              cv.Version,
		Transport:            Transport(cv.Transport),
		HTTP2:                cv.HTTP2,
		ForwardAuthorization: cv.ForwardAuthorization,
		EgressAuth:           cv.EgressAuth != nil,
		Default:              cv.Default && !cv.Retired,
		Deprecated:           cv.Deprecated,
		Retired:              cv.Retired,
	}
	switch cv.Transport {
	case catalog.TransportStreamableHTTP, catalog.TransportSSE:
	default:
		return nil, invalid(server, f+".transport", "unknown transport %q", cv.Transport)
	}
	if v.Retired {
		return v, nil // a retired version answers 410 and needs no upstream
	}
	urls := append([]string{cv.URL}, cv.Endpoints...)
	for j, raw := range urls {
		field := f + ".url"
		if j > 0 {
			field = fmt.Sprintf("%s.endpoints[%d]", f, j-1)
		}
		u, err := ParseUpstream(raw)
		if err != nil {
			return nil, invalid(server, field, "%v", err)
		}
		if j == 0 {
			v.TLS, v.Path = u.TLS, u.Path
		} else if u.TLS != v.TLS || u.Path != v.Path {
			return nil, invalid(server, field, "must have the same scheme and path as url")
		}
		if !slices.Contains(v.Endpoints, u.Endpoint) {
			v.Endpoints = append(v.Endpoints, u.Endpoint)
		}
	}
	return v, nil
}

// Upstream is a parsed upstream URL.
type Upstream struct {
	Endpoint Endpoint
	TLS      bool
	// Path is the escaped path, "/" when the URL has none.
	Path string
}

// ParseUpstream parses an absolute http or https URL into what a cluster and a route need. It rejects what Envoy
// could not honour: credentials, a query or a fragment (a route cannot add them), zoned IPv6 addresses.
func ParseUpstream(raw string) (Upstream, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Upstream{}, fmt.Errorf("parse upstream url: %w", err)
	}
	var up Upstream
	switch u.Scheme {
	case "https":
		up.TLS = true
	case "http":
	default:
		return Upstream{}, fmt.Errorf("upstream url %q: scheme must be http or https", raw)
	}
	switch {
	case u.Opaque != "":
		return Upstream{}, fmt.Errorf("upstream url %q: not a hierarchical url", raw)
	case u.User != nil:
		return Upstream{}, fmt.Errorf("upstream url: must not carry credentials")
	case u.RawQuery != "" || u.ForceQuery:
		return Upstream{}, fmt.Errorf("upstream url %q: a query string cannot be forwarded by the gateway", raw)
	case u.Fragment != "":
		return Upstream{}, fmt.Errorf("upstream url %q: must not have a fragment", raw)
	}
	host := u.Hostname()
	if host == "" {
		return Upstream{}, fmt.Errorf("upstream url %q: no host", raw)
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return Upstream{}, fmt.Errorf("upstream url %q: zoned IPv6 addresses are not routable", raw)
		}
		up.Endpoint.IP = true
		host = a.String()
	} else {
		host = strings.ToLower(strings.TrimSuffix(host, "."))
	}
	up.Endpoint.Host = host
	switch p := u.Port(); {
	case p != "":
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return Upstream{}, fmt.Errorf("upstream url %q: bad port", raw)
		}
		up.Endpoint.Port = uint32(n)
	case up.TLS:
		up.Endpoint.Port = 443
	default:
		up.Endpoint.Port = 80
	}
	if err := up.Endpoint.validate(); err != nil {
		return Upstream{}, fmt.Errorf("upstream url %q: %w", raw, err)
	}
	up.Path = u.EscapedPath()
	if up.Path == "" {
		up.Path = "/"
	}
	if err := checkPath(up.Path); err != nil {
		return Upstream{}, fmt.Errorf("upstream url: %w", err)
	}
	return up, nil
}

// VirtualFromCatalog converts one catalog virtual server.
func VirtualFromCatalog(cv *catalog.VirtualServer) (*VirtualServer, error) {
	if cv == nil {
		return nil, invalid("", "virtuals", "nil virtual server")
	}
	v := &VirtualServer{Name: cv.Name, Rev: cv.Rev, Fleets: slices.Clone(cv.Gateways)}
	var err error
	if v.Blocked, v.Deprecated, err = fromStatus(cv.Name, cv.Status); err != nil {
		return nil, err
	}
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

// fromStatus maps a catalog status to the gateway's view. An unknown status fails closed: the object gets no route.
// The catalog has no scan state yet; when it has, "not yet scanned" maps to BlockScanPending here.
func fromStatus(name string, st catalog.Status) (Block, bool, error) {
	switch st {
	case catalog.StatusEnabled:
		return BlockNone, false, nil
	case catalog.StatusDeprecated:
		return BlockNone, true, nil
	case catalog.StatusDisabled:
		return BlockDisabled, false, nil
	case catalog.StatusSecurityPending:
		return BlockSecurityPending, false, nil
	}
	return BlockNone, false, invalid(name, "status", "unknown status %q", st)
}
