package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

const (
	// DevIssuerID is the default "iss" of tokens the development issuer signs.
	DevIssuerID = "mcpgw-dev"
	// DevAudience is the "aud" of tokens the development issuer signs and the audience its issuer entry accepts.
	DevAudience = "mcpgw"
	// DevKeyFile is the name of the signing key file in the data directory (a private JWK, mode 0600).
	DevKeyFile = "dev-issuer-key.jwk"
)

// DevOptions configure LoadOrCreateDevIssuer; every field is optional.
type DevOptions struct {
	// Issuer is the "iss" of issued tokens; default DevIssuerID. A deployment that serves the JWKS at a URL may use
	// that base URL instead.
	Issuer string
	// Algorithm for a newly created key: "ES256" (default) or "EdDSA". An existing key keeps its own.
	Algorithm string
	// Now is the clock for iat and exp; nil means time.Now.
	Now func() time.Time
	// Logger; a "component" attribute is added. Nil discards.
	Logger *slog.Logger
}

// DevIssuer is the built-in development token issuer. It is for local use only: its key lives in the data
// directory and anyone who can read that directory can mint a token for any subject and group.
type DevIssuer struct {
	issuer string
	alg    jwa.SignatureAlgorithm
	key    jwk.Key // private
	jwks   []byte  // public key set, JSON
	now    func() time.Time
}

// LoadOrCreateDevIssuer loads the signing key from dataDir/DevKeyFile, creating it when absent. Creation is safe
// when several processes start at once: the key is written to a temporary file and hard-linked into place, which
// fails if another process got there first, and then everyone uses the winner's key.
func LoadOrCreateDevIssuer(dataDir string, opts DevOptions) (*DevIssuer, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "identity")
	algName := opts.Algorithm
	if algName == "" {
		algName = "ES256"
	}
	if algName != "ES256" && algName != "EdDSA" {
		return nil, fmt.Errorf("load dev issuer: %w: algorithm %q (use ES256 or EdDSA)", ErrInvalidConfig, algName)
	}
	path := filepath.Join(dataDir, DevKeyFile)
	for range 3 {
		data, err := os.ReadFile(path)
		if err == nil {
			if fi, serr := os.Stat(path); serr == nil && runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
				log.Warn("dev issuer key file is readable by others", "path", path, "mode", fi.Mode().Perm().String())
			}
			return newDevIssuer(data, opts)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read dev issuer key: %w", err)
		}
		created, err := createDevKey(dataDir, path, algName)
		if err != nil {
			return nil, err
		}
		if created {
			log.Info("created dev issuer signing key", "path", path, "alg", algName)
		}
	}
	return nil, fmt.Errorf("load dev issuer key %s: the file keeps disappearing", path)
}

// createDevKey writes a new key to path unless the file exists already. It reports whether it created the file.
func createDevKey(dataDir, path, algName string) (bool, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return false, fmt.Errorf("create data dir: %w", err)
	}
	data, err := generateDevKey(algName)
	if err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(dataDir, ".dev-issuer-key-*.tmp") // O_EXCL, mode 0600
	if err != nil {
		return false, fmt.Errorf("create dev issuer key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write dev issuer key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("sync dev issuer key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("close dev issuer key: %w", err)
	}
	// link, unlike rename, never replaces an existing file: exactly one concurrent creator wins, and readers only
	// ever see a complete file.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("install dev issuer key: %w", err)
	}
	if d, err := os.Open(dataDir); err == nil {
		_ = d.Sync() // make the new directory entry durable; not every platform supports it
		d.Close()
	}
	return true, nil
}

func generateDevKey(algName string) ([]byte, error) {
	var raw any
	switch algName {
	case "EdDSA":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate dev issuer key: %w", err)
		}
		raw = priv
	default:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate dev issuer key: %w", err)
		}
		raw = priv
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, fmt.Errorf("convert dev issuer key: %w", err)
	}
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("compute dev issuer key thumbprint: %w", err)
	}
	for k, v := range map[string]any{
		jwk.KeyIDKey:     base64.RawURLEncoding.EncodeToString(tp),
		jwk.AlgorithmKey: algName,
		jwk.KeyUsageKey:  string(jwk.ForSignature),
	} {
		if err := key.Set(k, v); err != nil {
			return nil, fmt.Errorf("set dev issuer key %s: %w", k, err)
		}
	}
	data, err := json.Marshal(key)
	if err != nil {
		return nil, fmt.Errorf("encode dev issuer key: %w", err)
	}
	return data, nil
}

