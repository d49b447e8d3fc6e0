package virtual

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/policy"
	"github.com/mcpgw/mcpgw/registry/catalog"
)

type echoIn struct {
	Text string `json:"text"`
}

type echoOut struct {
	Text string `json:"text"`
}

// upstream is a go-sdk MCP server (sessions) that records the headers of every request.
type upstream struct {
	url  string
	mu   sync.Mutex
	seen []http.Header
}

func (u *upstream) headers() []http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]http.Header(nil), u.seen...)
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "echo", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo"}, func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, echoOut, error) {
		return nil, echoOut(in), nil
	})
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil)
	u := &upstream{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Header.Clone())
		u.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	u.url = hs.URL
	return u
}

type fixedSecret map[string]string

func (f fixedSecret) Resolve(_ context.Context, ref string) (string, error) {
	if v, ok := f[ref]; ok {
		return v, nil
	}
	return "", &SecretError{Ref: ref, Reason: "unknown in the test"}
}

func testPool(secrets SecretResolver) *pool {
	return newPool("test", "1.0.0", secrets, http.DefaultTransport, 5*time.Second, slog.New(slog.DiscardHandler))
}

func target1(url string, auth *catalog.EgressAuth) target {
	return target{server: "test/echo", version: &catalog.ServerVersion{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP,
		URL: url, EgressAuth: auth}}
}

func TestPoolSharesOneSessionAndSendsCredentials(t *testing.T) {
	// Invariant: calls to one upstream share one session (one initialize) whatever the caller; every upstream
	// request carries the egress credentials, and a call's identity headers ride on that call's requests only.
	u := newUpstream(t)
	p := testPool(fixedSecret{"env:KEY": "k-1"})
	defer p.closeIdle(time.Time{})
	tg := target1(u.url, &catalog.EgressAuth{Type: "header", Header: "X-Api-Key", SecretRef: "env:KEY"})
	for _, who := range []string{"alice", "bob"} {
		res, err := p.call(t.Context(), tg, "echo", []byte(`{"text":"hi"}`), map[string]string{"x-mcpgw-subject": who}, nil)
		if err != nil || res.IsError {
			t.Fatalf("call as %s: %v %+v", who, err, res)
		}
	}
	inits, calls := 0, map[string]int{}
	for _, h := range u.headers() {
		if h.Get("X-Api-Key") != "k-1" {
			t.Errorf("a request without the credentials: %v", h)
		}
		if h.Get("Mcp-Session-Id") == "" {
			inits++
			if s := h.Get("X-Mcpgw-Subject"); s != "" {
				t.Errorf("the shared session was opened with %s's identity", s)
			}
		}
		calls[h.Get("X-Mcpgw-Subject")]++
	}
	if inits > 2 || p.len() != 1 { // discover may precede initialize
		t.Errorf("%d requests without a session, %d pooled sessions", inits, p.len())
	}
	if calls["alice"] != 1 || calls["bob"] != 1 {
		t.Errorf("identity headers per call: %v", calls)
	}
}

