package endpoint_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/registry/toolserver/endpoint"
)

type callerKey struct{}

// authenticate stands in for the registry API in front of a mounted handler: it verifies the bearer token with the
// real verifier and puts the caller in the context, as api.PrincipalFrom reads it. Without a valid token it passes
// the request on without a caller, so the Handler's own refusal is exercised.
func authenticate(v *identity.Verifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if raw, err := identity.BearerToken(r.Header.Get("Authorization")); err == nil {
			if p, err := v.Verify(r.Context(), raw); err == nil {
				r = r.WithContext(context.WithValue(r.Context(), callerKey{}, p))
			}
		}
		next.ServeHTTP(w, r)
	})
}

func principalFrom(ctx context.Context) (identity.Principal, bool) {
	p, ok := ctx.Value(callerKey{}).(identity.Principal)
	return p, ok
}

type whoIn struct{}

type whoOut struct {
	Subject string   `json:"subject"`
	Groups  []string `json:"groups"`
}

type fixture struct {
	url string
	dev *identity.DevIssuer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dev, err := identity.LoadOrCreateDevIssuer(t.TempDir(), identity.DevOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := identity.NewVerifier(identity.Config{Issuers: []identity.IssuerConfig{dev.IssuerConfig()}}, identity.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: "who", Version: "1.0.0"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "whoami", Description: "the caller of this request"},
		func(_ context.Context, req *mcp.CallToolRequest, _ whoIn) (*mcp.CallToolResult, whoOut, error) {
			p, ok := endpoint.PrincipalOf(req.Extra)
			if !ok {
				return nil, whoOut{}, endpoint.Unauthorized()
			}
			return nil, whoOut{Subject: p.Subject, Groups: p.Groups}, nil
		})
	h, err := endpoint.New(func(*http.Request) *mcp.Server { return srv }, endpoint.Options{
		Principal: principalFrom, ResourceMetadataURL: "https://gw.example.com/.well-known/oauth-protected-resource/x",
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(authenticate(v, h))
	t.Cleanup(hs.Close)
	return &fixture{url: hs.URL, dev: dev}
}

func (f *fixture) token(t *testing.T, subject string, groups ...string) string {
	t.Helper()
	tok, err := f.dev.Issue(subject, groups, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// bearer adds a token to every request.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

func connect(t *testing.T, url string, tr *bearer, version string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1.0.0"}, nil)
	cs, err := c.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: tr},
		DisableStandaloneSSE: true}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connect (%s): %v", version, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

func whoami(t *testing.T, cs *mcp.ClientSession) whoOut {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "whoami", Arguments: map[string]any{}})
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	if res.IsError {
		t.Fatalf("whoami: %+v", res.Content)
	}
	m, _ := res.StructuredContent.(map[string]any)
	out := whoOut{}
	out.Subject, _ = m["subject"].(string)
	for _, g := range m["groups"].([]any) {
		out.Groups = append(out.Groups, g.(string))
	}
	return out
}

func TestBothRevisionsOnOnePath(t *testing.T) {
	// Invariant: one path serves a 2025-11-25 client a session (initialize, Mcp-Session-Id) and a 2026-07-28 client
	// the stateless revision (server/discover, no session); each request's tool handler sees that request's caller.
	f := newFixture(t)
	for _, c := range []struct {
		version, wantVersion string
		session              bool
	}{
		{version: "2025-11-25", wantVersion: "2025-11-25", session: true},
		{version: "2025-06-18", wantVersion: "2025-06-18", session: true},
		{version: "", wantVersion: "2026-07-28", session: false}, // the SDK's default: server/discover first
	} {
		t.Run(c.wantVersion, func(t *testing.T) {
			cs := connect(t, f.url, &bearer{token: f.token(t, "alice", "finance"), base: http.DefaultTransport}, c.version)
			if got := cs.InitializeResult().ProtocolVersion; got != c.wantVersion {
				t.Fatalf("negotiated %q, want %q", got, c.wantVersion)
			}
			if got := cs.ID() != ""; got != c.session {
				t.Fatalf("session id %q: want a session %v", cs.ID(), c.session)
			}
			if got := whoami(t, cs); got.Subject != "alice" || !slices.Equal(got.Groups, []string{"finance"}) {
				t.Fatalf("whoami = %+v", got)
			}
		})
	}
}

func TestSessionFollowsTheCurrentToken(t *testing.T) {
	// Invariant: within one session each request is answered for the token it carries (same caller, new groups),
	// and a different caller presenting the session id is refused with 403.
	f := newFixture(t)
	tr := &bearer{token: f.token(t, "alice", "finance"), base: http.DefaultTransport}
	cs := connect(t, f.url, tr, "2025-11-25")
	if got := whoami(t, cs); !slices.Equal(got.Groups, []string{"finance"}) {
		t.Fatalf("first call: %+v", got)
	}
	tr.token = f.token(t, "alice", "finance", "hr")
	if got := whoami(t, cs); !slices.Equal(got.Groups, []string{"finance", "hr"}) {
		t.Fatalf("after the token changed: %+v", got)
	}

	req, _ := http.NewRequest(http.MethodPost, f.url, strings.NewReader(`{"jsonrpc":"2.0","id":9,"method":"tools/list","params":{}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", cs.ID())
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	req.Header.Set("Authorization", "Bearer "+f.token(t, "mallory", "finance"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("another caller on alice's session: %d, want 403", resp.StatusCode)
	}
}

func TestRefusals(t *testing.T) {
	// Invariant: what the handler refuses before any MCP handler runs has a definite status: no caller 401 with
	// the resource metadata challenge, a GET or DELETE without a session 405 (Allow: POST), an unknown session 404,
	// and an oversized body 413.
	f := newFixture(t)
	tok := f.token(t, "alice")
	cases := []struct {
		name, method, body, token, session string
		want                               int
		check                              func(t *testing.T, r *http.Response)
	}{
		{name: "no caller", method: http.MethodPost, body: `{"jsonrpc":"2.0","id":1,"method":"ping"}`, want: http.StatusUnauthorized,
			check: func(t *testing.T, r *http.Response) {
				if h := r.Header.Get("WWW-Authenticate"); !strings.Contains(h, `resource_metadata="https://gw.example.com/`) {
					t.Errorf("WWW-Authenticate %q", h)
				}
			}},
		{name: "GET without session", method: http.MethodGet, token: tok, want: http.StatusMethodNotAllowed,
			check: func(t *testing.T, r *http.Response) {
				if r.Header.Get("Allow") != "POST" {
					t.Errorf("Allow %q", r.Header.Get("Allow"))
				}
			}},
		{name: "DELETE without session", method: http.MethodDelete, token: tok, want: http.StatusMethodNotAllowed},
		{name: "unknown session", method: http.MethodPost, token: tok, session: "nope",
			body: `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`, want: http.StatusNotFound},
		{name: "oversized", method: http.MethodPost, token: tok,
			body: `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", endpoint.DefaultMaxBody) + `"}}`,
			want: http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, f.url, strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			if c.session != "" {
				req.Header.Set("Mcp-Session-Id", c.session)
				req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.want)
			}
			if c.check != nil {
				c.check(t, resp)
			}
		})
	}
}

