package dataplane

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/anypb"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	extauthzv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	statefulsessionv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/stateful_session/v3"
	envelopev3 "github.com/envoyproxy/go-control-plane/envoy/extensions/http/stateful_session/envelope/v3"
)

// HTTP filter names, as Envoy's well-known names.
const (
	filterExtAuthz        = "envoy.filters.http.ext_authz"
	filterStatefulSession = "envoy.filters.http.stateful_session"
	filterRouter          = "envoy.filters.http.router"
	sessionEnvelope       = "envoy.http.stateful_session.envelope"
)

// routeTable is a RouteConfiguration: virtual hosts, each with its routes in match order.
type routeTable struct {
	name   string
	vhosts []*vhost
}

type vhost struct {
	name    string
	domains []string
	routes  []*route
}

type pathKind int

const (
	matchPrefix pathKind = iota
	matchPath
	matchSeparatedPrefix
)

type headerMatch struct {
	name    string
	present *bool   // present_match
	exact   *string // string_match.exact
}

// route is one Route: what it matches, what it does, and its per-filter settings.
type route struct {
	name    string
	kind    pathKind
	pattern string
	headers []headerMatch

	// Exactly one of direct and cluster is set.
	direct *directResponse
	// The upstream action.
	cluster       string
	prefixRewrite *string
	regexRewrite  *regexp.Regexp
	substitution  string
	autoHost      bool
	timeout       time.Duration // 0: none
	hashHeader    string

	requestHeadersToRemove []string
	responseHeadersToAdd   []*corev3.HeaderValueOption

	// ext_authz per-route settings.
	authzDisabled bool
	contextExt    map[string]string
	// session is the stateful-session (envelope) header of this route, "" when off.
	session string
}

type directResponse struct {
	status int
	body   []byte
}

// buildRouteTable reads a RouteConfiguration, accepting only what mcpgw emits.
func buildRouteTable(rc *routev3.RouteConfiguration) (*routeTable, error) {
	if err := only(rc, "name", "virtual_hosts", "validate_clusters"); err != nil {
		return nil, fmt.Errorf("route configuration %q: %w", rc.GetName(), err)
	}
	t := &routeTable{name: rc.GetName()}
	for _, vh := range rc.GetVirtualHosts() {
		if err := only(vh, "name", "domains", "routes"); err != nil {
			return nil, fmt.Errorf("virtual host %q: %w", vh.GetName(), err)
		}
		v := &vhost{name: vh.GetName()}
		for _, d := range vh.GetDomains() {
			if d != "*" && strings.Count(d, "*") > 0 && !strings.HasPrefix(d, "*") && !strings.HasSuffix(d, "*") {
				return nil, fmt.Errorf("virtual host %q domain %q: %w", vh.GetName(), d, ErrInvalid)
			}
			v.domains = append(v.domains, strings.ToLower(d))
		}
		for _, r := range vh.GetRoutes() {
			rt, err := buildRoute(r)
			if err != nil {
				return nil, fmt.Errorf("virtual host %q: %w", vh.GetName(), err)
			}
			v.routes = append(v.routes, rt)
		}
		t.vhosts = append(t.vhosts, v)
	}
	return t, nil
}

