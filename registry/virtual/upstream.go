package virtual

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// ErrUpstream marks a tool call the upstream server could not complete; the concrete error is an *UpstreamError,
// whose message is the caller's isError answer.
var ErrUpstream = errors.New("upstream call failed")

// UpstreamError says which upstream failed and how, in words fit for the caller (no URLs, no secrets).
type UpstreamError struct {
	Server, Version string
	Reason          string
}

func (e *UpstreamError) Error() string {
	if e.Version == "" {
		return fmt.Sprintf("upstream server %s %s", e.Server, e.Reason)
	}
	return fmt.Sprintf("upstream server %s (version %s) %s", e.Server, e.Version, e.Reason)
}

// Is makes errors.Is(err, ErrUpstream) true.
func (e *UpstreamError) Is(target error) bool { return target == ErrUpstream }

// target is the upstream of one virtual tool, resolved from the catalog.
type target struct {
	server  string
	version *catalog.ServerVersion // shared with the catalog: read-only
	tool    *catalog.Tool          // the upstream tool's registered definition (nil only in pool tests)
}

// key identifies an upstream session: the same URL reached the same way shares one session, whichever virtual
// server or caller uses it (the egress credentials never depend on the caller).
func (t target) key() string {
	parts := []string{string(t.version.Transport), t.version.URL}
	if a := t.version.EgressAuth; a != nil {
		parts = append(parts, a.Type, a.Header, a.SecretRef)
	}
	return strings.Join(parts, "\x00")
}

// pool keeps one MCP client session per upstream.
type pool struct {
	client    *mcp.Client
	secrets   SecretResolver
	base      http.RoundTripper
	connectTO time.Duration
	log       *slog.Logger

	mu    sync.Mutex
	conns map[string]*conn

	// progress routes upstream progress notifications to the caller that asked for them, by the token the pool
	// put on the upstream call.
	progress sync.Map // string → func(*mcp.ProgressNotificationParams)
	seq      atomic.Uint64
}

type conn struct {
	key   string
	ready chan struct{} // closed when the connection attempt ended
	cs    *mcp.ClientSession
	err   error
	last  atomic.Int64 // unix nanoseconds of the last use
	// busy counts the calls using the session; closeIdle leaves a busy session alone. It is raised under pool.mu,
	// so closeIdle (which takes idle sessions out of the pool under the same lock) never closes one just handed out.
	busy atomic.Int32
}

func newPool(name, version string, secrets SecretResolver, base http.RoundTripper, connectTO time.Duration, log *slog.Logger) *pool {
	p := &pool{secrets: secrets, base: base, connectTO: connectTO, log: log, conns: map[string]*conn{}}
	p.client = mcp.NewClient(&mcp.Implementation{Name: name, Version: version}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			tok, _ := req.Params.ProgressToken.(string)
			if f, ok := p.progress.Load(tok); ok {
				f.(func(*mcp.ProgressNotificationParams))(req.Params)
			}
		},
	})
	return p
}

