// Package oidc runs a real OAuth 2.0 / OpenID Connect provider, Ory Hydra, for tests: Start launches `hydra serve
// all --dev` with in-memory storage and JWT access tokens on free loopback ports, and the helpers create clients,
// fetch client-credentials tokens, drive the authorization-code flow for a user with groups (through a small
// login/consent app that accepts every request through Hydra's admin API), and rotate the signing keys.
//
// The hydra binary is looked up in $MCPGW_HYDRA_BIN, then <repo root>/bin/hydra, then $PATH. When it is missing the
// test is skipped with the install command, unless $MCPGW_REQUIRE_HYDRA is set (CI sets it), in which case the test
// fails. Install it with test/tools/hydra/install.sh.
package oidc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables Start reads.
const (
	// EnvHydraBin names the hydra binary to run.
	EnvHydraBin = "MCPGW_HYDRA_BIN"
	// EnvRequireHydra, when set to anything, turns a missing hydra binary into a test failure instead of a skip.
	EnvRequireHydra = "MCPGW_REQUIRE_HYDRA"
)

// InstallCommand is how a developer installs the binary Start needs (run from the repository root).
const InstallCommand = "test/tools/hydra/install.sh"

// AccessTokenKeySet is the Hydra key set whose newest key signs JWT access tokens.
const AccessTokenKeySet = "hydra.jwt.access-token"

// startTimeout bounds Hydra's start: on first start it generates two RSA-4096 key pairs, which takes seconds on a
// busy 2-core machine.
const startTimeout = 90 * time.Second

// Provider is a running Hydra.
type Provider struct {
	// Issuer is Hydra's issuer URL and public endpoint, http://127.0.0.1:<port>; it has no trailing slash.
	Issuer string
	// AdminURL is Hydra's admin endpoint.
	AdminURL string

	http  *http.Client
	login *httptest.Server

	mu      sync.Mutex
	pending map[string]User // by OAuth state, for the login/consent app
}

// Client is an OAuth client registered at the provider.
type Client struct {
	ID          string
	Secret      string
	RedirectURI string // authorization-code clients only
}

// User is who the login/consent app signs in for one authorization-code flow.
type User struct {
	Subject string
	// Groups go into the access token's session claims, which Hydra nests under "ext".
	Groups []string
	// Scopes requested (and granted); "openid" is added.
	Scopes []string
	// Audience requested (and granted).
	Audience []string
}

// Start runs Hydra for the test and stops it when the test ends.
func Start(t testing.TB) *Provider {
	t.Helper()
	bin := findHydra(t)
	p := &Provider{
		http:    &http.Client{Timeout: 30 * time.Second},
		pending: make(map[string]User),
	}
	p.login = httptest.NewServer(p.loginConsentHandler(t))
	t.Cleanup(p.login.Close)

	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ok, err := p.start(t, bin)
		if ok {
			return p
		}
		lastErr = err
		t.Logf("start hydra (attempt %d): %v", attempt+1, err)
	}
	t.Fatalf("start hydra: %v", lastErr)
	return nil
}

func findHydra(t testing.TB) string {
	t.Helper()
	if b := os.Getenv(EnvHydraBin); b != "" {
		if _, err := os.Stat(b); err != nil {
			t.Fatalf("%s=%s: %v", EnvHydraBin, b, err)
		}
		return b
	}
	if root, err := repoRoot(); err == nil {
		b := filepath.Join(root, "bin", "hydra")
		if fi, err := os.Stat(b); err == nil && !fi.IsDir() {
			return b
		}
	}
	if b, err := exec.LookPath("hydra"); err == nil {
		return b
	}
	msg := fmt.Sprintf("hydra binary not found (%s, <repo>/bin/hydra, PATH); install it with %s", EnvHydraBin, InstallCommand)
	if os.Getenv(EnvRequireHydra) != "" {
		t.Fatalf("%s is set: %s", EnvRequireHydra, msg)
	}
	t.Skip(msg)
	return ""
}

