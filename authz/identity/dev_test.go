package identity_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/mcpgw/mcpgw/authz/identity"
)

func TestDevIssuer(t *testing.T) {
	// Invariant: a dev token carries iss, aud, sub, groups, iat, exp, jti and the kid, and verifies through the
	// issuer entry DevIssuer.IssuerConfig returns, like any configured issuer.
	dir := t.TempDir()
	clk := newClock()
	dev, err := identity.LoadOrCreateDevIssuer(dir, identity.DevOptions{Now: clk.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, identity.DevKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if bytes.Contains(dev.JWKS(), []byte(`"d"`)) {
		t.Fatalf("public JWKS leaks the private key: %s", dev.JWKS())
	}

	tok, err := dev.Issue("alice", []string{"g1", "g2"}, time.Hour, identity.WithScopes("tools:read", "tools:call"))
	if err != nil {
		t.Fatal(err)
	}
	var hdr map[string]any
	if err := json.Unmarshal(mustB64(t, split3(tok)[0]), &hdr); err != nil {
		t.Fatal(err)
	}
	if hdr["alg"] != "ES256" || hdr["kid"] != dev.KeyID() {
		t.Errorf("header %v, want ES256 with kid %s", hdr, dev.KeyID())
	}
	var claims map[string]any
	if err := json.Unmarshal(mustB64(t, split3(tok)[1]), &claims); err != nil {
		t.Fatal(err)
	}
	now := float64(clk.Now().Unix())
	for k, want := range map[string]any{
		"iss": identity.DevIssuerID, "sub": "alice", "iat": now, "exp": now + 3600, "scope": "tools:read tools:call",
	} {
		if claims[k] != want {
			t.Errorf("claim %s = %v, want %v", k, claims[k], want)
		}
	}
	if jti, _ := claims["jti"].(string); len(jti) < 16 {
		t.Errorf("jti %v", claims["jti"])
	}

	v, err := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{dev.IssuerConfig()}},
		identity.Options{Now: clk.Now, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "alice" || !slices.Equal(p.Groups, []string{"g1", "g2"}) || !slices.Equal(p.Scopes, []string{"tools:read", "tools:call"}) {
		t.Errorf("principal %+v", p)
	}

	// A machine token: the subject is the client id.
	mt, err := dev.Issue("ci-bot", nil, time.Minute, identity.WithClientID("ci-bot"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := v.Verify(context.Background(), mt); err != nil || !p.IsMachine() || p.ClientID != "ci-bot" {
		t.Errorf("machine token: %+v, %v", p, err)
	}
	// Another audience is not accepted by the dev issuer entry.
	other, err := dev.Issue("alice", nil, time.Minute, identity.WithAudience("someone-else"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), other); !errors.Is(err, identity.ErrAudience) {
		t.Errorf("foreign audience: %v", err)
	}

	// Reloading keeps the key: tokens issued before a restart stay valid.
	again, err := identity.LoadOrCreateDevIssuer(dir, identity.DevOptions{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if again.KeyID() != dev.KeyID() || !bytes.Equal(again.JWKS(), dev.JWKS()) {
		t.Fatal("reload produced another key")
	}
}

func TestDevIssuerOptions(t *testing.T) {
	// Invariant: EdDSA keys and a custom issuer work end to end; bad requests and bad key files are errors.
	dir := t.TempDir()
	dev, err := identity.LoadOrCreateDevIssuer(dir, identity.DevOptions{Algorithm: "EdDSA", Issuer: "http://localhost:8080"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := dev.IssuerConfig()
	if cfg.Issuer != "http://localhost:8080" || !slices.Equal(cfg.Algorithms, []string{"EdDSA"}) {
		t.Fatalf("issuer config %+v", cfg)
	}
	v, err := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{cfg}}, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := dev.Issue("bob", []string{"x"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}

	if _, err := dev.Issue("", nil, time.Minute); err == nil {
		t.Error("empty subject accepted")
	}
	if _, err := dev.Issue("bob", nil, 0); err == nil {
		t.Error("zero ttl accepted")
	}
	if _, err := identity.LoadOrCreateDevIssuer(t.TempDir(), identity.DevOptions{Algorithm: "RS256"}); !errors.Is(err, identity.ErrInvalidConfig) {
		t.Errorf("RS256 dev key: %v", err)
	}

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k, err := jwk.FromRaw(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	_ = k.Set(jwk.KeyIDKey, "r")
	rsaJSON, _ := json.Marshal(k)
	pubJSON, _ := json.Marshal(mustPublic(t, k))
	for name, content := range map[string][]byte{
		"garbage": []byte("not json"), "rsa": rsaJSON, "public only": pubJSON,
	} {
		bad := t.TempDir()
		if err := os.WriteFile(filepath.Join(bad, identity.DevKeyFile), content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := identity.LoadOrCreateDevIssuer(bad, identity.DevOptions{}); err == nil {
			t.Errorf("%s key file accepted", name)
		}
	}
}

func TestDevIssuerConcurrentCreation(t *testing.T) {
	// Invariant: processes and goroutines that start at once on an empty data dir all end up with one and the
	// same key, and no temporary file is left behind.
	dir := filepath.Join(t.TempDir(), "data")
	const procs, goroutines = 3, 6
	kids := make(chan string, procs+goroutines)
	errs := make(chan error, procs+goroutines)
	var wg sync.WaitGroup
	for range procs {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestDevIssuerHelperProcess$")
			cmd.Env = append(os.Environ(), "MCPGW_TEST_DEV_ISSUER_DIR="+dir)
			out, err := cmd.Output()
			if err != nil {
				errs <- fmt.Errorf("helper process: %w: %s", err, out)
				return
			}
			for _, line := range strings.Split(string(out), "\n") {
				if kid, ok := strings.CutPrefix(line, "kid="); ok {
					kids <- kid
					return
				}
			}
			errs <- fmt.Errorf("helper process printed no kid: %s", out)
		})
	}
	for range goroutines {
		wg.Go(func() {
			d, err := identity.LoadOrCreateDevIssuer(dir, identity.DevOptions{})
			if err != nil {
				errs <- err
				return
			}
			kids <- d.KeyID()
		})
	}
	wg.Wait()
	close(kids)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var all []string
	for k := range kids {
		all = append(all, k)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(all)))) != 1 || len(all) != procs+goroutines {
		t.Fatalf("kids %v: want %d copies of one kid", all, procs+goroutines)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != identity.DevKeyFile {
		t.Fatalf("data dir holds %v, want only %s", entries, identity.DevKeyFile)
	}
}

// TestDevIssuerHelperProcess is the other process of TestDevIssuerConcurrentCreation; it does nothing on its own.
func TestDevIssuerHelperProcess(t *testing.T) {
	dir := os.Getenv("MCPGW_TEST_DEV_ISSUER_DIR")
	if dir == "" {
		t.Skip("helper process for TestDevIssuerConcurrentCreation")
	}
	d, err := identity.LoadOrCreateDevIssuer(dir, identity.DevOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("kid=%s\n", d.KeyID())
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := b64(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustPublic(t testing.TB, k jwk.Key) jwk.Key {
	t.Helper()
	p, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
