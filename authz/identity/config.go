package identity

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"gopkg.in/yaml.v3"
)

// Defaults applied to an IssuerConfig field left at its zero value.
const (
	DefaultClockSkew          = 30 * time.Second
	DefaultRefreshInterval    = 15 * time.Minute
	DefaultMinRefreshInterval = 10 * time.Second
	// MaxClockSkew bounds ClockSkew: a larger skew would keep expired tokens alive for too long.
	MaxClockSkew = 10 * time.Minute
)

// DefaultAlgorithms is used when an issuer lists no algorithms.
var defaultAlgorithms = []string{"RS256", "PS256", "ES256", "EdDSA"}

// supportedAlgorithms are the asymmetric JWS algorithms an issuer may allow. "none" and the HMAC family are
// deliberately absent: they can never be configured.
var supportedAlgorithms = map[string]jwa.SignatureAlgorithm{
	"RS256": jwa.RS256, "RS384": jwa.RS384, "RS512": jwa.RS512,
	"PS256": jwa.PS256, "PS384": jwa.PS384, "PS512": jwa.PS512,
	"ES256": jwa.ES256, "ES384": jwa.ES384, "ES512": jwa.ES512,
	"EdDSA": jwa.EdDSA,
}

// Config is the identity configuration: the issuers whose tokens are accepted. It is usually read from a YAML file
// with LoadConfig; docs/identity.md documents the format.
type Config struct {
	Issuers []IssuerConfig `yaml:"issuers" json:"issuers"`
}

// IssuerConfig describes one trusted issuer.
//
// The key set comes from exactly one source: OIDC discovery (the default: Issuer + "/.well-known/openid-configuration",
// or DiscoveryURL, whose "jwks_uri" is fetched), a JWKSURI, an inline JWKS, or a JWKSFile (re-read on every refresh,
// so replacing the file rotates the keys).
type IssuerConfig struct {
	// Name labels the issuer in logs and errors; it defaults to Issuer and must be unique.
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Issuer is the exact "iss" value of the issuer's tokens, for example https://keycloak.example.com/realms/prod.
	Issuer string `yaml:"issuer" json:"issuer"`
	// DiscoveryURL overrides where the OIDC discovery document is read.
	DiscoveryURL string `yaml:"discoveryURL,omitempty" json:"discoveryURL,omitempty"`
	// JWKSURI skips discovery and fetches the key set from this URL.
	JWKSURI string `yaml:"jwksURI,omitempty" json:"jwksURI,omitempty"`
	// JWKS is an inline JSON Web Key Set (public keys only), for issuers without an endpoint such as the dev issuer.
	JWKS string `yaml:"jwks,omitempty" json:"jwks,omitempty"`
	// JWKSFile is a file holding a JSON Web Key Set, re-read on every refresh.
	JWKSFile string `yaml:"jwksFile,omitempty" json:"jwksFile,omitempty"`
	// Audiences: a token is accepted only when one of its "aud" values is listed here. At least one is required.
	Audiences []string `yaml:"audiences" json:"audiences"`
	// AudienceClaim is the claim checked against Audiences; default "aud". Cognito access tokens carry no "aud":
	// set "client_id" and list the app client ids as audiences.
	AudienceClaim ClaimPath `yaml:"audienceClaim,omitempty" json:"audienceClaim,omitempty"`
	// Algorithms the issuer signs with; default RS256, PS256, ES256, EdDSA. "none" and HMAC are always rejected.
	Algorithms []string `yaml:"algorithms,omitempty" json:"algorithms,omitempty"`
	// ClockSkew tolerated on exp, nbf and iat; default 30s, at most 10m.
	ClockSkew Duration `yaml:"clockSkew,omitempty" json:"clockSkew,omitempty"`
	// RefreshInterval between background refreshes of the key set; default 15m.
	RefreshInterval Duration `yaml:"refreshInterval,omitempty" json:"refreshInterval,omitempty"`
	// MinRefreshInterval is the least time between two fetches of the key set triggered by unknown kids; default 10s.
	MinRefreshInterval Duration `yaml:"minRefreshInterval,omitempty" json:"minRefreshInterval,omitempty"`
	// AllowHTTP permits plain-http discovery and JWKS URLs on hosts other than loopback (which is always allowed).
	AllowHTTP bool `yaml:"allowHTTP,omitempty" json:"allowHTTP,omitempty"`
	// Claims maps the issuer's claims onto a Principal.
	Claims ClaimsConfig `yaml:"claims,omitempty" json:"claims,omitempty"`
}

