package identity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// MaxTokenSize bounds the bearer token length Verify accepts.
const MaxTokenSize = 16 << 10

// maxUnixSeconds is 9999-12-31T23:59:59Z; time claims beyond it are invalid.
const maxUnixSeconds = 253402300799

// Options are the Verifier's collaborators; every field is optional.
type Options struct {
	// Logger receives key refresh events; a "component" attribute is added. Nil discards.
	Logger *slog.Logger
	// HTTPClient fetches discovery documents and key sets; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// Now is the clock for token validity and refresh rate limits; nil means time.Now.
	Now func() time.Time
	// CacheSize is how many verified tokens are remembered; 0 means DefaultCacheSize, negative disables the cache.
	CacheSize int
}

// Verifier validates bearer tokens from the configured issuers. It is safe for concurrent use.
type Verifier struct {
	byIss   map[string]*issuer
	issuers []*issuer
	cache   *tokenCache // nil when disabled
	sigEnc  *base64.Encoding
	now     func() time.Time
	log     *slog.Logger
}

// issuer is one configured issuer, compiled.
type issuer struct {
	cfg       IssuerConfig // defaults applied
	verifiers map[jwa.SignatureAlgorithm]jws.Verifier
	skew      float64 // seconds
	audiences []string
	audClaim  claimPath
	subject   claimPath
	clientID  []claimPath
	groups    []claimPath
	scopes    []claimPath
	machine   []machineRule
	keys      *keySource
}

type machineRule struct {
	claim  claimPath
	equals string
	prefix string
}

func (r *machineRule) matches(claims map[string]any) bool {
	v := r.claim.lookupString(claims)
	if v == "" {
		return false
	}
	if r.equals != "" {
		return v == r.equals
	}
	return strings.HasPrefix(v, r.prefix)
}

// NewVerifier validates cfg and builds a Verifier. It does no I/O: keys are fetched by Run, Refresh or the first
// Verify that needs them.
func NewVerifier(cfg Config, opts Options) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("create verifier: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "identity")
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	v := &Verifier{
		byIss: make(map[string]*issuer, len(cfg.Issuers)),
		// Strict: a signature with non-zero padding bits is another encoding of the same bytes; refuse it.
		sigEnc: base64.RawURLEncoding.Strict(),
		now:    now,
		log:    log,
	}
	switch {
	case opts.CacheSize == 0:
		v.cache = newTokenCache(DefaultCacheSize)
	case opts.CacheSize > 0:
		v.cache = newTokenCache(opts.CacheSize)
	}
	for _, ic := range cfg.Issuers {
		is, err := newIssuer(ic.withDefaults(), client, log, now)
		if err != nil {
			return nil, fmt.Errorf("create verifier: %w", err)
		}
		v.byIss[is.cfg.Issuer] = is
		v.issuers = append(v.issuers, is)
	}
	return v, nil
}

func newIssuer(cfg IssuerConfig, client *http.Client, log *slog.Logger, now func() time.Time) (*issuer, error) {
	is := &issuer{
		cfg:       cfg,
		verifiers: make(map[jwa.SignatureAlgorithm]jws.Verifier, len(cfg.Algorithms)),
		skew:      time.Duration(cfg.ClockSkew).Seconds(),
		audiences: cfg.Audiences,
	}
	for _, name := range cfg.Algorithms {
		alg := supportedAlgorithms[name]
		jv, err := jws.NewVerifier(alg)
		if err != nil {
			return nil, fmt.Errorf("create %s verifier: %w", name, err)
		}
		is.verifiers[alg] = jv
	}
	var err error
	compile := func(p ClaimPath) claimPath {
		cp, cerr := p.compile()
		err = errors.Join(err, cerr)
		return cp
	}
	is.audClaim = compile(cfg.AudienceClaim)
	is.subject = compile(cfg.Claims.Subject)
	for _, p := range cfg.Claims.ClientID {
		is.clientID = append(is.clientID, compile(p))
	}
	for _, p := range cfg.Claims.Groups {
		is.groups = append(is.groups, compile(p))
	}
	for _, p := range cfg.Claims.Scopes {
		is.scopes = append(is.scopes, compile(p))
	}
	for _, r := range cfg.Claims.Machine {
		is.machine = append(is.machine, machineRule{claim: compile(r.Claim), equals: r.Equals, prefix: r.Prefix})
	}
	if err != nil {
		return nil, fmt.Errorf("compile issuer %s claims: %w", cfg.Name, err)
	}
	is.keys, err = newKeySource(cfg, client, log, now)
	if err != nil {
		return nil, err
	}
	return is, nil
}