func newDevIssuer(data []byte, opts DevOptions) (*DevIssuer, error) {
	key, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("parse dev issuer key: %w", err)
	}
	var alg jwa.SignatureAlgorithm
	switch k := key.(type) {
	case jwk.ECDSAPrivateKey:
		if k.Crv() != jwa.P256 {
			return nil, fmt.Errorf("parse dev issuer key: curve %s is not P-256", k.Crv())
		}
		alg = jwa.ES256
	case jwk.OKPPrivateKey:
		if k.Crv() != jwa.Ed25519 {
			return nil, fmt.Errorf("parse dev issuer key: curve %s is not Ed25519", k.Crv())
		}
		alg = jwa.EdDSA
	default:
		return nil, fmt.Errorf("parse dev issuer key: want an ES256 or EdDSA private key, got %s", key.KeyType())
	}
	if key.KeyID() == "" {
		return nil, fmt.Errorf("parse dev issuer key: no kid")
	}
	pub, err := key.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("derive dev issuer public key: %w", err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return nil, fmt.Errorf("build dev issuer key set: %w", err)
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode dev issuer key set: %w", err)
	}
	d := &DevIssuer{issuer: opts.Issuer, alg: alg, key: key, jwks: jwks, now: opts.Now}
	if d.issuer == "" {
		d.issuer = DevIssuerID
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d, nil
}

// Issuer returns the "iss" of the tokens this issuer signs.
func (d *DevIssuer) Issuer() string { return d.issuer }

// KeyID returns the signing key's "kid" (its RFC 7638 thumbprint).
func (d *DevIssuer) KeyID() string { return d.key.KeyID() }

// JWKS returns the public key set as JSON, to serve at /.well-known/jwks.json.
func (d *DevIssuer) JWKS() []byte { return append([]byte(nil), d.jwks...) }

// IssuerConfig returns the verifier entry that accepts this issuer's tokens: static keys, no discovery.
func (d *DevIssuer) IssuerConfig() IssuerConfig {
	return IssuerConfig{
		Name:       "dev",
		Issuer:     d.issuer,
		JWKS:       string(d.jwks),
		Audiences:  []string{DevAudience},
		Algorithms: []string{string(d.alg)},
	}
}

// IssueOption adjusts a token the DevIssuer signs.
type IssueOption func(*issueParams)

type issueParams struct {
	scopes   []string
	clientID string
	audience []string
}

// WithScopes sets the "scope" claim (space-separated, RFC 9068).
func WithScopes(scopes ...string) IssueOption {
	return func(p *issueParams) { p.scopes = scopes }
}

// WithClientID sets the "client_id" claim. A token whose subject equals its client id is a machine token.
func WithClientID(id string) IssueOption {
	return func(p *issueParams) { p.clientID = id }
}

// WithAudience replaces the default audience DevAudience.
func WithAudience(aud ...string) IssueOption {
	return func(p *issueParams) { p.audience = aud }
}

// Issue signs a token for subject with the given groups, valid for ttl from now. It carries iss, aud, sub,
// groups, iat, exp, a random jti, and the key's kid in the header.
func (d *DevIssuer) Issue(subject string, groups []string, ttl time.Duration, opts ...IssueOption) (string, error) {
	if subject == "" {
		return "", fmt.Errorf("issue dev token: subject is required")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("issue dev token: ttl %s must be positive", ttl)
	}
	p := issueParams{audience: []string{DevAudience}}
	for _, o := range opts {
		o(&p)
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("issue dev token: %w", err)
	}
	now := d.now().Truncate(time.Second)
	b := jwt.NewBuilder().
		Issuer(d.issuer).
		Audience(p.audience).
		Subject(subject).
		IssuedAt(now).
		Expiration(now.Add(ttl)).
		JwtID(base64.RawURLEncoding.EncodeToString(jti[:]))
	if groups == nil {
		groups = []string{}
	}
	b = b.Claim("groups", groups)
	if len(p.scopes) > 0 {
		b = b.Claim("scope", strings.Join(p.scopes, " "))
	}
	if p.clientID != "" {
		b = b.Claim("client_id", p.clientID)
	}
	tok, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("issue dev token: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(d.alg, d.key))
	if err != nil {
		return "", fmt.Errorf("sign dev token: %w", err)
	}
	return string(signed), nil
}
