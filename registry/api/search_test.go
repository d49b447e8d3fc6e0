package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/mcpgw/mcpgw/registry/api"
	"github.com/mcpgw/mcpgw/registry/search"
	"github.com/mcpgw/mcpgw/registry/search/embed"
)

// searchEnv is env with the search index wired as cmd/internal/app wires it: fed by the view's events, embedding
// with the builtin model in the background.
type searchEnv struct {
	*env
	idx *search.Index
}

func newSearchEnv(t *testing.T) *searchEnv {
	t.Helper()
	e := newEnv(t)
	emb, err := embed.NewBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := search.New(search.Options{Embedder: emb, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	e.view.AddListener(idx.Listener())
	idx.Load(e.view)
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() { defer close(done); _ = idx.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	opts := e.opts
	opts.Search = idx
	srv, err := api.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	se := *e
	se.srv, se.api, se.contract = hs, srv, loadContract(t, srv)
	return &searchEnv{env: &se, idx: idx}
}

// flush waits until every asset has its vectors.
func (e *searchEnv) flush(t *testing.T) {
	t.Helper()
	if err := e.idx.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// searchReply is a decoded search response.
type searchReply struct {
	Results []struct {
		Type         string  `json:"type"`
		Name         string  `json:"name"`
		Score        float64 `json:"score"`
		Status       string  `json:"status"`
		MatchedTools []struct {
			Name  string  `json:"name"`
			Score float64 `json:"score"`
		} `json:"matched_tools"`
	} `json:"results"`
	Mode string `json:"mode"`
}

func (r searchReply) names() []string {
	out := make([]string, len(r.Results))
	for i, x := range r.Results {
		out[i] = x.Type + " " + x.Name
	}
	return out
}

func (e *searchEnv) search(t *testing.T, query string, opts ...reqOpt) searchReply {
	t.Helper()
	var r searchReply
	e.do(t, http.MethodGet, "/api/v1/search?"+query, nil, opts...).want(t, http.StatusOK).decode(t, &r)
	return r
}

func ledgerServer(name, title, desc string, tools ...string) obj {
	ts := arr{}
	for _, tool := range tools {
		ts = append(ts, obj{"name": tool, "description": strings.ReplaceAll(tool, "_", " ") + " in the ledger"})
	}
	return obj{"name": name, "title": title, "description": desc,
		"versions": arr{obj{"version": "1.0.0", "url": "http://127.0.0.1:9/mcp", "tools": ts}}}
}

func TestSearchContract(t *testing.T) {
	// Invariant: GET /api/v1/search?q=...&limit=10 with any valid token answers 200 with results carrying type and
	// name, best first; servers, agents, skills and entities are all found, by name and by meaning.
	e := newSearchEnv(t)
	e.create(t, "/api/v1/servers", with(ledgerServer("finance/ledger", "General Ledger",
		"Posts journal entries and reconciles accounts.", "post_journal_entry", "reconcile_account"), "visibility", "public"))
	e.create(t, "/api/v1/agents", with(agentBody("travel/booker"), "visibility", "public"))
	e.create(t, "/api/v1/skills", with(skillBody("docs/pdf-forms"), "visibility", "public"))
	e.create(t, "/api/v1/entity-types", entityTypeBody("dataset"))
	e.create(t, "/api/v1/entities/dataset", with(entityBody("finance/monthly-ledger"), "visibility", "public"))
	e.flush(t)

	for _, c := range []struct{ q, want string }{
		{"finance/ledger", "server finance/ledger"},
		{"reconcile accounts", "server finance/ledger"},
		{"book a flight", "agent travel/booker"},
		{"fill pdf forms", "skill docs/pdf-forms"},
		{"monthly ledger dataset", "entity finance/monthly-ledger"},
	} {
		for _, tok := range []string{e.admin, e.user} {
			r := e.search(t, "q="+url.QueryEscape(c.q)+"&limit=10", as(tok))
			if len(r.Results) == 0 || r.names()[0] != c.want {
				t.Errorf("q=%q: results %v, want %s first", c.q, r.names(), c.want)
			}
			if r.Mode != "hybrid" {
				t.Errorf("q=%q: mode %q, want hybrid", c.q, r.Mode)
			}
		}
	}
	r := e.search(t, "q=reconcile+accounts")
	if got := r.Results[0].MatchedTools; len(got) == 0 || got[0].Name != "reconcile_account" {
		t.Errorf("matched_tools %v, want reconcile_account first", got)
	}
	// Long queries go in a POST body.
	long := strings.Repeat("please find the tool that reconciles accounts in the general ledger ", 20)
	var pr searchReply
	e.do(t, http.MethodPost, "/api/v1/search", obj{"q": long, "types": arr{"server"}, "limit": 3}).
		want(t, http.StatusOK).decode(t, &pr)
	if len(pr.Results) == 0 || pr.names()[0] != "server finance/ledger" {
		t.Errorf("POST long query: %v", pr.names())
	}
}

func TestSearchFiltersBeforeRanking(t *testing.T) {
	// Invariant: a restricted caller gets its own best results: twelve restricted assets that match better than
	// the one public asset do not crowd it out of a top ten, they are never returned to it, and an admin sees them.
	e := newSearchEnv(t)
	for i := range 12 {
		e.create(t, "/api/v1/servers", ledgerServer(fmt.Sprintf("finance/ledger-%02d", i), "Ledger reconciliation",
			"Reconciles ledger accounts and posts ledger journal entries for ledger reconciliation.", "reconcile_ledger"))
	}
	e.create(t, "/api/v1/servers", with(ledgerServer("ops/books", "Books",
		"Keeps the books and does ledger reconciliation for small teams.", "close_books"), "visibility", "public"))
	e.flush(t)

	r := e.search(t, "q=ledger+reconciliation&limit=10", as(e.user))
	if got := r.names(); !slices.Equal(got, []string{"server ops/books"}) {
		t.Fatalf("user results %v, want only the public server", got)
	}
	r = e.search(t, "q=ledger+reconciliation&limit=10")
	if len(r.Results) != 10 || slices.Contains(r.names(), "server ops/books") {
		t.Fatalf("admin results %v, want the ten best restricted servers", r.names())
	}
}

func TestSearchMatchedToolsOnlyCallable(t *testing.T) {
	// Invariant: matched_tools lists only tools the caller may call; a caller granted one tool of a server sees that
	// tool matched and never the others, while an admin sees every matching tool.
	e := newSearchEnv(t)
	e.create(t, "/api/v1/servers", ledgerServer("finance/pay", "Payments", "Pays and refunds invoices.",
		"t", "refund_invoice", "pay_invoice"))
	e.create(t, "/api/v1/scopes", scopeBody("finance-read")) // grants finance/* tool t only
	e.create(t, "/api/v1/group-mappings", groupMappingBody("finance", "finance-read"))
	e.flush(t)
	fin := e.token(t, "carol", "finance")

	r := e.search(t, "q=refund+invoice", as(fin))
	if len(r.Results) != 1 || r.Results[0].Name != "finance/pay" {
		t.Fatalf("finance member results %v", r.names())
	}
	for _, m := range r.Results[0].MatchedTools {
		if m.Name != "t" {
			t.Errorf("finance member sees matched tool %q it may not call", m.Name)
		}
	}
	r = e.search(t, "q=refund+invoice")
	if got := r.Results[0].MatchedTools; len(got) == 0 || got[0].Name != "refund_invoice" {
		t.Errorf("admin matched tools %v, want refund_invoice first", got)
	}
}

func TestSearchStatusFilter(t *testing.T) {
	// Invariant: deprecated, disabled and security-pending assets are left out unless the query asks for their
	// status; the result carries the status.
	e := newSearchEnv(t)
	e.create(t, "/api/v1/servers", with(ledgerServer("finance/old-ledger", "Old ledger", "Reconciles ledger accounts.",
		"reconcile"), "status", "deprecated"))
	e.create(t, "/api/v1/servers", with(ledgerServer("finance/off-ledger", "Off ledger", "Reconciles ledger accounts.",
		"reconcile"), "status", "disabled"))
	e.flush(t)
	if r := e.search(t, "q=ledger"); len(r.Results) != 0 {
		t.Fatalf("default status filter returned %v", r.names())
	}
	r := e.search(t, "q=ledger&status=deprecated,enabled")
	if !slices.Equal(r.names(), []string{"server finance/old-ledger"}) || r.Results[0].Status != "deprecated" {
		t.Fatalf("status=deprecated returned %v", r.names())
	}
	var pr searchReply
	e.do(t, http.MethodPost, "/api/v1/search", obj{"q": "ledger", "status": arr{"disabled"}}).
		want(t, http.StatusOK).decode(t, &pr)
	if !slices.Equal(pr.names(), []string{"server finance/off-ledger"}) {
		t.Fatalf("POST status=disabled returned %v", pr.names())
	}
}

func TestSearchBadInput(t *testing.T) {
	// Invariant: every malformed search request is a documented client error (400, 415 or 422 problem), never a
	// 500, and names what to fix.
	e := newSearchEnv(t)
	for _, c := range []struct {
		name, query string
		status      int
		typ         string
	}{
		{"no q", "", http.StatusBadRequest, "invalid-query"},
		{"blank q", "q=%20%20", http.StatusBadRequest, "invalid-query"},
		{"limit zero", "q=x&limit=0", http.StatusBadRequest, "invalid-query"},
		{"limit too big", "q=x&limit=101", http.StatusBadRequest, "invalid-query"},
		{"limit not a number", "q=x&limit=ten", http.StatusBadRequest, "invalid-query"},
		{"unknown type", "q=x&types=server,robot", http.StatusBadRequest, "invalid-query"},
		{"unknown status", "q=x&status=archived", http.StatusBadRequest, "invalid-query"},
		{"explain not a bool", "q=x&explain=yes", http.StatusBadRequest, "invalid-query"},
		{"q too long for GET", "q=" + strings.Repeat("a", 1025), http.StatusBadRequest, "invalid-query"},
		{"bad escape", "q=%zz", http.StatusBadRequest, "invalid-query"},
		{"invalid utf-8", "q=%ff%fe", http.StatusBadRequest, "invalid-query"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := e.do(t, http.MethodGet, "/api/v1/search?"+c.query, nil).want(t, c.status).problem(t)
			if p.Type != ptype(c.typ) {
				t.Fatalf("problem type %s, want %s", p.Type, c.typ)
			}
		})
	}
	for _, c := range []struct {
		name   string
		body   any
		ct     string
		status int
		typ    string
	}{
		{"malformed", `{"q":`, "application/json", http.StatusBadRequest, "malformed-json"},
		{"not json media type", `{"q":"x"}`, "text/plain", http.StatusUnsupportedMediaType, "unsupported-media-type"},
		{"unknown field", obj{"q": "x", "query": "y"}, "application/json", http.StatusUnprocessableEntity, "validation-failed"},
		{"missing q", obj{"limit": 3}, "application/json", http.StatusUnprocessableEntity, "validation-failed"},
		{"q too long", obj{"q": strings.Repeat("a", search.MaxQueryBytes+1)}, "application/json", http.StatusUnprocessableEntity, "validation-failed"},
		{"limit zero", obj{"q": "x", "limit": 0}, "application/json", http.StatusUnprocessableEntity, "validation-failed"},
		{"limit wrong type", obj{"q": "x", "limit": "3"}, "application/json", http.StatusUnprocessableEntity, "validation-failed"},
		{"unknown type", obj{"q": "x", "types": arr{"robot"}}, "application/json", http.StatusUnprocessableEntity, "validation-failed"},
	} {
		t.Run("POST "+c.name, func(t *testing.T) {
			p := e.do(t, http.MethodPost, "/api/v1/search", c.body, header("Content-Type", c.ct)).want(t, c.status).problem(t)
			if p.Type != ptype(c.typ) {
				t.Fatalf("problem type %s, want %s", p.Type, c.typ)
			}
		})
	}
	e.do(t, http.MethodGet, "/api/v1/search?q=x", nil, as("")).want(t, http.StatusUnauthorized)
}

func TestSearchAdmin(t *testing.T) {
	// Invariant: the reindex and status endpoints are admin-only; a reindex answers 202 and afterwards every asset
	// has vectors from the current model and is found again.
	e := newSearchEnv(t)
	e.create(t, "/api/v1/servers", ledgerServer("finance/ledger", "General Ledger", "Posts journal entries.", "post_entry"))
	e.flush(t)
	e.do(t, http.MethodPost, "/api/v1/admin/search/reindex", nil, as(e.user)).want(t, http.StatusForbidden)
	e.do(t, http.MethodGet, "/api/v1/admin/search/status", nil, as(e.user)).want(t, http.StatusForbidden)

	st := e.do(t, http.MethodPost, "/api/v1/admin/search/reindex", nil).want(t, http.StatusAccepted).object(t)
	if st["documents"] != float64(1) {
		t.Fatalf("reindex status %v", st)
	}
	e.flush(t)
	st = e.do(t, http.MethodGet, "/api/v1/admin/search/status", nil).want(t, http.StatusOK).object(t)
	if st["vectors"] != float64(1) || st["missing"] != float64(0) || !strings.HasPrefix(fmt.Sprint(st["model"]), "builtin/") {
		t.Fatalf("status after reindex %v", st)
	}
	if r := e.search(t, "q=journal+entries"); len(r.Results) != 1 {
		t.Fatalf("after reindex: %v", r.names())
	}
}

func TestSearchNotEnabled(t *testing.T) {
	// Invariant: a process without a search index serves the routes with 501, so the API's shape never depends on
	// configuration.
	e := newEnv(t)
	p := e.do(t, http.MethodGet, "/api/v1/search?q=x", nil).want(t, http.StatusNotImplemented).problem(t)
	if p.Type != ptype("unsupported") {
		t.Fatalf("problem %s", p.Type)
	}
	e.do(t, http.MethodPost, "/api/v1/search", obj{"q": "x"}).want(t, http.StatusNotImplemented)
	e.do(t, http.MethodPost, "/api/v1/admin/search/reindex", nil).want(t, http.StatusNotImplemented)
	e.do(t, http.MethodGet, "/api/v1/admin/search/status", nil).want(t, http.StatusNotImplemented)
}
