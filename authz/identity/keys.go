package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

const (
	// maxDocumentSize bounds a discovery document or JWKS response.
	maxDocumentSize = 1 << 20
	// fetchTimeout bounds one discovery + JWKS fetch, whoever is waiting for it.
	fetchTimeout = 10 * time.Second
	// minRSABits: smaller RSA keys are ignored.
	minRSABits = 2048
)

// verifyKey is one public key of an issuer, converted once to the crypto type the jws verifiers take.
type verifyKey struct {
	kid string
	// alg is the JWK's "alg" when it names one; a token signed with another algorithm does not match the key.
	alg jwa.SignatureAlgorithm
	pub any // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// fits reports whether the key can verify a signature made with alg.
func (k *verifyKey) fits(alg jwa.SignatureAlgorithm) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(string(alg), "RS") || strings.HasPrefix(string(alg), "PS")
	case *ecdsa.PublicKey:
		switch alg {
		case jwa.ES256:
			return pub.Curve == elliptic.P256()
		case jwa.ES384:
			return pub.Curve == elliptic.P384()
		case jwa.ES512:
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == jwa.EdDSA
	}
	return false
}

func (k *verifyKey) equal(o *verifyKey) bool {
	if k.kid != o.kid || k.alg != o.alg {
		return false
	}
	type equaler interface{ Equal(x any) bool }
	e, ok := k.pub.(equaler)
	return ok && e.Equal(o.pub)
}

// keySet is an immutable snapshot of an issuer's keys.
type keySet struct {
	byKid map[string]*verifyKey
	all   []*verifyKey
}

// find returns the keys a token with this kid and alg may be verified with: the key with that kid, or, for a token
// without a kid, every key that fits the algorithm.
func (s *keySet) find(kid string, alg jwa.SignatureAlgorithm, dst []*verifyKey) []*verifyKey {
	if s == nil {
		return dst
	}
	if kid != "" {
		if k, ok := s.byKid[kid]; ok && k.fits(alg) {
			dst = append(dst, k)
		}
		return dst
	}
	for _, k := range s.all {
		if k.fits(alg) {
			dst = append(dst, k)
		}
	}
	return dst
}

// contains reports whether k (by identity) is still part of the set.
func (s *keySet) contains(k *verifyKey) bool {
	if s == nil {
		return false
	}
	if k.kid != "" {
		return s.byKid[k.kid] == k
	}
	return slices.Contains(s.all, k)
}

// newKeySet converts a parsed JWKS. Symmetric keys and keys not meant for signatures are skipped; a private key is
// an error (a published private key means the key set must not be trusted). prev, when given, lends its key
// objects to unchanged keys, so that tokens cached against them stay valid across refreshes.
func newKeySet(set jwk.Set, prev *keySet) (*keySet, error) {
	ks := &keySet{byKid: make(map[string]*verifyKey, set.Len())}
	for i := 0; i < set.Len(); i++ {
		key, _ := set.Key(i)
		switch key.(type) {
		case jwk.RSAPrivateKey, jwk.ECDSAPrivateKey, jwk.OKPPrivateKey:
			return nil, fmt.Errorf("load jwks: key %q is a private key", key.KeyID())
		case jwk.SymmetricKey:
			continue
		}
		if u := key.KeyUsage(); u != "" && u != string(jwk.ForSignature) {
			continue
		}
		var raw any
		if err := key.Raw(&raw); err != nil {
			continue
		}
		vk := &verifyKey{kid: key.KeyID()}
		if a := key.Algorithm(); a != nil && a.String() != "" {
			vk.alg = jwa.SignatureAlgorithm(a.String())
		}
		switch pub := raw.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < minRSABits {
				continue
			}
			vk.pub = pub
		case *ecdsa.PublicKey:
			vk.pub = pub
		case ed25519.PublicKey:
			vk.pub = pub
		default:
			continue // secp256k1, X25519 and other key types are not signature keys we accept
		}
		if vk.kid != "" {
			if _, dup := ks.byKid[vk.kid]; dup {
				continue // the first key with a kid wins; IdPs do not publish duplicates
			}
		}
		if old := prev.same(vk); old != nil {
			vk = old
		}
		if vk.kid != "" {
			ks.byKid[vk.kid] = vk
		}
		ks.all = append(ks.all, vk)
	}
	if len(ks.all) == 0 {
		return nil, fmt.Errorf("load jwks: no usable signature key")
	}
	return ks, nil
}

// same returns the key of s equal to k, if any.
func (s *keySet) same(k *verifyKey) *verifyKey {
	if s == nil {
		return nil
	}
	if k.kid != "" {
		if old, ok := s.byKid[k.kid]; ok && old.equal(k) {
			return old
		}
		return nil
	}
	for _, old := range s.all {
		if old.kid == "" && old.equal(k) {
			return old
		}
	}
	return nil
}

// parseKeySet parses and converts a JWKS document.
func parseKeySet(data []byte, prev *keySet) (*keySet, error) {
	set, err := jwk.Parse(data, jwk.WithIgnoreParseError(true))
	if err != nil {
		return nil, fmt.Errorf("parse jwks: %w", err)
	}
	return newKeySet(set, prev)
}

// errRateLimited: an on-demand refresh was refused because the previous attempt is too recent.
var errRateLimited = errors.New("key refresh rate-limited")

// keySource keeps one issuer's key set current. Fetches are collapsed (one at a time, every caller waits for the
// same result) and on-demand fetches are rate-limited.
type keySource struct {
	cfg    IssuerConfig // defaults applied
	client *http.Client
	log    *slog.Logger
	now    func() time.Time

	keys atomic.Pointer[keySet]

	mu          sync.Mutex
	inflight    *fetchCall
	lastAttempt time.Time
	lastErr     error
	jwksURI     string // from discovery; cleared when a JWKS fetch fails so discovery runs again
}

