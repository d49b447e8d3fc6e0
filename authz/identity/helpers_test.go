package identity_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// testLogger sends slog output to t.Logf.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// clock is a manual clock for validity windows and refresh rate limits.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// signingKey is a private key of the fake identity provider.
type signingKey struct {
	alg jwa.SignatureAlgorithm
	key jwk.Key // private, with kid
}

// rsaKeys caches generated RSA keys: generating one costs tens of milliseconds, more under -race.
var rsaKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	var keys []*rsa.PrivateKey
	for range 3 {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys = append(keys, k)
	}
	return keys
})

var rsaNext atomic.Int32

func newSigningKey(t testing.TB, alg jwa.SignatureAlgorithm, kid string) signingKey {
	t.Helper()
	var raw any
	switch alg {
	case jwa.RS256, jwa.PS256:
		keys := rsaKeys()
		raw = keys[int(rsaNext.Add(1))%len(keys)]
	case jwa.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		raw = k
	case jwa.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		raw = k
	default:
		t.Fatalf("no key type for %s", alg)
	}
	k, err := jwk.FromRaw(raw)
	if err != nil {
		t.Fatal(err)
	}
	if kid != "" {
		if err := k.Set(jwk.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
	}
	return signingKey{alg: alg, key: k}
}

// sign makes a compact JWS of claims with extra protected headers.
func (k signingKey) sign(t testing.TB, claims map[string]any, extra map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	key := k.key
	if kid, ok := extra["kid"]; ok {
		// jwx writes the key's own kid into the header; sign with a copy that carries the wanted one.
		c, err := key.Clone()
		if err != nil {
			t.Fatal(err)
		}
		if kid == "" {
			err = c.Remove(jwk.KeyIDKey)
		} else {
			err = c.Set(jwk.KeyIDKey, kid)
		}
		if err != nil {
			t.Fatal(err)
		}
		key = c
	}
	hdr := jws.NewHeaders()
	for name, v := range extra {
		if name == "kid" {
			continue
		}
		if err := hdr.Set(name, v); err != nil {
			t.Fatal(err)
		}
	}
	out, err := jws.Sign(payload, jws.WithKey(k.alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// unsigned builds a token from a raw header and payload with the given signature bytes, bypassing jwx, for the
// attacks jwx refuses to produce.
func unsigned(t testing.TB, header, claims map[string]any, sig func(signingInput string) []byte) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p)
	var s []byte
	if sig != nil {
		s = sig(in)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(s)
}

// fakeIdP is an OIDC discovery + JWKS endpoint over real HTTP, serving the public halves of its keys.
type fakeIdP struct {
	srv *httptest.Server

	mu     sync.Mutex
	keys   []signingKey
	status int           // when not 0, the JWKS endpoint answers this status
	gate   chan struct{} // when not nil, the JWKS endpoint waits for it to close

	discoveryHits atomic.Int32
	jwksHits      atomic.Int32
}

func newFakeIdP(t testing.TB) *fakeIdP {
	f := &fakeIdP{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		f.discoveryHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": f.srv.URL, "jwks_uri": f.srv.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		f.jwksHits.Add(1)
		f.mu.Lock()
		gate := f.gate
		f.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-r.Context().Done():
				return
			}
		}
		f.mu.Lock()
		status := f.status
		set := jwk.NewSet()
		for _, k := range f.keys {
			pub, err := k.key.PublicKey()
			if err != nil {
				f.mu.Unlock()
				http.Error(w, err.Error(), 500)
				return
			}
			_ = pub.Set(jwk.AlgorithmKey, k.alg)
			_ = set.AddKey(pub)
		}
		f.mu.Unlock()
		if status != 0 {
			http.Error(w, "unavailable", status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIdP) issuer() string { return f.srv.URL }

// addKey creates and publishes a key.
func (f *fakeIdP) addKey(t testing.TB, alg jwa.SignatureAlgorithm) signingKey {
	t.Helper()
	k := newSigningKey(t, alg, randomKid(t))
	f.mu.Lock()
	f.keys = append(f.keys, k)
	f.mu.Unlock()
	return k
}

func (f *fakeIdP) removeKey(kid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, k := range f.keys {
		if k.key.KeyID() == kid {
			f.keys = append(f.keys[:i], f.keys[i+1:]...)
			return
		}
	}
}

// hold makes JWKS requests wait until the returned func is called.
func (f *fakeIdP) hold() (release func()) {
	gate := make(chan struct{})
	f.mu.Lock()
	f.gate = gate
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			f.gate = nil
			f.mu.Unlock()
			close(gate)
		})
	}
}

func (f *fakeIdP) setStatus(s int) {
	f.mu.Lock()
	f.status = s
	f.mu.Unlock()
}

func randomKid(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// waitFor polls cond until it holds or the test's patience runs out. It waits for an event, it does not assert a
// duration.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}