// ClaimsConfig names where an issuer puts the identity facts. Every field has a default that fits standard OIDC
// access tokens.
type ClaimsConfig struct {
	// Subject is the user identifier; default "sub".
	Subject ClaimPath `yaml:"subject,omitempty" json:"subject,omitempty"`
	// ClientID names the OAuth client the token was issued to (Principal.AuthorizedParty, and Principal.ClientID of
	// a machine token): the first path that yields a string wins; default "client_id", then "azp".
	ClientID []ClaimPath `yaml:"clientID,omitempty" json:"clientID,omitempty"`
	// Groups: the values of all paths are merged (Entra ID: groups and roles); default "groups".
	Groups []ClaimPath `yaml:"groups,omitempty" json:"groups,omitempty"`
	// Scopes: the first path present wins; a string is split on spaces; default "scope", then "scp".
	Scopes []ClaimPath `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	// Machine rules mark a token as a client (machine) token in addition to the built-in rule (see the package
	// documentation): any matching rule is enough.
	Machine []MachineRule `yaml:"machine,omitempty" json:"machine,omitempty"`
}

// MachineRule matches when the claim is a string equal to Equals, or starting with Prefix. Exactly one of Equals and
// Prefix is set.
type MachineRule struct {
	Claim  ClaimPath `yaml:"claim" json:"claim"`
	Equals string    `yaml:"equals,omitempty" json:"equals,omitempty"`
	Prefix string    `yaml:"prefix,omitempty" json:"prefix,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("30s", "15m") in YAML and JSON.
type Duration time.Duration

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// ParseConfig decodes a YAML (or JSON) identity configuration, rejecting unknown fields, and validates it.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("parse identity config: %w: %w", ErrInvalidConfig, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// LoadConfig reads and validates a configuration file. A relative jwksFile is resolved against the file's directory.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read identity config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("parse identity config %s: %w: %w", path, ErrInvalidConfig, err)
	}
	for i := range c.Issuers {
		if f := c.Issuers[i].JWKSFile; f != "" && !filepath.IsAbs(f) {
			c.Issuers[i].JWKSFile = filepath.Join(filepath.Dir(path), f)
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks the configuration and reports every problem at once. Each error matches ErrInvalidConfig.
func (c Config) Validate() error {
	if len(c.Issuers) == 0 {
		return fmt.Errorf("validate identity config: %w: no issuers configured", ErrInvalidConfig)
	}
	var errs []error
	names := make(map[string]int, len(c.Issuers))
	issuers := make(map[string]int, len(c.Issuers))
	for i, ic := range c.Issuers {
		label := fmt.Sprintf("issuers[%d]", i)
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, label, fmt.Sprintf(format, args...)))
		}
		if ic.Issuer == "" {
			fail("issuer is required")
		} else if j, dup := issuers[ic.Issuer]; dup {
			fail("issuer %q is also issuers[%d]", ic.Issuer, j)
		} else {
			issuers[ic.Issuer] = i
		}
		name := ic.name()
		if j, dup := names[name]; dup && name != "" {
			fail("name %q is also issuers[%d]", name, j)
		} else {
			names[name] = i
		}
		for _, err := range ic.validate() {
			fail("%v", err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("validate identity config: %w", errors.Join(errs...))
	}
	return nil
}

func (ic IssuerConfig) name() string {
	if ic.Name != "" {
		return ic.Name
	}
	return ic.Issuer
}

// validate returns the problems of one issuer entry, without the ErrInvalidConfig wrapping.
func (ic IssuerConfig) validate() []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	sources := 0
	for _, s := range []string{ic.JWKSURI, ic.JWKS, ic.JWKSFile} {
		if s != "" {
			sources++
		}
	}
	switch {
	case sources > 1:
		fail("jwksURI, jwks and jwksFile are mutually exclusive")
	case sources == 1 && ic.DiscoveryURL != "":
		fail("discoveryURL cannot be combined with jwksURI, jwks or jwksFile")
	case sources == 0:
		// OIDC discovery: the issuer (or the discovery URL) must be a fetchable URL.
		if ic.DiscoveryURL != "" {
			if err := checkFetchURL(ic.DiscoveryURL, ic.AllowHTTP); err != nil {
				fail("discoveryURL: %v", err)
			}
		} else if ic.Issuer != "" {
			if err := checkFetchURL(ic.Issuer, ic.AllowHTTP); err != nil {
				fail("issuer (used for discovery): %v", err)
			}
		}
	}
	if ic.JWKSURI != "" {
		if err := checkFetchURL(ic.JWKSURI, ic.AllowHTTP); err != nil {
			fail("jwksURI: %v", err)
		}
	}
	if ic.JWKS != "" {
		if _, err := parseKeySet([]byte(ic.JWKS), nil); err != nil {
			fail("jwks: %v", err)
		}
	}

	if len(ic.Audiences) == 0 {
		fail("audiences: at least one audience is required")
	}
	for _, a := range ic.Audiences {
		if a == "" {
			fail("audiences: empty audience")
		}
	}
	for _, a := range ic.Algorithms {
		if _, ok := supportedAlgorithms[a]; !ok {
			fail("algorithms: %q is not allowed (use RS*, PS*, ES* or EdDSA; none and HMAC are never accepted)", a)
		}
	}
	if ic.ClockSkew < 0 || time.Duration(ic.ClockSkew) > MaxClockSkew {
		fail("clockSkew: %s is outside [0, %s]", time.Duration(ic.ClockSkew), MaxClockSkew)
	}
	if ic.RefreshInterval < 0 {
		fail("refreshInterval: negative")
	}
	if ic.MinRefreshInterval < 0 {
		fail("minRefreshInterval: negative")
	}
	d := ic.withDefaults()
	if d.MinRefreshInterval > d.RefreshInterval {
		fail("minRefreshInterval %s exceeds refreshInterval %s",
			time.Duration(d.MinRefreshInterval), time.Duration(d.RefreshInterval))
	}

	check := func(field string, p ClaimPath) {
		if _, err := p.compile(); err != nil {
			fail("claims.%s: %v", field, err)
		}
	}
	if ic.AudienceClaim != "" {
		if _, err := ic.AudienceClaim.compile(); err != nil {
			fail("audienceClaim: %v", err)
		}
	}
	if ic.Claims.Subject != "" {
		check("subject", ic.Claims.Subject)
	}
	for _, p := range ic.Claims.ClientID {
		check("clientID", p)
	}
	for _, p := range ic.Claims.Groups {
		check("groups", p)
	}
	for _, p := range ic.Claims.Scopes {
		check("scopes", p)
	}
	for i, r := range ic.Claims.Machine {
		check(fmt.Sprintf("machine[%d].claim", i), r.Claim)
		if (r.Equals == "") == (r.Prefix == "") {
			fail("claims.machine[%d]: exactly one of equals and prefix is required", i)
		}
	}
	return errs
}