// header is the part of the JOSE header the verifier reads.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Crit json.RawMessage `json:"crit"`
}

// Verify validates a bearer token (the bare JWT, without "Bearer ") and returns its Principal. Errors match
// ErrNoToken, ErrInvalidToken (and a specific sentinel) or ErrKeysUnavailable.
func (v *Verifier) Verify(ctx context.Context, raw string) (Principal, error) {
	if raw == "" {
		return Principal{}, ErrNoToken
	}
	now := v.now()
	if v.cache != nil {
		if p, ok := v.cache.get(raw, now); ok {
			return p, nil
		}
	}
	p, e, err := v.verify(ctx, raw, now)
	if err != nil {
		return Principal{}, fmt.Errorf("verify token: %w", err)
	}
	if v.cache != nil && e != nil {
		v.cache.put(raw, e, now)
	}
	return p, nil
}

// verify does the full verification; the returned entry is what the cache may keep.
func (v *Verifier) verify(ctx context.Context, raw string, now time.Time) (Principal, *cacheEntry, error) {
	if len(raw) > MaxTokenSize {
		return Principal{}, nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformedToken, MaxTokenSize)
	}
	dot1 := strings.IndexByte(raw, '.')
	dot2 := strings.LastIndexByte(raw, '.')
	if dot1 < 0 || dot1 == dot2 || strings.IndexByte(raw[dot1+1:dot2], '.') >= 0 {
		return Principal{}, nil, fmt.Errorf("%w: not a compact JWS", ErrMalformedToken)
	}
	// One copy of the token: the signing input is a prefix of it, and the decoded parts go into one buffer.
	b := []byte(raw)
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, enc.DecodedLen(len(raw)))
	var err error
	if buf, err = enc.AppendDecode(buf, b[:dot1]); err != nil {
		return Principal{}, nil, fmt.Errorf("%w: header: %w", ErrMalformedToken, err)
	}
	hdrJSON := buf
	var hdr header
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return Principal{}, nil, fmt.Errorf("%w: header: %w", ErrMalformedToken, err)
	}
	alg, ok := supportedAlgorithms[hdr.Alg]
	if !ok {
		// "none", HS256/384/512 and anything unknown: rejected before any key is touched.
		return Principal{}, nil, fmt.Errorf("%w: %q", ErrAlgorithmNotAllowed, truncate(hdr.Alg))
	}
	if len(hdr.Crit) > 0 {
		return Principal{}, nil, fmt.Errorf("%w: critical header extensions are not supported", ErrMalformedToken)
	}
	start := len(buf)
	if buf, err = enc.AppendDecode(buf, b[dot1+1:dot2]); err != nil {
		return Principal{}, nil, fmt.Errorf("%w: payload: %w", ErrMalformedToken, err)
	}
	payload := buf[start:]
	start = len(buf)
	if buf, err = v.sigEnc.AppendDecode(buf, b[dot2+1:]); err != nil {
		return Principal{}, nil, fmt.Errorf("%w: signature: %w", ErrMalformedToken, err)
	}
	sig := buf[start:]

	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		return Principal{}, nil, fmt.Errorf("%w: payload: %w", ErrMalformedToken, err)
	}
	issValue, _ := claims["iss"].(string)
	if issValue == "" {
		return Principal{}, nil, fmt.Errorf("%w: iss", ErrMissingClaim)
	}
	is := v.byIss[issValue]
	if is == nil {
		return Principal{}, nil, fmt.Errorf("%w: %q", ErrUnknownIssuer, truncate(issValue))
	}
	jv, ok := is.verifiers[alg]
	if !ok {
		return Principal{}, nil, fmt.Errorf("issuer %s: %w: %s", is.cfg.Name, ErrAlgorithmNotAllowed, alg)
	}
	key, err := v.verifySignature(ctx, is, jv, alg, hdr.Kid, b[:dot2], sig)
	if err != nil {
		return Principal{}, nil, fmt.Errorf("issuer %s: %w", is.cfg.Name, err)
	}
	exp, err := is.checkTimes(claims, now)
	if err != nil {
		return Principal{}, nil, fmt.Errorf("issuer %s: %w", is.cfg.Name, err)
	}
	if aud, _ := is.audClaim.lookup(claims); !is.audienceOK(aud) {
		return Principal{}, nil, fmt.Errorf("issuer %s: %w", is.cfg.Name, ErrAudience)
	}
	p, err := is.principal(claims, exp)
	if err != nil {
		return Principal{}, nil, fmt.Errorf("issuer %s: %w", is.cfg.Name, err)
	}
	e := &cacheEntry{p: p, iss: is, key: key, notAfter: p.Expiry.Add(time.Duration(is.cfg.ClockSkew))}
	return p, e, nil
}