// call invokes tool on the upstream with raw arguments. headers are added to the upstream HTTP requests of this
// call (the caller's identity, as the gateway sends it). onProgress, when set, receives the upstream's progress
// notifications for this call. A session the upstream no longer knows (it restarted) is replaced and the call
// retried once: the upstream did not run it.
func (p *pool) call(ctx context.Context, t target, tool string, args json.RawMessage, headers map[string]string,
	onProgress func(*mcp.ProgressNotificationParams)) (*mcp.CallToolResult, error) {
	fail := func(reason string) error {
		return &UpstreamError{Server: t.server, Version: t.version.Version, Reason: reason}
	}
	if t.version.ForwardAuthorization {
		return nil, fail("expects the caller's own token (forward_authorization), which a virtual server never passes on")
	}
	if a := t.version.EgressAuth; a != nil {
		if err := p.checkAuth(ctx, a); err != nil {
			return nil, fail(err.Error())
		}
	}
	params := &mcp.CallToolParams{Name: tool, Arguments: map[string]any{}}
	if len(args) > 0 && string(args) != "null" {
		params.Arguments = args
	}
	if onProgress != nil {
		tok := "mcpgw-" + strconv.FormatUint(p.seq.Add(1), 36)
		params.SetProgressToken(tok)
		p.progress.Store(tok, onProgress)
		defer p.progress.Delete(tok)
	}
	callCtx := withHeaders(valueless{ctx}, headers)
	for attempt := 0; ; attempt++ {
		c, err := p.session(ctx, t)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fail("was not reached: the call was cancelled")
			}
			p.log.Warn("connect to upstream", "server", t.server, "version", t.version.Version, "err", err)
			return nil, fail("is unreachable")
		}
		res, err := c.cs.CallTool(callCtx, params)
		c.last.Store(time.Now().UnixNano())
		c.busy.Add(-1)
		if err == nil {
			return res, nil
		}
		if errors.Is(err, mcp.ErrSessionMissing) && attempt == 0 {
			p.drop(c)
			continue
		}
		var we *jsonrpc.Error
		switch {
		case errors.As(err, &we):
			return nil, fail(fmt.Sprintf("refused the call: %s (code %d)", we.Message, we.Code))
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			return nil, fail("did not answer in time")
		case ctx.Err() != nil:
			return nil, fail("did not answer: the call was cancelled")
		}
		p.log.Warn("upstream call", "server", t.server, "version", t.version.Version, "tool", tool, "err", err)
		p.drop(c)
		return nil, fail("failed to answer")
	}
}

// checkAuth resolves the egress credentials once before a call, so that a missing secret is reported as such
// rather than as a transport failure; the transport resolves them again per request (a rotated secret applies).
func (p *pool) checkAuth(ctx context.Context, a *catalog.EgressAuth) error {
	switch a.Type {
	case "bearer", "header":
	default:
		return fmt.Errorf("uses egress auth type %q, which virtual servers do not support (bearer and header are)", a.Type)
	}
	if p.secrets == nil {
		return errors.New("needs egress credentials, and this registry resolves no secrets")
	}
	if _, err := p.secrets.Resolve(ctx, a.SecretRef); err != nil {
		var se *SecretError
		if errors.As(err, &se) {
			return fmt.Errorf("has egress credentials that cannot be resolved: %s", se.Reason)
		}
		return errors.New("has egress credentials that cannot be resolved")
	}
	return nil
}

