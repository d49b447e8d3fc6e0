package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcpgw/mcpgw/registry/api"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/store/mongo"
	"github.com/mcpgw/mcpgw/registry/view"
)

// variant serves another API built from e's options changed by edit, checked against the same document.
func (e *env) variant(t *testing.T, edit func(*api.Options)) *env {
	t.Helper()
	opts := e.opts
	edit(&opts)
	srv, err := api.New(opts)
	if err != nil {
		t.Fatalf("api: %v", err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	v := *e
	v.srv, v.api = hs, srv
	return &v
}

func TestHealthAndReadiness(t *testing.T) {
	// Invariant: /healthz answers 200 without a token while the process serves; /readyz answers 200 only when the
	// catalog view is loaded and the store answers, and 503 (a problem) otherwise.
	e := newEnv(t)
	if got := e.do(t, http.MethodGet, "/healthz", nil, as("")).want(t, http.StatusOK).object(t); got["status"] != "ok" {
		t.Fatalf("healthz: %v", got)
	}
	if got := e.do(t, http.MethodGet, "/readyz", nil, as("")).want(t, http.StatusOK).object(t); got["status"] != "ready" {
		t.Fatalf("readyz: %v", got)
	}

	loading := e.variant(t, func(o *api.Options) { o.View = view.New(e.store, nil) })
	p := loading.do(t, http.MethodGet, "/readyz", nil, as("")).want(t, http.StatusServiceUnavailable).problem(t)
	if p.Type != ptype("unavailable") {
		t.Fatalf("loading: %+v", p)
	}
	loading.do(t, http.MethodGet, "/healthz", nil, as("")).want(t, http.StatusOK)

	// A store that no longer answers: a second embedded store, closed.
	gone, err := mongo.Open(t.Context(), mongo.Config{DataDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	if err := gone.Close(context.WithoutCancel(t.Context())); err != nil {
		t.Fatalf("close store: %v", err)
	}
	down := e.variant(t, func(o *api.Options) { o.Ready = gone.Ping })
	p = down.do(t, http.MethodGet, "/readyz", nil, as("")).want(t, http.StatusServiceUnavailable).problem(t)
	if p.Type != ptype("unavailable") || strings.Contains(p.Detail, "mongo") {
		t.Fatalf("store down: %+v", p)
	}
}

func TestPublicDocuments(t *testing.T) {
	// Invariant: the development issuer's key set and the metrics are served without a token; the key set verifies
	// the tokens the API accepts (its key id is the issuer's), and the metrics are the Prometheus text format.
	e := newEnv(t)
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	e.do(t, http.MethodGet, "/.well-known/jwks.json", nil, as("")).want(t, http.StatusOK).decode(t, &jwks)
	if len(jwks.Keys) != 1 || jwks.Keys[0]["kid"] != e.dev.KeyID() || jwks.Keys[0]["d"] != nil {
		t.Fatalf("jwks: %v", jwks)
	}
	m := e.do(t, http.MethodGet, "/metrics", nil, as("")).want(t, http.StatusOK)
	if !strings.HasPrefix(m.Header.Get("Content-Type"), "text/plain") || !bytes.Contains(m.Body, []byte("go_goroutines")) {
		t.Fatalf("metrics: %s %.200s", m.Header.Get("Content-Type"), m.Body)
	}
	// Without the development issuer there is no key set to serve.
	none := e.variant(t, func(o *api.Options) { o.JWKS = nil })
	none.do(t, http.MethodGet, "/.well-known/jwks.json", nil, as("")).want(t, http.StatusNotFound)
}

func TestAuditTrail(t *testing.T) {
	// Invariant: every catalog change, and every refused one, is in the audit trail, newest first; the listing
	// filters by kind, subject and decision, paginates by cursor without repeats, and the NDJSON export streams
	// every matching record as one AuditRecord per line.
	e := newEnv(t)
	for i := range 5 {
		e.create(t, "/api/v1/servers", serverBody(fmt.Sprintf("ns/s%d", i)))
	}
	e.do(t, http.MethodDelete, "/api/v1/servers/ns/s0", nil).want(t, http.StatusNoContent)
	e.do(t, http.MethodPost, "/api/v1/servers", serverBody("ns/denied"), as(e.user)).want(t, http.StatusForbidden)

	// The batcher writes asynchronously: wait until the 7 records are stored.
	var all page
	for deadline := time.Now().Add(10 * time.Second); ; {
		all = page{}
		e.do(t, http.MethodGet, "/api/v1/audit?kind=mutation&limit=500", nil).want(t, http.StatusOK).decode(t, &all)
		if len(all.Items) >= 7 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(all.Items) != 7 {
		t.Fatalf("%d mutation records, want 7: %v", len(all.Items), all.Items)
	}
	if first := all.Items[0]; first["subject"] != "bob" || first["allow"] != false || first["action"] != "create" {
		t.Fatalf("newest record: %v", first)
	}
	var denied page
	e.do(t, http.MethodGet, "/api/v1/audit?decision=deny", nil).want(t, http.StatusOK).decode(t, &denied)
	if len(denied.Items) != 1 || denied.Items[0]["name"] != "ns/denied" {
		t.Fatalf("denied: %v", denied.Items)
	}
	var alice page
	e.do(t, http.MethodGet, "/api/v1/audit?subject=alice&decision=allow", nil).want(t, http.StatusOK).decode(t, &alice)
	if len(alice.Items) != 6 {
		t.Fatalf("alice's allowed changes: %d", len(alice.Items))
	}

	var ids []string
	cursor := ""
	for pages := 0; ; pages++ {
		var p page
		e.do(t, http.MethodGet, "/api/v1/audit?limit=2&cursor="+cursor, nil).want(t, http.StatusOK).decode(t, &p)
		for _, r := range p.Items {
			ids = append(ids, r["id"].(string))
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
		if pages > 10 {
			t.Fatal("the audit listing does not end")
		}
	}
	for i := range ids {
		if ids[i] != all.Items[i]["id"] {
			t.Fatalf("paged ids %v differ from the full listing", ids)
		}
	}

	for _, how := range []reqOpt{header("Accept", "application/x-ndjson"), nil} {
		path := "/api/v1/audit?kind=mutation"
		opts := []reqOpt{}
		if how != nil {
			opts = append(opts, how)
		} else {
			path += "&format=ndjson"
		}
		r := e.do(t, http.MethodGet, path, nil, opts...).want(t, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
			t.Fatalf("export Content-Type %q", ct)
		}
		sc := bufio.NewScanner(bytes.NewReader(r.Body))
		n := 0
		for sc.Scan() {
			if err := e.contract.validate("AuditRecord", sc.Bytes()); err != nil {
				t.Fatalf("line %d: %v", n+1, err)
			}
			var rec map[string]any
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec["id"] != all.Items[n]["id"] {
				t.Fatalf("line %d: %s", n+1, sc.Bytes())
			}
			n++
		}
		if n != 7 {
			t.Fatalf("export of %d lines, want 7", n)
		}
		if got := r.Trailer.Get("Mcpgw-Export-Complete"); got != "true" || r.Trailer.Get("Mcpgw-Next-Cursor") != "" {
			t.Fatalf("export trailers %v, want complete and no cursor", r.Trailer)
		}
	}

	// An export cut at the limit says so in its trailers, and its cursor continues it.
	restore := api.SetMaxAuditExport(3)
	defer restore()
	lines := func(b []byte) []string { return strings.Split(strings.TrimSpace(string(b)), "\n") }
	r := e.do(t, http.MethodGet, "/api/v1/audit?kind=mutation&format=ndjson", nil).want(t, http.StatusOK)
	next := r.Trailer.Get("Mcpgw-Next-Cursor")
	if n := len(lines(r.Body)); n != 3 || r.Trailer.Get("Mcpgw-Export-Complete") != "false" || next == "" {
		t.Fatalf("cut export: %d lines, trailers %v", n, r.Trailer)
	}
	rest := e.do(t, http.MethodGet, "/api/v1/audit?kind=mutation&format=ndjson&cursor="+url.QueryEscape(next), nil).want(t, http.StatusOK)
	if n := len(lines(rest.Body)); n != 3 || rest.Trailer.Get("Mcpgw-Export-Complete") != "false" {
		t.Fatalf("continued export: %d lines, trailers %v", n, rest.Trailer)
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines(rest.Body)[0]), &first); err != nil || first["id"] != all.Items[3]["id"] {
		t.Fatalf("the continued export starts at %v, want record 4 (%v)", first["id"], all.Items[3]["id"])
	}
}

func TestAgentAndSkillDefaults(t *testing.T) {
	// Invariant: an agent takes its title and description from its card when it has none, and its card always has a
	// skills array; a skill takes its description from the SKILL.md front matter, which the server parses (values a
	// client sends for it are ignored), and is inline unless it names a source.
	e := newEnv(t)
	card := obj{"name": "Minimal", "description": "Card only", "url": "https://a.example.com", "version": "1"}
	a := e.create(t, "/api/v1/agents", obj{"name": "ns/min", "card": card})
	if a["title"] != "Minimal" || a["description"] != "Card only" || a["visibility"] != "restricted" || a["status"] != "enabled" {
		t.Fatalf("agent defaults: %v", a)
	}
	if skills, ok := a["card"].(obj)["skills"].([]any); !ok || len(skills) != 0 {
		t.Fatalf("card skills: %#v", a["card"].(obj)["skills"])
	}
	stored, err := e.store.Get(context.WithoutCancel(t.Context()), catalog.KindAgent, "ns/min")
	if err != nil {
		t.Fatal(err)
	}
	if stored.(*catalog.Agent).Card.Skills == nil {
		t.Fatal("the card read back from the store has no skills array")
	}
	s := e.create(t, "/api/v1/skills", with(skillBody("ns/pdf"), "front_matter", obj{"name": "forged"}))
	fm := s["front_matter"].(obj)
	if s["description"] != "Fill PDF forms" || fm["name"] != "pdf-forms" || s["source"].(obj)["type"] != "inline" {
		t.Fatalf("skill defaults: %v", s)
	}
	g := e.create(t, "/api/v1/skills", with(skillBody("ns/git"), "source",
		obj{"type": "git", "url": "git@github.com:acme/skills.git", "ref": "main", "path": "pdf/SKILL.md"}))
	if g["source"].(obj)["url"] != "git@github.com:acme/skills.git" {
		t.Fatalf("git skill: %v", g)
	}
}