// verifySignature finds the key and checks the signature. An unknown kid, or a kid-less token no key verifies,
// triggers one rate-limited refresh of the key set.
func (v *Verifier) verifySignature(ctx context.Context, is *issuer, jv jws.Verifier, alg jwa.SignatureAlgorithm,
	kid string, signingInput, sig []byte) (*verifyKey, error) {
	var arr [4]*verifyKey
	set := is.keys.current()
	if set == nil {
		var err error
		if set, err = is.keys.refresh(ctx, true); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
		}
	}
	if k := tryKeys(jv, set.find(kid, alg, arr[:0]), signingInput, sig); k != nil {
		return k, nil
	}
	// A kid the set lacks may be a new key after a rotation. Without a kid, a rotation looks like a bad signature,
	// so the set is refreshed as well (rate-limited, so this cannot be used to hammer the issuer).
	known := kid != "" && set.byKid[kid] != nil
	if known {
		return nil, ErrBadSignature
	}
	fresh, err := is.keys.refresh(ctx, true)
	if err == nil && fresh != nil {
		if k := tryKeys(jv, fresh.find(kid, alg, arr[:0]), signingInput, sig); k != nil {
			return k, nil
		}
		set = fresh
	} else if err != nil && !errors.Is(err, errRateLimited) {
		v.log.WarnContext(ctx, "refresh issuer keys for unknown kid", "issuer", is.cfg.Name, "err", err)
	}
	if kid == "" {
		if len(set.find("", alg, arr[:0])) == 0 {
			return nil, ErrUnknownKey
		}
		return nil, ErrBadSignature
	}
	if set.byKid[kid] != nil {
		return nil, ErrBadSignature
	}
	return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, truncate(kid))
}

func tryKeys(jv jws.Verifier, keys []*verifyKey, signingInput, sig []byte) *verifyKey {
	for _, k := range keys {
		if jv.Verify(signingInput, sig, k.pub) == nil {
			return k
		}
	}
	return nil
}