func buildRoute(r *routev3.Route) (*route, error) {
	wrap := func(err error) error { return fmt.Errorf("route %q: %w", r.GetName(), err) }
	if err := only(r, "name", "match", "route", "direct_response", "typed_per_filter_config",
		"request_headers_to_remove", "response_headers_to_add"); err != nil {
		return nil, wrap(err)
	}
	out := &route{name: r.GetName(), requestHeadersToRemove: r.GetRequestHeadersToRemove()}
	m := r.GetMatch()
	if err := only(m, "prefix", "path", "path_separated_prefix", "headers"); err != nil {
		return nil, wrap(err)
	}
	switch p := m.GetPathSpecifier().(type) {
	case *routev3.RouteMatch_Prefix:
		out.kind, out.pattern = matchPrefix, p.Prefix
	case *routev3.RouteMatch_Path:
		out.kind, out.pattern = matchPath, p.Path
	case *routev3.RouteMatch_PathSeparatedPrefix:
		out.kind, out.pattern = matchSeparatedPrefix, p.PathSeparatedPrefix
	default:
		return nil, wrap(fmt.Errorf("no path matcher: %w", ErrInvalid))
	}
	for _, h := range m.GetHeaders() {
		if err := only(h, "name", "string_match", "present_match"); err != nil {
			return nil, wrap(err)
		}
		hm := headerMatch{name: strings.ToLower(h.GetName())}
		switch s := h.GetHeaderMatchSpecifier().(type) {
		case *routev3.HeaderMatcher_PresentMatch:
			hm.present = &s.PresentMatch
		case *routev3.HeaderMatcher_StringMatch:
			if err := only(s.StringMatch, "exact"); err != nil {
				return nil, wrap(err)
			}
			exact := s.StringMatch.GetExact()
			hm.exact = &exact
		default:
			return nil, wrap(fmt.Errorf("header matcher %q without a match: %w", h.GetName(), ErrUnsupported))
		}
		out.headers = append(out.headers, hm)
	}
	for _, h := range r.GetResponseHeadersToAdd() {
		if err := checkHeaderOption(h); err != nil {
			return nil, wrap(err)
		}
	}
	out.responseHeadersToAdd = r.GetResponseHeadersToAdd()

	switch a := r.GetAction().(type) {
	case *routev3.Route_DirectResponse:
		if err := only(a.DirectResponse, "status", "body"); err != nil {
			return nil, wrap(err)
		}
		d := &directResponse{status: int(a.DirectResponse.GetStatus())}
		if d.status < 200 || d.status > 599 {
			return nil, wrap(fmt.Errorf("direct response status %d: %w", d.status, ErrInvalid))
		}
		if b := a.DirectResponse.GetBody(); b != nil {
			if err := only(b, "inline_string", "inline_bytes"); err != nil {
				return nil, wrap(err)
			}
			d.body = []byte(b.GetInlineString())
			if len(b.GetInlineBytes()) > 0 {
				d.body = b.GetInlineBytes()
			}
		}
		out.direct = d
	case *routev3.Route_Route:
		if err := out.action(a.Route); err != nil {
			return nil, wrap(err)
		}
	default:
		return nil, wrap(fmt.Errorf("action other than route or direct_response: %w", ErrUnsupported))
	}
	for name, cfg := range r.GetTypedPerFilterConfig() {
		if err := out.filterConfig(name, cfg); err != nil {
			return nil, wrap(err)
		}
	}
	return out, nil
}

// action reads a RouteAction.
func (r *route) action(a *routev3.RouteAction) error {
	if err := only(a, "cluster", "prefix_rewrite", "regex_rewrite", "host_rewrite_specifier", "auto_host_rewrite",
		"timeout", "hash_policy"); err != nil {
		return err
	}
	r.cluster = a.GetCluster()
	if r.cluster == "" {
		return fmt.Errorf("route action without a cluster: %w", ErrUnsupported)
	}
	if a.GetPrefixRewrite() != "" {
		p := a.GetPrefixRewrite()
		r.prefixRewrite = &p
	}
	if rr := a.GetRegexRewrite(); rr != nil {
		if err := only(rr, "pattern", "substitution"); err != nil {
			return err
		}
		if err := only(rr.GetPattern(), "regex", "google_re2"); err != nil {
			return err
		}
		re, err := regexp.Compile(rr.GetPattern().GetRegex())
		if err != nil {
			return fmt.Errorf("regex_rewrite %q: %w", rr.GetPattern().GetRegex(), ErrInvalid)
		}
		r.regexRewrite, r.substitution = re, re2Substitution(rr.GetSubstitution())
	}
	if r.prefixRewrite != nil && r.regexRewrite != nil {
		return fmt.Errorf("both prefix_rewrite and regex_rewrite: %w", ErrInvalid)
	}
	r.autoHost = a.GetAutoHostRewrite().GetValue()
	if t := a.GetTimeout(); t != nil {
		r.timeout = t.AsDuration()
	} else {
		r.timeout = 15 * time.Second // Envoy's default route timeout
	}
	for _, hp := range a.GetHashPolicy() {
		if err := only(hp, "header"); err != nil {
			return err
		}
		if err := only(hp.GetHeader(), "header_name"); err != nil {
			return err
		}
		if r.hashHeader != "" {
			return fmt.Errorf("more than one hash policy: %w", ErrUnsupported)
		}
		r.hashHeader = strings.ToLower(hp.GetHeader().GetHeaderName())
	}
	return nil
}