// repoRoot walks up from the working directory (a test's package directory) to the mcpgw module root.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repo root: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module github.com/mcpgw/mcpgw\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find repo root: no mcpgw go.mod above the working directory")
		}
		dir = parent
	}
}

// start launches one Hydra process; ok is false when it exited or never became ready (a port taken meanwhile).
func (p *Provider) start(t testing.TB, bin string) (bool, error) {
	t.Helper()
	pub, err := freePort()
	if err != nil {
		return false, err
	}
	adm, err := freePort()
	if err != nil {
		return false, err
	}
	issuer := "http://127.0.0.1:" + pub
	admin := "http://127.0.0.1:" + adm
	secret := randomHex(t, 24)

	cmd := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out")
	// A clean environment: Hydra reads its whole configuration from env vars, so nothing of the developer's may leak in.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"TMPDIR=" + os.TempDir(),
		"DSN=memory",
		"SECRETS_SYSTEM=" + secret,
		"URLS_SELF_ISSUER=" + issuer,
		"URLS_LOGIN=" + p.login.URL + "/login",
		"URLS_CONSENT=" + p.login.URL + "/consent",
		"STRATEGIES_ACCESS_TOKEN=jwt",
		"SERVE_PUBLIC_HOST=127.0.0.1",
		"SERVE_PUBLIC_PORT=" + pub,
		"SERVE_ADMIN_HOST=127.0.0.1",
		"SERVE_ADMIN_PORT=" + adm,
		"TTL_ACCESS_TOKEN=1h",
		"LOG_LEVEL=warn",
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("run %s: %w", bin, err)
	}
	// exited is closed once Wait returns; waitErr is set before that.
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}

	deadline := time.Now().Add(startTimeout)
	for _, u := range []string{admin + "/health/ready", issuer + "/.well-known/openid-configuration", issuer + "/.well-known/jwks.json"} {
		for {
			if resp, err := p.http.Get(u); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-exited:
				stop()
				return false, fmt.Errorf("hydra exited before it was ready: %w\n%s", waitErr, out.String())
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				stop()
				return false, fmt.Errorf("hydra not ready after %s\n%s", startTimeout, out.String())
			}
		}
	}
	p.Issuer, p.AdminURL = issuer, admin
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("hydra output:\n%s", out.String())
		}
	})
	return true, nil
}

// NewMachineClient registers a client for the client credentials grant, allowed the given scopes and audiences.
func (p *Provider) NewMachineClient(t testing.TB, scopes, audiences []string) Client {
	t.Helper()
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	p.admin(t, http.MethodPost, "/admin/clients", map[string]any{
		"client_name":                "mcpgw-test-machine",
		"grant_types":                []string{"client_credentials"},
		"scope":                      strings.Join(scopes, " "),
		"audience":                   nonNil(audiences),
		"token_endpoint_auth_method": "client_secret_basic",
		"access_token_strategy":      "jwt",
	}, &c)
	return Client{ID: c.ID, Secret: c.Secret}
}

// NewUserClient registers a client for the authorization code grant, allowed "openid" plus the given scopes and
// the given audiences.
func (p *Provider) NewUserClient(t testing.TB, scopes, audiences []string) Client {
	t.Helper()
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	redirect := p.login.URL + "/callback"
	p.admin(t, http.MethodPost, "/admin/clients", map[string]any{
		"client_name":                "mcpgw-test-user-app",
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"redirect_uris":              []string{redirect},
		"scope":                      strings.Join(append([]string{"openid", "offline_access"}, scopes...), " "),
		"audience":                   nonNil(audiences),
		"token_endpoint_auth_method": "client_secret_basic",
		"access_token_strategy":      "jwt",
	}, &c)
	return Client{ID: c.ID, Secret: c.Secret, RedirectURI: redirect}
}

