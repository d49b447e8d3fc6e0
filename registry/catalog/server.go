package catalog

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Transport is how an MCP client reaches a server version.
type Transport string

// Transports.
const (
	TransportStreamableHTTP Transport = "streamable-http"
	TransportSSE            Transport = "sse"
	// TransportStdio servers run on the client's machine; they are registered for discovery only and get no route.
	TransportStdio Transport = "stdio"
)

// Server is a registered MCP server: governance fields plus its versions.
type Server struct {
	Name       string `json:"name"`
	Governance `bson:",inline"`
	// Gateways names the Envoy fleets (node.cluster) that route to this server; empty means every fleet.
	Gateways []string        `json:"gateways,omitempty"`
	Versions []ServerVersion `json:"versions"`
	Meta     `bson:",inline"`
}

// ServerVersion is one deployable version of a server.
type ServerVersion struct {
	Version   string    `json:"version"`
	Transport Transport `json:"transport"`
	// URL of a remote (streamable-http or sse) version.
	URL string `json:"url,omitempty"`
	// Endpoints lists further upstream URLs serving the same version; with more than one endpoint the gateway balances
	// them and keeps a session on one endpoint by hashing Mcp-Session-Id.
	Endpoints []string `json:"endpoints,omitempty"`
	// HTTP2 asks the gateway to speak HTTP/2 to the upstream (HTTP/1.1 otherwise).
	HTTP2 bool `json:"http2,omitempty"`
	// ForwardAuthorization keeps the caller's Authorization header on the upstream request. Off by default: the MCP
	// specification forbids token passthrough unless the upstream is the token's audience.
	ForwardAuthorization bool        `json:"forward_authorization,omitempty"`
	EgressAuth           *EgressAuth `json:"egress_auth,omitempty"`
	Launch               *Launch     `json:"launch,omitempty"`
	Tools                []Tool      `json:"tools,omitempty"`
	Default              bool        `json:"default,omitempty"`
	Deprecated           bool        `json:"deprecated,omitempty"`
	Retired              bool        `json:"retired,omitempty"`
}

// EgressAuth is how the gateway authenticates to the upstream. Secrets are references resolved where the gateway runs,
// never literal values, and responses never echo them.
type EgressAuth struct {
	Type string `json:"type"` // bearer, header, oauth2-client-credentials
	// Header is the header to set for type "header" (Authorization for bearer).
	Header string `json:"header,omitempty"`
	// SecretRef names the secret: env:NAME, file:/path, vault:path#key, k8s:namespace/name#key, aws-sm:arn, gcp-sm:name.
	SecretRef string `json:"secret_ref,omitempty"`
	// TokenURL, ClientID and Scopes configure oauth2-client-credentials; SecretRef then holds the client secret.
	TokenURL string   `json:"token_url,omitempty"`
	ClientID string   `json:"client_id,omitempty"`
	Scopes   []string `json:"scopes,omitempty"`
	// HasSecret is set in responses instead of SecretRef.
	HasSecret bool `json:"has_secret,omitempty" bson:"-"`
}

// Launch is how a client starts a stdio server locally: a command, its arguments and the names (never values) of the
// environment variables it needs.
type Launch struct {
	Command  string   `json:"command"`
	Args     []string `json:"args,omitempty"`
	EnvNames []string `json:"env,omitempty"`
}

// Tool mirrors an MCP tool definition (camelCase, as in the MCP specification).
type Tool struct {
	Name         string           `json:"name"`
	Title        string           `json:"title,omitempty"`
	Description  string           `json:"description,omitempty"`
	InputSchema  json.RawMessage  `json:"inputSchema,omitempty"`
	OutputSchema json.RawMessage  `json:"outputSchema,omitempty"`
	Annotations  *ToolAnnotations `json:"annotations,omitempty"`
}

// ToolAnnotations are the MCP behaviour hints of a tool.
type ToolAnnotations struct {
	Title           string `json:"title,omitempty"`
	ReadOnlyHint    *bool  `json:"readOnlyHint,omitempty"`
	DestructiveHint *bool  `json:"destructiveHint,omitempty"`
	IdempotentHint  *bool  `json:"idempotentHint,omitempty"`
	OpenWorldHint   *bool  `json:"openWorldHint,omitempty"`
}

// Key implements Object.
func (s *Server) Key() string { return s.Name }

// Kind implements Object.
func (s *Server) Kind() Kind { return KindServer }

// Metadata implements Object.
func (s *Server) Metadata() *Meta { return &s.Meta }

// DefaultVersion returns the version marked default, or nil when the server has none (only stdio or retired versions).
func (s *Server) DefaultVersion() *ServerVersion {
	for i := range s.Versions {
		if s.Versions[i].Default {
			return &s.Versions[i]
		}
	}
	return nil
}

// Version returns the named version or nil.
func (s *Server) Version(v string) *ServerVersion {
	for i := range s.Versions {
		if s.Versions[i].Version == v {
			return &s.Versions[i]
		}
	}
	return nil
}