// withDefaults returns a copy with every unset field at its default.
func (ic IssuerConfig) withDefaults() IssuerConfig {
	if ic.Name == "" {
		ic.Name = ic.Issuer
	}
	if len(ic.Algorithms) == 0 {
		ic.Algorithms = slices.Clone(defaultAlgorithms)
	}
	if ic.ClockSkew == 0 {
		ic.ClockSkew = Duration(DefaultClockSkew)
	}
	if ic.RefreshInterval == 0 {
		ic.RefreshInterval = Duration(DefaultRefreshInterval)
	}
	if ic.MinRefreshInterval == 0 {
		ic.MinRefreshInterval = Duration(DefaultMinRefreshInterval)
	}
	if ic.AudienceClaim == "" {
		ic.AudienceClaim = "aud"
	}
	if ic.Claims.Subject == "" {
		ic.Claims.Subject = "sub"
	}
	if len(ic.Claims.ClientID) == 0 {
		ic.Claims.ClientID = []ClaimPath{"client_id", "azp"}
	}
	if len(ic.Claims.Groups) == 0 {
		ic.Claims.Groups = []ClaimPath{"groups"}
	}
	if len(ic.Claims.Scopes) == 0 {
		ic.Claims.Scopes = []ClaimPath{"scope", "scp"}
	}
	return ic
}

// checkFetchURL accepts an absolute https URL, or http on a loopback host, or any http URL when allowHTTP is set.
func checkFetchURL(raw string, allowHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse url: %w", err)
	}
	if u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowHTTP || isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q uses plain http on a non-loopback host (set allowHTTP to permit it)", raw)
	default:
		return fmt.Errorf("%q: scheme must be https", raw)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