// ClientCredentialsToken fetches an access token for c with the given scopes and audience.
func (p *Provider) ClientCredentialsToken(t testing.TB, c Client, scopes, audience []string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	if len(audience) > 0 {
		form.Set("audience", strings.Join(audience, " "))
	}
	return p.token(t, c, form)
}

// UserToken signs u in through the authorization code flow with client c and returns the access token. The
// login/consent app accepts the login for u.Subject and grants the requested scopes and audience, with u.Groups
// set as the access token's session claim "groups" (Hydra nests it under "ext").
func (p *Provider) UserToken(t testing.TB, c Client, u User) string {
	t.Helper()
	state := randomHex(t, 16)
	p.mu.Lock()
	p.pending[state] = u
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.pending, state)
		p.mu.Unlock()
	}()

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("create cookie jar: %v", err)
	}
	browser := &http.Client{
		Jar:     jar,
		Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), c.RedirectURI) {
				return http.ErrUseLastResponse
			}
			if len(via) > 20 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {c.ID},
		"redirect_uri":  {c.RedirectURI},
		"scope":         {strings.Join(append([]string{"openid"}, u.Scopes...), " ")},
		"state":         {state},
	}
	if len(u.Audience) > 0 {
		q.Set("audience", strings.Join(u.Audience, " "))
	}
	resp, err := browser.Get(p.Issuer + "/oauth2/auth?" + q.Encode())
	if err != nil {
		t.Fatalf("authorization request: %v", err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), c.RedirectURI) {
		t.Fatalf("authorization request ended with %s at %s, not a redirect to the client: %s", resp.Status, resp.Request.URL, body)
	}
	if e := loc.Query().Get("error"); e != "" {
		t.Fatalf("authorization request: %s: %s", e, loc.Query().Get("error_description"))
	}
	if got := loc.Query().Get("state"); got != state {
		t.Fatalf("authorization response state %q, want %q", got, state)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("authorization response without code: %s", loc)
	}
	return p.token(t, c, url.Values{
		"grant_type":   {"authorization_code"},
		"code":         {code},
		"redirect_uri": {c.RedirectURI},
	})
}

// RotateKey creates a new key in the access token key set; Hydra signs new access tokens with it at once, and
// publishes it in its JWKS beside the older keys. alg is e.g. "RS256" or "ES256". It returns the new kid.
func (p *Provider) RotateKey(t testing.TB, alg string) string {
	t.Helper()
	kid := "rotated-" + randomHex(t, 8)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	p.admin(t, http.MethodPost, "/admin/keys/"+AccessTokenKeySet, map[string]any{"alg": alg, "kid": kid, "use": "sig"}, &set)
	if len(set.Keys) != 1 || set.Keys[0].Kid != kid {
		t.Fatalf("rotate key: unexpected answer %+v", set)
	}
	return kid
}

// DeleteKey removes a key from the access token key set (and so from the public JWKS).
func (p *Provider) DeleteKey(t testing.TB, kid string) {
	t.Helper()
	p.admin(t, http.MethodDelete, "/admin/keys/"+AccessTokenKeySet+"/"+url.PathEscape(kid), nil, nil)
}

// JWKS returns the provider's public key set document.
func (p *Provider) JWKS(t testing.TB) []byte {
	t.Helper()
	resp, err := p.http.Get(p.Issuer + "/.well-known/jwks.json")
	if err != nil {
		t.Fatalf("get jwks: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("get jwks: %s %v", resp.Status, err)
	}
	return data
}

func (p *Provider) token(t testing.TB, c Client, form url.Values) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, p.Issuer+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("build token request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	// RFC 6749 §2.3.1: the client credentials are form-encoded before they go into Basic auth.
	req.SetBasicAuth(url.QueryEscape(c.ID), url.QueryEscape(c.Secret))
	resp, err := p.http.Do(req)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token request: %s: %s", resp.Status, data)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(data, &tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token response %s: %v", data, err)
	}
	if !strings.EqualFold(tok.TokenType, "bearer") {
		t.Fatalf("token type %q, want bearer", tok.TokenType)
	}
	return tok.AccessToken
}