// Routable reports whether the gateway may route to the server at all.
func (s *Server) Routable() bool { return s.Status == StatusEnabled || s.Status == StatusDeprecated }

// Normalize implements Object: versions sorted newest first; exactly one default among the versions that can serve
// (remote, not retired), the newest one when the client named none.
func (s *Server) Normalize() {
	s.Governance.normalize()
	s.Gateways = normalizeTags(s.Gateways)
	for i := range s.Versions {
		s.Versions[i].Normalize()
	}
	slices.SortStableFunc(s.Versions, func(a, b ServerVersion) int { return compareVersions(b.Version, a.Version) })
	def := -1
	for i, v := range s.Versions {
		if v.Default && def < 0 && v.serving() {
			def = i
		}
	}
	if def < 0 {
		for i, v := range s.Versions {
			if v.serving() && !v.Deprecated {
				def = i
				break
			}
		}
	}
	if def < 0 {
		for i, v := range s.Versions {
			if v.serving() {
				def = i
				break
			}
		}
	}
	for i := range s.Versions {
		s.Versions[i].Default = i == def
	}
}

// Normalize canonicalises one version: the version string trimmed, streamable-http for a URL without a transport,
// and has_secret (response-only) cleared.
func (v *ServerVersion) Normalize() {
	v.Version = strings.TrimSpace(v.Version)
	if v.Transport == "" && v.URL != "" {
		v.Transport = TransportStreamableHTTP
	}
	if v.EgressAuth != nil {
		v.EgressAuth.HasSecret = false
	}
}

func (v *ServerVersion) serving() bool { return v.Transport != TransportStdio && !v.Retired }

// compareVersions orders semver versions; unparsable ones sort lowest, by string.
func compareVersions(a, b string) int {
	va, ea := semver.StrictNewVersion(a)
	vb, eb := semver.StrictNewVersion(b)
	switch {
	case ea == nil && eb == nil:
		return va.Compare(vb)
	case ea == nil:
		return 1
	case eb == nil:
		return -1
	}
	return strings.Compare(a, b)
}

var headerName = regexp.MustCompile(`^[A-Za-z0-9!#$%&'*+.^_|~-]{1,128}$`)

var secretRef = regexp.MustCompile(`^(env:[A-Za-z_][A-Za-z0-9_]*|file:/\S+|vault:\S+|k8s:[a-z0-9.-]+/[a-z0-9.-]+#\S+|aws-sm:\S+|gcp-sm:\S+)$`)

// Validate implements Object.
func (s *Server) Validate() error {
	var p problems
	if err := checkName(s.Name); err != nil {
		p.add("name", "%v", err)
	}
	s.Governance.validate(&p, false)
	if len(s.Gateways) > MaxGateways {
		p.add("gateways", "at most %d gateways", MaxGateways)
	}
	if len(s.Versions) == 0 {
		p.add("versions", "at least one version is required")
	}
	if len(s.Versions) > MaxVersions {
		p.add("versions", "at most %d versions", MaxVersions)
	}
	seen := map[string]bool{}
	for i := range s.Versions {
		f := indexed("versions", i)
		v := &s.Versions[i]
		if seen[v.Version] {
			p.add(f+".version", "duplicate version %q", v.Version)
		}
		seen[v.Version] = true
		v.validate(&p, f)
	}
	return p.err()
}

// ValidateVersion checks one (normalised) version on its own, for the versions sub-resource: field names are
// relative to the version.
func ValidateVersion(v *ServerVersion) error {
	var p problems
	v.validate(&p, "")
	return p.err()
}