// session returns the live session of t's upstream, connecting once for all concurrent callers, and marks it
// busy: the caller must release it (busy.Add(-1)) when its call is over. A failed attempt is forgotten, so the next
// call tries again; a session closeIdle or the upstream ended between the handshake and this call is replaced.
func (p *pool) session(ctx context.Context, t target) (*conn, error) {
	key := t.key()
	for attempt := 0; ; attempt++ {
		p.mu.Lock()
		c := p.conns[key]
		if c == nil {
			c = &conn{key: key, ready: make(chan struct{})}
			p.conns[key] = c
			// The attempt outlives the first caller's request (others may wait on it) and carries none of its
			// values: no identity headers (the session is shared), and not the protocol revision of the incoming
			// request.
			go p.connect(valueless{context.WithoutCancel(ctx)}, c, t)
		}
		p.mu.Unlock()
		select {
		case <-c.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if c.err != nil {
			p.drop(c)
			return nil, c.err
		}
		p.mu.Lock()
		if p.conns[key] == c {
			c.busy.Add(1)
			c.last.Store(time.Now().UnixNano())
			p.mu.Unlock()
			return c, nil
		}
		p.mu.Unlock()
		if attempt == 1 {
			return nil, errors.New("the upstream session ended as soon as it was opened")
		}
	}
}

func (p *pool) connect(ctx context.Context, c *conn, t target) {
	defer close(c.ready)
	ctx, cancel := context.WithTimeout(ctx, p.connectTO)
	defer cancel()
	hc := &http.Client{Transport: &egress{base: p.base, auth: t.version.EgressAuth, secrets: p.secrets}}
	var tr mcp.Transport
	switch t.version.Transport {
	case catalog.TransportSSE:
		tr = &mcp.SSEClientTransport{Endpoint: t.version.URL, HTTPClient: hc}
	default:
		// No standalone GET stream: the pool only makes calls, and an idle stream per upstream would hold a
		// connection open for notifications nobody reads.
		tr = &mcp.StreamableClientTransport{Endpoint: t.version.URL, HTTPClient: hc, DisableStandaloneSSE: true, MaxRetries: -1}
	}
	c.cs, c.err = p.client.Connect(ctx, tr, nil)
	if c.err == nil {
		go func() {
			_ = c.cs.Wait()
			p.forget(c)
		}()
	}
}

// drop closes a session and forgets it.
func (p *pool) drop(c *conn) {
	p.forget(c)
	if c.cs != nil {
		_ = c.cs.Close()
	}
}

func (p *pool) forget(c *conn) {
	p.mu.Lock()
	if p.conns[c.key] == c {
		delete(p.conns, c.key)
	}
	p.mu.Unlock()
}

// closeIdle closes the sessions no call is using that were last used before cutoff (and all of them for the zero
// time, at shutdown) and returns how many. A long call keeps its session open, whatever UpstreamIdle says.
func (p *pool) closeIdle(cutoff time.Time) int {
	p.mu.Lock()
	var idle []*conn
	for key, c := range p.conns {
		select {
		case <-c.ready:
		default:
			continue // still connecting
		}
		if cutoff.IsZero() || c.busy.Load() == 0 && c.last.Load() < cutoff.UnixNano() {
			idle = append(idle, c)
			delete(p.conns, key) // under the lock: session hands out no session taken here
		}
	}
	p.mu.Unlock()
	for _, c := range idle {
		p.drop(c)
	}
	return len(idle)
}

// len is the number of upstream sessions held or being opened.
func (p *pool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// valueless carries a context's deadline and cancellation but none of its values. Upstream calls are made with it:
// go-sdk keeps an incoming request's protocol revision in a context value that its client reads too, so a call
// made with the incoming request's context would announce the caller's revision to the upstream instead of the one
// negotiated with it.
type valueless struct{ context.Context }

func (valueless) Value(any) any { return nil }

type headersKey struct{}

// withHeaders attaches the headers of one call to ctx (nil: none, hiding any attached earlier).
func withHeaders(ctx context.Context, h map[string]string) context.Context {
	return context.WithValue(ctx, headersKey{}, h)
}

// egress is the transport of an upstream session: the upstream's credentials on every request, and the identity
// headers of the call a request belongs to.
type egress struct {
	base    http.RoundTripper
	auth    *catalog.EgressAuth
	secrets SecretResolver
}

func (e *egress) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	if a := e.auth; a != nil {
		if e.secrets == nil {
			closeBody(r)
			return nil, fmt.Errorf("egress auth %s: no secret resolver: %w", a.Type, ErrSecret)
		}
		v, err := e.secrets.Resolve(r.Context(), a.SecretRef)
		if err != nil {
			closeBody(r)
			return nil, fmt.Errorf("egress auth %s: %w", a.Type, err)
		}
		switch a.Type {
		case "bearer":
			h := a.Header
			if h == "" {
				h = "Authorization"
			}
			out.Header.Set(h, "Bearer "+v)
		case "header":
			out.Header.Set(a.Header, v)
		default:
			closeBody(r)
			return nil, fmt.Errorf("egress auth type %q is not supported", a.Type)
		}
	}
	if h, _ := r.Context().Value(headersKey{}).(map[string]string); len(h) > 0 {
		for k, v := range h {
			out.Header.Set(k, v)
		}
	}
	return e.base.RoundTrip(out)
}

func closeBody(r *http.Request) {
	if r.Body != nil {
		_ = r.Body.Close()
	}
}