// admin calls Hydra's admin API with a JSON body and decodes the JSON answer into out (when not nil).
func (p *Provider) admin(t testing.TB, method, path string, in, out any) {
	t.Helper()
	if err := p.adminCall(context.Background(), method, path, in, out); err != nil {
		t.Fatal(err)
	}
}

func (p *Provider) adminCall(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.AdminURL+path, body)
	if err != nil {
		return fmt.Errorf("build %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode %s %s: %w: %s", method, path, err, data)
		}
	}
	return nil
}

// loginConsentHandler is the provider's login and consent app: it accepts every request for the user registered
// under the flow's OAuth state. Failures are reported to the test and answered 500, which stops the flow.
func (p *Provider) loginConsentHandler(t testing.TB) http.Handler {
	mux := http.NewServeMux()
	fail := func(w http.ResponseWriter, format string, args ...any) {
		t.Errorf("login/consent app: "+format, args...)
		http.Error(w, "login/consent app failed", http.StatusInternalServerError)
	}
	userFor := func(requestURL string) (User, bool) {
		u, err := url.Parse(requestURL)
		if err != nil {
			return User{}, false
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		user, ok := p.pending[u.Query().Get("state")]
		return user, ok
	}
	mux.HandleFunc("GET /login", p.acceptStep("login", fail, userFor, func(u User, _ stepRequest) map[string]any {
		return map[string]any{"subject": u.Subject, "remember": false}
	}))
	mux.HandleFunc("GET /consent", p.acceptStep("consent", fail, userFor, func(u User, req stepRequest) map[string]any {
		groups := nonNil(u.Groups)
		return map[string]any{
			"grant_scope":                 nonNil(req.Scope),
			"grant_access_token_audience": nonNil(req.Audience),
			"remember":                    false,
			"session": map[string]any{
				"access_token": map[string]any{"groups": groups},
				"id_token":     map[string]any{"groups": groups},
			},
		}
	}))
	return mux
}

// stepRequest is what the login and consent apps read of Hydra's login or consent request.
type stepRequest struct {
	RequestURL string   `json:"request_url"`
	Scope      []string `json:"requested_scope"`
	Audience   []string `json:"requested_access_token_audience"`
}

// acceptStep handles one step of the flow ("login" or "consent"): it reads Hydra's request behind the challenge,
// finds the flow's user by the OAuth state of the original authorization request, accepts with the body that
// accept builds, and sends the browser on to where Hydra says.
func (p *Provider) acceptStep(step string, fail func(http.ResponseWriter, string, ...any), userFor func(string) (User, bool),
	accept func(User, stepRequest) map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := "?" + step + "_challenge=" + url.QueryEscape(r.URL.Query().Get(step+"_challenge"))
		var req stepRequest
		if err := p.adminCall(r.Context(), http.MethodGet, "/admin/oauth2/auth/requests/"+step+q, nil, &req); err != nil {
			fail(w, "%v", err)
			return
		}
		user, ok := userFor(req.RequestURL)
		if !ok {
			fail(w, "no pending user for %s", req.RequestURL)
			return
		}
		var accepted struct {
			RedirectTo string `json:"redirect_to"`
		}
		if err := p.adminCall(r.Context(), http.MethodPut, "/admin/oauth2/auth/requests/"+step+"/accept"+q, accept(user, req), &accepted); err != nil {
			fail(w, "%v", err)
			return
		}
		http.Redirect(w, r, accepted.RedirectTo, http.StatusFound)
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		return "", fmt.Errorf("find free port: %w", err)
	}
	return port, nil
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("read random: %v", err)
	}
	return hex.EncodeToString(b)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// syncBuffer collects the process output; the process writes from its own goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