// checkTimes validates exp (required), nbf and iat against now with the issuer's skew and returns exp.
func (is *issuer) checkTimes(claims map[string]any, now time.Time) (time.Time, error) {
	t := float64(now.UnixNano()) / 1e9
	exp, ok := numericDate(claims["exp"])
	if !ok {
		return time.Time{}, fmt.Errorf("%w: exp", ErrMissingClaim)
	}
	if t > exp+is.skew {
		return time.Time{}, ErrExpired
	}
	for _, name := range [...]string{"nbf", "iat"} {
		v, present := claims[name]
		if !present {
			continue
		}
		at, ok := numericDate(v)
		if !ok {
			return time.Time{}, fmt.Errorf("%w: %s", ErrMissingClaim, name)
		}
		if at > t+is.skew {
			return time.Time{}, ErrNotYetValid
		}
	}
	sec, frac := math.Modf(exp)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// numericDate reads a JWT NumericDate (RFC 7519 §2): a JSON number of seconds, within years 1970..9999.
func numericDate(v any) (float64, bool) {
	f, ok := v.(float64)
	if !ok || f < 0 || f > maxUnixSeconds {
		return 0, false
	}
	return f, true
}

func (is *issuer) audienceOK(aud any) bool {
	switch aud := aud.(type) {
	case string:
		for _, a := range is.audiences {
			if a == aud {
				return true
			}
		}
	case []any:
		for _, x := range aud {
			s, _ := x.(string)
			for _, a := range is.audiences {
				if s != "" && a == s {
					return true
				}
			}
		}
	}
	return false
}

// principal maps the verified claims through the issuer's claim paths and applies the machine rule.
func (is *issuer) principal(claims map[string]any, exp time.Time) (Principal, error) {
	p := Principal{Issuer: is.cfg.Issuer, Claims: claims, Expiry: exp}
	p.Subject = is.subject.lookupString(claims)
	for i := range is.clientID {
		if p.AuthorizedParty = is.clientID[i].lookupString(claims); p.AuthorizedParty != "" {
			break
		}
	}
	for i := range is.groups {
		p.Groups = is.groups[i].appendStrings(p.Groups, claims, false)
	}
	p.Groups = dedupe(p.Groups)
	for i := range is.scopes {
		if _, ok := is.scopes[i].lookup(claims); ok {
			p.Scopes = dedupe(is.scopes[i].appendStrings(nil, claims, true))
			break
		}
	}
	client := p.AuthorizedParty
	machine := p.Subject == "" ||
		client != "" && (p.Subject == client || p.Subject == client+"@clients")
	for i := 0; !machine && i < len(is.machine); i++ {
		machine = is.machine[i].matches(claims)
	}
	if machine {
		if client == "" {
			return Principal{}, fmt.Errorf("%w: neither a subject nor a client id", ErrMissingClaim)
		}
		p.Subject, p.ClientID = "", client
	}
	return p, nil
}

// Run keeps every issuer's key set fresh until ctx is done: it fetches at once, then every RefreshInterval, and
// retries a failed fetch with backoff from MinRefreshInterval up to RefreshInterval. It returns nil when ctx ends.
func (v *Verifier) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, is := range v.issuers {
		if is.keys.static() {
			continue
		}
		wg.Go(func() { v.refreshLoop(ctx, is) })
	}
	wg.Wait()
	return nil
}

func (v *Verifier) refreshLoop(ctx context.Context, is *issuer) {
	interval := time.Duration(is.cfg.RefreshInterval)
	backoff := time.Duration(is.cfg.MinRefreshInterval)
	for {
		wait := interval
		if _, err := is.keys.refresh(ctx, false); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = backoff
			backoff = min(2*backoff, interval)
		} else {
			backoff = time.Duration(is.cfg.MinRefreshInterval)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Refresh fetches every issuer's key set now, ignoring the rate limit, and reports the failures joined. Use it to
// warm the verifier at start or to check that the issuers are reachable.
func (v *Verifier) Refresh(ctx context.Context) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, is := range v.issuers {
		wg.Go(func() {
			if _, err := is.keys.refresh(ctx, false); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("refresh issuer %s keys: %w: %w", is.cfg.Name, ErrKeysUnavailable, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Issuers returns the configured issuer values ("iss"), in configuration order.
func (v *Verifier) Issuers() []string {
	out := make([]string, len(v.issuers))
	for i, is := range v.issuers {
		out[i] = is.cfg.Issuer
	}
	return out
}

// truncate shortens untrusted text before it goes into an error message.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