func TestOpensSession(t *testing.T) {
	// Invariant: exactly a POST body holding an initialize request (alone or in a batch) opens a session; anything
	// else, including malformed JSON, does not.
	for _, c := range []struct {
		body string
		want bool
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}`, true},
		{`  [{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":1,"method":"initialize"}]`, true},
		{`{"jsonrpc":"2.0","id":1,"method":"server/discover"}`, false},
		{`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, false},
		{`[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]`, false},
		{`{"method":"initialize"`, false},
		{`[1,2]`, false},
		{``, false},
		{`"initialize"`, false},
	} {
		if got := endpoint.OpensSession([]byte(c.body)); got != c.want {
			t.Errorf("OpensSession(%s) = %v, want %v", c.body, got, c.want)
		}
	}
}

func FuzzOpensSession(f *testing.F) {
	// Invariant: classifying an untrusted body never panics.
	for _, s := range []string{`{"method":"initialize"}`, `[{"method":"initialize"}]`, `[`, `{}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(_ *testing.T, b []byte) { _ = endpoint.OpensSession(b) })
}

func TestNewRefusesIncompleteOptions(t *testing.T) {
	// Invariant: a Handler without a server source or a caller source is a configuration error, typed.
	get := func(*http.Request) *mcp.Server { return nil }
	for _, c := range []struct {
		name string
		get  func(*http.Request) *mcp.Server
		opts endpoint.Options
	}{
		{"no getServer", nil, endpoint.Options{Principal: principalFrom}},
		{"no principal", get, endpoint.Options{}},
		{"negative timeout", get, endpoint.Options{Principal: principalFrom, SessionTimeout: -1}},
	} {
		if _, err := endpoint.New(c.get, c.opts); !errors.Is(err, endpoint.ErrInvalidOptions) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