func TestPoolClosesIdleSessions(t *testing.T) {
	// Invariant: closeIdle closes exactly the sessions last used before the cutoff, and the next call opens a new
	// one.
	u := newUpstream(t)
	p := testPool(nil)
	tg := target1(u.url, nil)
	if _, err := p.call(t.Context(), tg, "echo", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := p.closeIdle(time.Now().Add(-time.Hour)); n != 0 || p.len() != 1 {
		t.Fatalf("a session used just now was closed (%d), %d left", n, p.len())
	}
	if n := p.closeIdle(time.Now().Add(time.Hour)); n != 1 || p.len() != 0 {
		t.Fatalf("closed %d, %d left", n, p.len())
	}
	if _, err := p.call(t.Context(), tg, "echo", nil, nil, nil); err != nil || p.len() != 1 {
		t.Fatalf("after closing: %v, %d sessions", err, p.len())
	}
	p.closeIdle(time.Time{})
}

func TestPoolKeepsSessionsInUse(t *testing.T) {
	// Invariant: closeIdle never closes a session a call is using, however long the call has run; once the call is
	// over the session is idle like any other.
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s := mcp.NewServer(&mcp.Implementation{Name: "slow", Version: "1.0.0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "wait"}, func(ctx context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, echoOut, error) {
		close(entered)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, echoOut(in), nil
	})
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	t.Cleanup(hs.Close)
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	p := testPool(nil)
	defer p.closeIdle(time.Time{})
	done := make(chan error, 1)
	go func() {
		res, err := p.call(t.Context(), target1(hs.URL, nil), "wait", []byte(`{"text":"x"}`), nil, nil)
		if err == nil && res.IsError {
			err = errors.New("isError")
		}
		done <- err
	}()
	<-entered
	// The session's last use is older than this cutoff: only the call in flight keeps it open. (Closing it would
	// also block closeIdle until the call ends, hence the guard.)
	closed := make(chan int, 1)
	go func() { closed <- p.closeIdle(time.Now().Add(time.Hour)) }()
	select {
	case n := <-closed:
		if n != 0 {
			t.Errorf("closed %d sessions while a call was using them", n)
		}
	case <-time.After(20 * time.Second):
		t.Error("closeIdle is stuck closing the session a call is using")
	}
	unblock()
	if err := <-done; err != nil {
		t.Fatalf("the call whose session was idle-closed: %v", err)
	}
	if n := p.closeIdle(time.Now().Add(time.Hour)); n != 1 || p.len() != 0 {
		t.Errorf("after the call: closed %d, %d left", n, p.len())
	}
}

func TestPoolRefusesWhatItCannotDo(t *testing.T) {
	// Invariant: an upstream the pool cannot call as configured fails with an UpstreamError that says why, before
	// any request leaves: forward_authorization, an unsupported egress type, an unresolvable secret, no resolver.
	u := newUpstream(t)
	fwd := target1(u.url, nil)
	fwd.version.ForwardAuthorization = true
	for _, c := range []struct {
		name    string
		secrets SecretResolver
		tg      target
		want    string
	}{
		{"forward", nil, fwd, "forward_authorization"},
		{"oauth2", fixedSecret{}, target1(u.url, &catalog.EgressAuth{Type: "oauth2-client-credentials", SecretRef: "env:X"}), "oauth2-client-credentials"},
		{"unresolved", fixedSecret{}, target1(u.url, &catalog.EgressAuth{Type: "bearer", SecretRef: "env:NOPE"}), "unknown in the test"},
		{"no resolver", nil, target1(u.url, &catalog.EgressAuth{Type: "bearer", SecretRef: "env:NOPE"}), "resolves no secrets"},
	} {
		p := testPool(c.secrets)
		_, err := p.call(t.Context(), c.tg, "echo", nil, nil, nil)
		var ue *UpstreamError
		if !errors.As(err, &ue) || !errors.Is(err, ErrUpstream) || !strings.Contains(ue.Reason, c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	if n := len(u.headers()); n != 0 {
		t.Errorf("%d requests reached the upstream", n)
	}
}

func TestEgressDoesNotLeakIntoTheSharedContext(t *testing.T) {
	// Invariant: valueless keeps cancellation and drops every value, so an incoming request's context values
	// (go-sdk's protocol revision, a caller's headers) never reach a shared upstream session.
	type key struct{}
	parent, cancel := context.WithCancel(context.WithValue(withHeaders(t.Context(), map[string]string{"a": "b"}), key{}, 1))
	v := valueless{parent}
	if v.Value(key{}) != nil || v.Value(headersKey{}) != nil {
		t.Fatal("values leaked")
	}
	cancel()
	if v.Err() == nil {
		t.Fatal("cancellation lost")
	}
}

func TestRuntimeRefusesAnonymousRequests(t *testing.T) {
	// Invariant: a request without an authenticated caller is 401 with a Bearer challenge naming the resource
	// metadata, and builds no endpoint (an anonymous caller cannot grow the runtime's state with made-up names).
	rt, err := New(Options{
		Catalog:   mapCatalog{},
		Access:    func(context.Context, identity.Principal) (Visible, error) { return nil, errors.New("not asked") },
		Policy:    &policy.Engine{},
		Principal: func(context.Context) (identity.Principal, bool) { return identity.Principal{}, false },
		PublicURL: "https://gw.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, PathPrefix+"made-up-"+strconv.Itoa(i), strings.NewReader("{}")))
		if rec.Code != http.StatusUnauthorized ||
			rec.Header().Get("WWW-Authenticate") != `Bearer resource_metadata="https://gw.example.com/.well-known/oauth-protected-resource/virtual/made-up-`+strconv.Itoa(i)+`"` ||
			!strings.Contains(rec.Body.String(), `"code":-32033`) {
			t.Fatalf("%d %q %s", rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body)
		}
	}
	if n := len(rt.endpoints); n != 0 {
		t.Errorf("%d endpoints built for anonymous requests", n)
	}
}

func TestRunWithTinyUpstreamIdle(t *testing.T) {
	// Invariant: any UpstreamIdle New accepts gives Run a valid sweep interval (a 1ns idle time once made the ticker
	// interval zero, and Run panicked).
	rt, err := New(Options{
		Catalog:      mapCatalog{},
		Access:       func(context.Context, identity.Principal) (Visible, error) { return nil, errors.New("not asked") },
		Policy:       &policy.Engine{},
		Principal:    func(context.Context) (identity.Principal, bool) { return identity.Principal{}, false },
		UpstreamIdle: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := rt.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

type mapCatalog map[string]catalog.Object

func (m mapCatalog) Get(kind catalog.Kind, key string) (catalog.Object, bool) {
	o, ok := m[string(kind)+"/"+key]
	return o, ok
}