func (v *ServerVersion) validate(p *problems, f string) {
	field := func(name string) string {
		if f == "" {
			return name
		}
		return f + "." + name
	}
	if v.Version == "" {
		p.add(field("version"), "is required")
	} else if len(v.Version) > MaxVersionLen {
		p.add(field("version"), "must be at most %d characters", MaxVersionLen)
	} else if _, err := semver.StrictNewVersion(v.Version); err != nil {
		p.add(field("version"), "must be a semantic version such as 1.2.3")
	}
	switch v.Transport {
	case TransportStreamableHTTP, TransportSSE:
		if v.URL == "" {
			p.add(field("url"), "is required for transport %s", v.Transport)
		} else if err := checkUpstreamURL(v.URL); err != nil {
			p.add(field("url"), "%v", err)
		}
		if v.Launch != nil {
			p.add(field("launch"), "is only for stdio servers")
		}
		if len(v.Endpoints) > MaxEndpoints {
			p.add(field("endpoints"), "at most %d endpoints", MaxEndpoints)
		}
		for j, e := range v.Endpoints {
			if err := checkUpstreamURL(e); err != nil {
				p.add(field(indexed("endpoints", j)), "%v", err)
			} else if u, b := mustParse(e), mustParse(v.URL); u.Scheme != b.Scheme || u.Path != b.Path {
				p.add(field(indexed("endpoints", j)), "must have the same scheme and path as url")
			}
		}
	case TransportStdio:
		if v.URL != "" || len(v.Endpoints) > 0 {
			p.add(field("url"), "stdio servers have no url")
		}
		if v.Launch == nil || strings.TrimSpace(v.Launch.Command) == "" {
			p.add(field("launch.command"), "is required for stdio servers")
		} else {
			if len(v.Launch.Args) > MaxLaunchArgs {
				p.add(field("launch.args"), "at most %d arguments", MaxLaunchArgs)
			}
			if len(v.Launch.EnvNames) > MaxEnvNames {
				p.add(field("launch.env"), "at most %d names", MaxEnvNames)
			}
			for j, n := range v.Launch.EnvNames {
				if checkSimpleName(n, 128, "_") != nil {
					p.add(field(indexed("launch.env", j)), "must be an environment variable name, not a value")
				}
			}
		}
		if v.EgressAuth != nil {
			p.add(field("egress_auth"), "stdio servers are not reached through the gateway")
		}
	case "":
		p.add(field("transport"), "is required")
	default:
		p.add(field("transport"), "must be one of streamable-http, sse, stdio")
	}
	if a := v.EgressAuth; a != nil {
		switch a.Type {
		case "bearer", "header":
			if a.Type == "header" && !headerName.MatchString(a.Header) {
				p.add(field("egress_auth.header"), "must be an HTTP header name")
			}
		case "oauth2-client-credentials":
			if err := checkUpstreamURL(a.TokenURL); err != nil {
				p.add(field("egress_auth.token_url"), "%v", err)
			}
			if a.ClientID == "" {
				p.add(field("egress_auth.client_id"), "is required")
			}
		default:
			p.add(field("egress_auth.type"), "must be one of bearer, header, oauth2-client-credentials")
		}
		if !secretRef.MatchString(a.SecretRef) {
			p.add(field("egress_auth.secret_ref"),
				"must be a secret reference (env:NAME, file:/path, vault:path#key, k8s:ns/name#key, aws-sm:..., gcp-sm:...), never a literal secret")
		}
	}
	if len(v.Tools) > MaxToolsPerVersion {
		p.add(field("tools"), "at most %d tools", MaxToolsPerVersion)
	}
	names := map[string]bool{}
	for j := range v.Tools {
		t := &v.Tools[j]
		tf := field(indexed("tools", j))
		if err := checkSimpleName(t.Name, MaxToolNameLen, "_-./"); err != nil {
			p.add(tf+".name", "%v", err)
		}
		if names[t.Name] {
			p.add(tf+".name", "duplicate tool %q", t.Name)
		}
		names[t.Name] = true
		if len(t.Title) > MaxTitleLen {
			p.add(tf+".title", "must be at most %d characters", MaxTitleLen)
		}
		if len(t.Description) > MaxToolDescLen {
			p.add(tf+".description", "must be at most %d characters", MaxToolDescLen)
		}
		checkJSONObject(p, tf+".inputSchema", t.InputSchema)
		checkJSONObject(p, tf+".outputSchema", t.OutputSchema)
	}
}

func checkJSONObject(p *problems, field string, raw json.RawMessage) {
	if len(raw) == 0 {
		return
	}
	if len(raw) > MaxSchemaBytes {
		p.add(field, "must be at most %d bytes", MaxSchemaBytes)
		return
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		p.add(field, "must be a JSON object")
	}
}

func checkUpstreamURL(raw string) error {
	if raw == "" {
		return errorf("is required")
	}
	if len(raw) > MaxURLLen {
		return errorf("must be at most %d characters", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return errorf("must be an absolute http or https URL")
	}
	if u.User != nil {
		return errorf("must not carry credentials; use egress_auth")
	}
	if u.Fragment != "" {
		return errorf("must not have a fragment")
	}
	return nil
}

func mustParse(raw string) *url.URL {
	u, _ := url.Parse(raw)
	return u
}

// Redacted returns a copy of the server fit for a response: secret references are replaced by HasSecret.
func (s *Server) Redacted() *Server {
	c := *s
	c.Versions = slices.Clone(s.Versions)
	for i := range c.Versions {
		if a := c.Versions[i].EgressAuth; a != nil {
			r := *a
			r.HasSecret = r.SecretRef != ""
			r.SecretRef = ""
			c.Versions[i].EgressAuth = &r
		}
	}
	return &c
}

// KeepSecrets copies the stored secret references into an update that omits them, so a client can PUT back what it
// read (which never contains them) without erasing the secret.
func (s *Server) KeepSecrets(stored *Server) {
	for i := range s.Versions {
		a := s.Versions[i].EgressAuth
		if a == nil || a.SecretRef != "" {
			continue
		}
		if old := stored.Version(s.Versions[i].Version); old != nil && old.EgressAuth != nil {
			a.SecretRef = old.EgressAuth.SecretRef
		}
	}
}