// re2Substitution turns an RE2 substitution (\1 for a group) into Go's ($1), escaping literal dollars.
func re2Substitution(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$':
			b.WriteString("$$")
		case s[i] == '\\' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			b.WriteString("${" + string(s[i+1]) + "}")
			i++
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '\\':
			b.WriteByte('\\')
			i++
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// filterConfig reads one typed_per_filter_config entry.
func (r *route) filterConfig(name string, cfg *anypb.Any) error {
	if cfg.MessageIs(&routev3.FilterConfig{}) {
		var fc routev3.FilterConfig
		if err := unpack(cfg, &fc); err != nil {
			return err
		}
		if err := only(&fc, "disabled"); err != nil {
			return err
		}
		if !fc.GetDisabled() {
			return fmt.Errorf("filter config of %s that does not disable it: %w", name, ErrUnsupported)
		}
		switch name {
		case filterExtAuthz:
			r.authzDisabled = true
		case filterStatefulSession:
			r.session = ""
		case filterMCP:
			// Disabling a filter the data plane never runs (the listener refuses it) changes nothing.
		default:
			return fmt.Errorf("per-route config of filter %s: %w", name, ErrUnsupported)
		}
		return nil
	}
	switch name {
	case filterExtAuthz:
		var pr extauthzv3.ExtAuthzPerRoute
		if err := unpack(cfg, &pr); err != nil {
			return err
		}
		if err := only(&pr, "disabled", "check_settings"); err != nil {
			return err
		}
		if pr.GetDisabled() {
			r.authzDisabled = true
			return nil
		}
		cs := pr.GetCheckSettings()
		if err := only(cs, "context_extensions"); err != nil {
			return err
		}
		r.contextExt = cs.GetContextExtensions()
	case filterStatefulSession:
		var pr statefulsessionv3.StatefulSessionPerRoute
		if err := unpack(cfg, &pr); err != nil {
			return err
		}
		if err := only(&pr, "disabled", "stateful_session"); err != nil {
			return err
		}
		if pr.GetDisabled() {
			return nil
		}
		h, err := sessionHeader(pr.GetStatefulSession())
		if err != nil {
			return err
		}
		r.session = h
	default:
		return fmt.Errorf("per-route config of filter %s: %w", name, ErrUnsupported)
	}
	return nil
}

// sessionHeader reads a StatefulSession: the envelope session state's header name ("" when the filter has no
// session state, which leaves it off).
func sessionHeader(s *statefulsessionv3.StatefulSession) (string, error) {
	if err := only(s, "session_state"); err != nil {
		return "", err
	}
	st := s.GetSessionState()
	if st == nil {
		return "", nil
	}
	if err := only(st, "name", "typed_config"); err != nil {
		return "", err
	}
	var env envelopev3.EnvelopeSessionState
	if err := unpack(st.GetTypedConfig(), &env); err != nil {
		return "", err
	}
	if err := only(&env, "header"); err != nil {
		return "", err
	}
	if err := only(env.GetHeader(), "name"); err != nil {
		return "", err
	}
	if env.GetHeader().GetName() == "" {
		return "", fmt.Errorf("envelope session state without a header: %w", ErrInvalid)
	}
	return strings.ToLower(env.GetHeader().GetName()), nil
}

// checkHeaderOption accepts a header mutation this data plane can apply.
func checkHeaderOption(h *corev3.HeaderValueOption) error {
	if err := only(h, "header", "append", "append_action", "keep_empty_value"); err != nil {
		return err
	}
	if err := only(h.GetHeader(), "key", "value", "raw_value"); err != nil {
		return err
	}
	if h.GetHeader().GetKey() == "" {
		return fmt.Errorf("header option without a key: %w", ErrInvalid)
	}
	return nil
}

// applyHeaderOption applies a HeaderValueOption to h with Envoy's rules: the deprecated append flag, when set,
// wins (true appends, false overwrites); otherwise append_action decides. defaultOverwrite is the meaning of an
// option with neither (ext_authz's OK and denied headers overwrite; route headers append).
func applyHeaderOption(h http.Header, o *corev3.HeaderValueOption, defaultOverwrite bool) {
	k, v := o.GetHeader().GetKey(), o.GetHeader().GetValue()
	if raw := o.GetHeader().GetRawValue(); len(raw) > 0 {
		v = string(raw)
	}
	if v == "" && !o.GetKeepEmptyValue() {
		return
	}
	_, exists := h[http.CanonicalHeaderKey(k)]
	action := o.GetAppendAction()
	switch {
	case o.GetAppend() != nil && o.GetAppend().GetValue(): //nolint:staticcheck // Envoy still honours the deprecated flag
		action = corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD
	case o.GetAppend() != nil, //nolint:staticcheck // Envoy still honours the deprecated flag
		defaultOverwrite && action == corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
		action = corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD
	}
	switch action {
	case corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD:
		h.Add(k, v)
	case corev3.HeaderValueOption_ADD_IF_ABSENT:
		if !exists {
			h.Set(k, v)
		}
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD:
		h.Set(k, v)
	case corev3.HeaderValueOption_OVERWRITE_IF_EXISTS:
		if exists {
			h.Set(k, v)
		}
	}
}

// match finds the route for a request: the virtual host by authority, then the first route whose path and
// header matchers all pass. path is the :path (with query); nil when nothing matches (Envoy's 404).
func (t *routeTable) match(authority, path string, h http.Header) *route {
	v := t.vhostFor(authority)
	if v == nil {
		return nil
	}
	p := path
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	for _, r := range v.routes {
		if r.matches(path, p, h) {
			return r
		}
	}
	return nil
}

// vhostFor picks the virtual host: an exact domain first, then the longest suffix or prefix wildcard, then "*".
func (t *routeTable) vhostFor(authority string) *vhost {
	a := strings.ToLower(authority)
	var best *vhost
	bestLen := -1
	for _, v := range t.vhosts {
		for _, d := range v.domains {
			switch {
			case d == a:
				return v
			case d == "*":
				if bestLen < 0 {
					best, bestLen = v, 0
				}
			case strings.HasPrefix(d, "*") && strings.HasSuffix(a, d[1:]) && len(d) > bestLen:
				best, bestLen = v, len(d)
			case strings.HasSuffix(d, "*") && strings.HasPrefix(a, d[:len(d)-1]) && len(d) > bestLen:
				best, bestLen = v, len(d)
			}
		}
	}
	return best
}

// matches applies the path matcher (prefix on the whole :path; path and path_separated_prefix on the path without
// its query, as Envoy does) and every header matcher.
func (r *route) matches(full, path string, h http.Header) bool {
	switch r.kind {
	case matchPrefix:
		if !strings.HasPrefix(full, r.pattern) {
			return false
		}
	case matchPath:
		if path != r.pattern {
			return false
		}
	case matchSeparatedPrefix:
		if path != r.pattern && !strings.HasPrefix(path, r.pattern+"/") {
			return false
		}
	}
	for _, hm := range r.headers {
		vals := h.Values(hm.name)
		switch {
		case hm.present != nil:
			if (len(vals) > 0) != *hm.present {
				return false
			}
		case hm.exact != nil:
			if len(vals) == 0 || strings.Join(vals, ",") != *hm.exact {
				return false
			}
		}
	}
	return true
}

// rewrite returns the upstream :path: prefix_rewrite replaces the matched prefix, regex_rewrite rewrites the path
// without its query; the query is kept.
func (r *route) rewrite(full string) string {
	path, query := full, ""
	if i := strings.IndexByte(full, '?'); i >= 0 {
		path, query = full[:i], full[i:]
	}
	switch {
	case r.prefixRewrite != nil:
		path = *r.prefixRewrite + path[len(r.pattern):]
	case r.regexRewrite != nil:
		path = r.regexRewrite.ReplaceAllString(path, r.substitution)
	}
	if path == "" {
		path = "/"
	}
	return path + query
}