type fetchCall struct {
	done chan struct{}
	set  *keySet
	err  error
}

func newKeySource(cfg IssuerConfig, client *http.Client, log *slog.Logger, now func() time.Time) (*keySource, error) {
	s := &keySource{cfg: cfg, client: checkedRedirects(client, cfg.AllowHTTP), log: log, now: now, jwksURI: cfg.JWKSURI}
	if cfg.JWKS != "" {
		set, err := parseKeySet([]byte(cfg.JWKS), nil)
		if err != nil {
			return nil, fmt.Errorf("load issuer %s keys: %w", cfg.Name, err)
		}
		s.keys.Store(set)
	}
	return s, nil
}

// static reports whether the key set is inline configuration and never changes.
func (s *keySource) static() bool { return s.cfg.JWKS != "" }

// current returns the cached key set, nil before the first successful fetch.
func (s *keySource) current() *keySet { return s.keys.Load() }

// refresh fetches the key set now. With rateLimited set, it returns errRateLimited instead when the last attempt
// was less than MinRefreshInterval ago. The fetch itself outlives ctx (other callers may be waiting for it); ctx
// only bounds how long this caller waits.
func (s *keySource) refresh(ctx context.Context, rateLimited bool) (*keySet, error) {
	if s.static() {
		return s.current(), nil
	}
	s.mu.Lock()
	c := s.inflight
	if c == nil {
		if rateLimited && !s.lastAttempt.IsZero() &&
			s.now().Sub(s.lastAttempt) < time.Duration(s.cfg.MinRefreshInterval) {
			err := s.lastErr
			s.mu.Unlock()
			if err != nil {
				return nil, fmt.Errorf("%w: %w", errRateLimited, err)
			}
			return nil, errRateLimited
		}
		c = &fetchCall{done: make(chan struct{})}
		s.inflight = c
		s.lastAttempt = s.now()
		go s.run(context.WithoutCancel(ctx), c)
	}
	s.mu.Unlock()
	select {
	case <-c.done:
		return c.set, c.err
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for issuer %s keys: %w", s.cfg.Name, ctx.Err())
	}
}

func (s *keySource) run(ctx context.Context, c *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	set, err := s.fetch(ctx)
	if err == nil {
		s.keys.Store(set)
		s.log.DebugContext(ctx, "issuer keys loaded", "issuer", s.cfg.Name, "keys", len(set.all))
	} else {
		s.log.WarnContext(ctx, "issuer keys not loaded", "issuer", s.cfg.Name, "err", err)
	}
	s.mu.Lock()
	s.inflight = nil
	s.lastErr = err
	s.mu.Unlock()
	c.set, c.err = set, err
	close(c.done)
}

// fetch reads the key set from its source. Only one fetch runs at a time (refresh guarantees it), so jwksURI
// needs the lock only against readers in refresh, which never read it.
func (s *keySource) fetch(ctx context.Context) (*keySet, error) {
	prev := s.current()
	if s.cfg.JWKSFile != "" {
		data, err := os.ReadFile(s.cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("read jwks file: %w", err)
		}
		return parseKeySet(data, prev)
	}
	if s.jwksURI == "" {
		uri, err := s.discover(ctx)
		if err != nil {
			return nil, err
		}
		s.jwksURI = uri
	}
	data, err := s.get(ctx, s.jwksURI)
	if err != nil {
		if s.cfg.JWKSURI == "" {
			s.jwksURI = "" // discover again next time: the provider may have moved its key set
		}
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	return parseKeySet(data, prev)
}

// discover reads the OIDC discovery document and returns its jwks_uri. The document's issuer must be exactly the
// configured issuer (OpenID Connect Discovery 1.0 §4.3).
func (s *keySource) discover(ctx context.Context) (string, error) {
	u := s.cfg.DiscoveryURL
	if u == "" {
		u = strings.TrimSuffix(s.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	}
	data, err := s.get(ctx, u)
	if err != nil {
		return "", fmt.Errorf("fetch discovery document: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("decode discovery document: %w", err)
	}
	if doc.Issuer != s.cfg.Issuer {
		return "", fmt.Errorf("check discovery document: issuer %q differs from the configured %q", doc.Issuer, s.cfg.Issuer)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("check discovery document: no jwks_uri")
	}
	if err := checkFetchURL(doc.JWKSURI, s.cfg.AllowHTTP); err != nil {
		return "", fmt.Errorf("check discovery document: jwks_uri: %w", err)
	}
	return doc.JWKSURI, nil
}

// maxRedirects is how many redirects one discovery or JWKS fetch follows (net/http's own default).
const maxRedirects = 10

// checkedRedirects returns a copy of client that follows a redirect only to a URL the configuration itself could
// name (checkFetchURL: https, or http on loopback or with allowHTTP), and never from https to http: the key set
// decides which tokens are accepted, so a plaintext hop would let anyone on its path substitute the keys. The
// client's own CheckRedirect, if any, is consulted as well.
func checkedRedirects(client *http.Client, allowHTTP bool) *http.Client {
	c := *client
	next := client.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkFetchURL(req.URL.String(), allowHTTP); err != nil {
			return fmt.Errorf("refuse redirect: %w", err)
		}
		if len(via) > 0 && via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("refuse redirect from https to %s", req.URL.Redacted())
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		return nil
	}
	return &c
}

func (s *keySource) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDocumentSize))
		return nil, fmt.Errorf("get %s: status %s", url, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	if len(data) > maxDocumentSize {
		return nil, fmt.Errorf("read %s: larger than %d bytes", url, maxDocumentSize)
	}
	return data, nil
}
