package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/client"
	"github.com/mcpgw/mcpgw/registry/client/clienttest"
)

func server(name string, tags ...string) *catalog.Server {
	return &catalog.Server{
		Name:       name,
		Governance: catalog.Governance{Title: "Server " + name, Description: "serves " + name, Tags: tags},
		Versions: []catalog.ServerVersion{{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP,
			URL:   "https://" + strings.ReplaceAll(name, "/", "-") + ".example.com/mcp",
			Tools: []catalog.Tool{{Name: "lookup", Description: "looks things up"}}}},
	}
}

func mustCreate[T catalog.Object](t *testing.T, col *client.Collection[T], obj T) T {
	t.Helper()
	out, err := col.Create(t.Context(), obj)
	if err != nil {
		t.Fatalf("create %s: %v", obj.Key(), err)
	}
	return out
}

// roundTrip drives one collection through create, get, list, a conditional replace (stale and current rev), a
// merge patch, a conditional delete, and a get that must then miss.
func roundTrip[T catalog.Object](t *testing.T, col *client.Collection[T], obj T, name string, edit func(T), patch string,
	check func(T) string) {
	t.Helper()
	ctx := t.Context()
	created := mustCreate(t, col, obj)
	rev := created.Metadata().Rev
	if rev <= 0 {
		t.Fatalf("created object has rev %d", rev)
	}
	got, err := col.Get(ctx, name)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Metadata().Rev != rev || got.Key() != created.Key() {
		t.Fatalf("get returned %s rev %d, want %s rev %d", got.Key(), got.Metadata().Rev, created.Key(), rev)
	}
	page, err := col.List(ctx, client.ListOptions{})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if !slices.ContainsFunc(page.Items, func(o T) bool { return o.Key() == created.Key() }) {
		t.Fatalf("list does not contain %s", created.Key())
	}

	edit(got)
	replaced, err := col.Replace(ctx, got, rev)
	if err != nil {
		t.Fatalf("replace at the current rev: %v", err)
	}
	if replaced.Metadata().Rev <= rev {
		t.Fatalf("replace kept rev %d", replaced.Metadata().Rev)
	}
	if _, err := col.Replace(ctx, got, rev); !errors.Is(err, catalog.ErrRevMismatch) {
		t.Fatalf("replace at a stale rev: got %v, want ErrRevMismatch", err)
	}
	patched, err := col.Patch(ctx, name, json.RawMessage(patch), replaced.Metadata().Rev)
	if err != nil {
		t.Fatalf("patch: %v", err)
	}
	if msg := check(patched); msg != "" {
		t.Fatalf("after patch: %s", msg)
	}
	if err := col.Delete(ctx, name, rev); !errors.Is(err, catalog.ErrRevMismatch) {
		t.Fatalf("delete at a stale rev: got %v, want ErrRevMismatch", err)
	}
	if err := col.Delete(ctx, name, patched.Metadata().Rev); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := col.Get(ctx, name); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("get after delete: got %v, want ErrNotFound", err)
	}
}

func TestCollectionsRoundTrip(t *testing.T) {
	reg := clienttest.Start(t)
	c := reg.Client(t, reg.AdminToken(t))
	if _, err := c.EntityTypes().Create(t.Context(), &catalog.EntityType{Name: "dataset",
		Schema: json.RawMessage(`{"type":"object","properties":{"owner":{"type":"string"}},"required":["owner"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Scopes().Create(t.Context(), &catalog.Scope{Name: "finance-read",
		Grants: []catalog.Grant{{Server: "finance/*"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Servers().Create(t.Context(), server("finance/ledger")); err != nil {
		t.Fatal(err)
	}

	// Invariant: every kind's collection creates, reads, lists, replaces (refusing a stale rev), patches and
	// deletes (refusing a stale rev) its objects under the names users address them by.
	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"servers", func(t *testing.T) {
			roundTrip(t, c.Servers(), server("acme/weather"), "acme/weather",
				func(s *catalog.Server) { s.Title = "Weather" },
				`{"description":"patched"}`,
				func(s *catalog.Server) string { return want(s.Description == "patched" && s.Title == "Weather", s) })
		}},
		{"agents", func(t *testing.T) {
			a := &catalog.Agent{Name: "acme/planner", Card: catalog.AgentCard{Name: "Planner", Description: "plans",
				URL: "https://planner.example.com/a2a", Version: "1.0.0",
				Skills: []catalog.AgentSkill{{ID: "plan", Name: "Plan"}}}}
			roundTrip(t, c.Agents(), a, "acme/planner",
				func(a *catalog.Agent) { a.Tags = []string{"planning"} },
				`{"status":"deprecated"}`,
				func(a *catalog.Agent) string {
					return want(a.Status == catalog.StatusDeprecated && slices.Equal(a.Tags, []string{"planning"}), a)
				})
		}},
		{"skills", func(t *testing.T) {
			s := &catalog.Skill{Name: "acme/pdf", Content: "---\nname: pdf\ndescription: Reads PDF files\n---\n# PDF\n"}
			roundTrip(t, c.Skills(), s, "acme/pdf",
				func(s *catalog.Skill) { s.Owner = "docs-team" },
				`{"title":"PDF reader"}`,
				func(s *catalog.Skill) string {
					return want(s.Title == "PDF reader" && s.Owner == "docs-team" && s.FrontMatter.Name == "pdf", s)
				})
		}},
		{"entity types", func(t *testing.T) {
			et := &catalog.EntityType{Name: "model", Schema: json.RawMessage(`{"type":"object"}`)}
			roundTrip(t, c.EntityTypes(), et, "model",
				func(et *catalog.EntityType) { et.Description = "ML models" },
				`{"plural":"ml-models"}`,
				func(et *catalog.EntityType) string {
					return want(et.Plural == "ml-models" && et.Description == "ML models", et)
				})
		}},
		{"entities", func(t *testing.T) {
			e := &catalog.Entity{Name: "sales/orders", Governance: catalog.Governance{Description: "orders"},
				Fields: json.RawMessage(`{"owner":"sales"}`)}
			roundTrip(t, c.Entities("dataset"), e, "sales/orders",
				func(e *catalog.Entity) { e.Fields = json.RawMessage(`{"owner":"sales-ops"}`) },
				`{"tags":["pii"]}`,
				func(e *catalog.Entity) string {
					return want(e.Type == "dataset" && string(e.Fields) == `{"owner":"sales-ops"}` && slices.Equal(e.Tags, []string{"pii"}), e)
				})
		}},
		{"virtual servers", func(t *testing.T) {
			v := &catalog.VirtualServer{Name: "finance-tools",
				Tools: []catalog.VirtualTool{{Server: "finance/ledger", Tool: "lookup"}}}
			roundTrip(t, c.VirtualServers(), v, "finance-tools",
				func(v *catalog.VirtualServer) { v.Tools[0].Alias = "ledger_lookup" },
				`{"description":"finance in one place"}`,
				func(v *catalog.VirtualServer) string {
					return want(v.Description == "finance in one place" && v.Tools[0].Alias == "ledger_lookup", v)
				})
		}},
		{"scopes", func(t *testing.T) {
			s := &catalog.Scope{Name: "weather-read", Grants: []catalog.Grant{{Server: "acme/weather"}}}
			roundTrip(t, c.Scopes(), s, "weather-read",
				func(s *catalog.Scope) { s.Publish = []string{"acme"} },
				`{"description":"read the weather"}`,
				func(s *catalog.Scope) string {
					return want(s.Description == "read the weather" && slices.Equal(s.Publish, []string{"acme"}), s)
				})
		}},
		{"group mappings for every issuer", func(t *testing.T) {
			m := &catalog.GroupMapping{Group: "/finance/analysts team", Scopes: []string{"finance-read"}}
			roundTrip(t, c.GroupMappings(), m, "/finance/analysts team",
				func(m *catalog.GroupMapping) { m.Scopes = append(m.Scopes, "mcpgw-admin") },
				`{"scopes":["finance-read"]}`,
				func(m *catalog.GroupMapping) string { return want(slices.Equal(m.Scopes, []string{"finance-read"}), m) })
		}},
		{"group mappings of one issuer", func(t *testing.T) {
			const iss = "https://idp.example.com/realms/corp"
			m := &catalog.GroupMapping{Issuer: iss, Group: "/finance/analysts", Scopes: []string{"finance-read"}}
			roundTrip(t, c.GroupMappings().Issuer(iss), m, "/finance/analysts",
				func(m *catalog.GroupMapping) { m.Scopes = []string{"mcpgw-admin"} },
				`{"scopes":["finance-read","mcpgw-admin"]}`,
				func(m *catalog.GroupMapping) string { return want(m.Issuer == iss && len(m.Scopes) == 2, m) })
		}},
		{"client mappings", func(t *testing.T) {
			m := &catalog.ClientMapping{Issuer: "https://idp.example.com", Client: "ci-bot", Scopes: []string{"finance-read"}}
			roundTrip(t, c.ClientMappings().Issuer("https://idp.example.com"), m, "ci-bot",
				func(m *catalog.ClientMapping) { m.Scopes = []string{"mcpgw-admin"} },
				`{"scopes":["finance-read"]}`,
				func(m *catalog.ClientMapping) string {
					return want(slices.Equal(m.Scopes, []string{"finance-read"}), m)
				})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func want(ok bool, obj any) string {
	if ok {
		return ""
	}
	b, _ := json.Marshal(obj)
	return "unexpected object " + string(b)
}

func TestMappingsAreAddressedByIssuer(t *testing.T) {
	reg := clienttest.Start(t)
	c := reg.Client(t, reg.AdminToken(t))
	ctx := t.Context()
	const iss = "https://idp.example.com/realms/corp"
	mustCreate(t, c.GroupMappings(), &catalog.GroupMapping{Issuer: iss, Group: "/eng/sre", Scopes: []string{"mcpgw-admin"}})

	if _, err := c.GroupMappings().Get(ctx, "/eng/sre"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("get without the issuer: got %v, want ErrNotFound", err)
	}
	m, err := c.GroupMappings().Issuer(iss).Get(ctx, "/eng/sre")
	if err != nil {
		t.Fatal(err)
	}
	if m.Group != "/eng/sre" || m.Issuer != iss {
		t.Fatalf("got %+v", m)
	}
	if _, err := c.Servers().Issuer(iss).Get(ctx, "a/b"); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("issuer on servers: got %v, want ErrInvalid", err)
	}
}

func TestListFiltersAndPages(t *testing.T) {
	reg := clienttest.Start(t)
	c := reg.Client(t, reg.AdminToken(t))
	ctx := t.Context()
	var names []string
	for i := range 7 {
		ns := "team-a"
		if i%2 == 1 {
			ns = "team-b"
		}
		s := server(fmt.Sprintf("%s/srv-%d", ns, i), "even")
		if i%2 == 1 {
			s.Tags = []string{"odd"}
		}
		if i == 6 {
			s.Status = catalog.StatusDisabled
			s.Description = "the Special one"
		}
		names = append(names, mustCreate(t, c.Servers(), s).Name)
	}
	slices.Sort(names)

	var all []string
	for s, err := range c.Servers().All(ctx, client.ListOptions{Limit: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, s.Name)
	}
	if diff := cmp.Diff(names, all); diff != "" {
		t.Fatalf("All over pages of 3 (-want +got):\n%s", diff)
	}
	first, err := c.Servers().List(ctx, client.ListOptions{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Items) != 3 || first.NextCursor == "" {
		t.Fatalf("first page: %d items, cursor %q", len(first.Items), first.NextCursor)
	}
	n := 0
	for _, err := range c.Servers().All(ctx, client.ListOptions{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}

	// Invariant: each filter keeps exactly the objects that match it, across pages.
	filters := []struct {
		name string
		opts client.ListOptions
		want []string
	}{
		{"tag", client.ListOptions{Tag: "odd"}, []string{"team-b/srv-1", "team-b/srv-3", "team-b/srv-5"}},
		{"namespace", client.ListOptions{Namespace: "team-a", Limit: 1}, []string{"team-a/srv-0", "team-a/srv-2", "team-a/srv-4", "team-a/srv-6"}},
		{"status", client.ListOptions{Status: catalog.StatusDisabled}, []string{"team-a/srv-6"}},
		{"q in description, any case", client.ListOptions{Q: "special"}, []string{"team-a/srv-6"}},
		{"q in name", client.ListOptions{Q: "SRV-3"}, []string{"team-b/srv-3"}},
		{"tag and namespace", client.ListOptions{Tag: "even", Namespace: "team-b"}, nil},
	}
	for _, tt := range filters {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for s, err := range c.Servers().All(ctx, tt.opts) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, s.Name)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
	if _, err := c.Scopes().List(ctx, client.ListOptions{Namespace: "team-a"}); !errors.Is(err, catalog.ErrInvalid) {
		t.Fatalf("namespace on scopes: got %v, want ErrInvalid", err)
	}
}

func TestErrors(t *testing.T) {
	reg := clienttest.Start(t)
	admin := reg.Client(t, reg.AdminToken(t))
	ctx := t.Context()
	mustCreate(t, admin.Servers(), server("acme/weather"))
	bob := reg.Client(t, reg.Token(t, "bob", "engineering"))
	forged := reg.Client(t, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJldmUifQ.")

	// Invariant: every refusal arrives as an *Error with the HTTP status and matches the catalog sentinel (or
	// ErrUnauthorized) that names its cause.
	tests := []struct {
		name   string
		call   func() error
		status int
		is     error
		fields []catalog.FieldError
	}{
		{"create twice", func() error { _, err := admin.Servers().Create(ctx, server("acme/weather")); return err },
			409, catalog.ErrConflict, nil},
		{"get a missing object", func() error { _, err := admin.Servers().Get(ctx, "acme/none"); return err },
			404, catalog.ErrNotFound, nil},
		{"invalid object", func() error {
			s := server("acme/bad")
			s.Versions[0].Version, s.Versions[0].URL = "1.0", "ftp://x"
			_, err := admin.Servers().Create(ctx, s)
			return err
		}, 422, catalog.ErrInvalid, []catalog.FieldError{
			{Field: "versions[0].version", Reason: "must be a semantic version such as 1.2.3"},
			{Field: "versions[0].url", Reason: "must be an absolute http or https URL"}}},
		{"unknown field sent as JSON", func() error {
			_, err := admin.Servers().CreateJSON(ctx, []byte(`{"name":"acme/x","versions":[],"colour":"red"}`))
			return err
		}, 422, catalog.ErrInvalid, []catalog.FieldError{{Field: "colour", Reason: "is not a known field"}}},
		{"malformed JSON", func() error { _, err := admin.Servers().CreateJSON(ctx, []byte(`{"name":`)); return err },
			400, catalog.ErrMalformed, nil},
		{"a name the server refuses", func() error { _, err := admin.Servers().Get(ctx, "Acme/Weather"); return err },
			400, catalog.ErrInvalid, nil},
		{"bad query", func() error { _, err := admin.Servers().List(ctx, client.ListOptions{Status: "gone"}); return err },
			400, catalog.ErrInvalid, nil},
		{"write without a grant", func() error { _, err := bob.Servers().Create(ctx, server("acme/bobs")); return err },
			403, catalog.ErrForbidden, nil},
		{"audit without the admin scope", func() error { _, err := bob.ListAudit(ctx, client.AuditQuery{}); return err },
			403, catalog.ErrForbidden, nil},
		{"invisible object looks missing", func() error { _, err := bob.Servers().Get(ctx, "acme/weather"); return err },
			404, catalog.ErrNotFound, nil},
		{"forged token", func() error { _, err := forged.Servers().List(ctx, client.ListOptions{}); return err },
			401, client.ErrUnauthorized, nil},
		{"no token", func() error {
			_, err := reg.Client(t, "").Servers().List(ctx, client.ListOptions{})
			return err
		}, 401, client.ErrUnauthorized, nil},
		{"delete the last version", func() error { return admin.ServerVersions("acme/weather").Delete(ctx, "1.0.0", 0) },
			409, catalog.ErrConflict, nil},
		{"unknown endpoint through Do", func() error {
			_, err := admin.Do(ctx, http.MethodGet, "/api/v1/nothing-here", nil, nil)
			return err
		}, 404, catalog.ErrNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v (%T), want *client.Error", err, err)
			}
			if e.Status != tt.status || !errors.Is(err, tt.is) {
				t.Fatalf("got status %d (%v), want %d matching %v", e.Status, err, tt.status, tt.is)
			}
			if !strings.HasPrefix(e.Type, client.ProblemBase) || e.Title == "" {
				t.Fatalf("problem type %q title %q", e.Type, e.Title)
			}
			if diff := cmp.Diff(tt.fields, e.Errors); diff != "" {
				t.Fatalf("field errors (-want +got):\n%s", diff)
			}
			var ve *catalog.ValidationError
			if errors.As(err, &ve) != (len(tt.fields) > 0) {
				t.Fatalf("errors.As(*catalog.ValidationError) = %v with %d field errors", len(tt.fields) == 0, len(tt.fields))
			}
		})
	}
}

func TestNamesAreCheckedBeforeAnyRequest(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	t.Cleanup(srv.Close)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	// Invariant: a name that cannot address an object is refused locally with ErrInvalid: no request is sent, so a
	// name never turns into another path.
	tests := []struct {
		name string
		call func() error
	}{
		{"server without namespace", func() error { _, err := c.Servers().Get(ctx, "weather"); return err }},
		{"server with two slashes", func() error { _, err := c.Servers().Get(ctx, "a/b/c"); return err }},
		{"dot-dot segment", func() error { return c.Agents().Delete(ctx, "../admin", 0) }},
		{"scope with a slash", func() error { _, err := c.Scopes().Get(ctx, "a/b"); return err }},
		{"empty scope", func() error { _, err := c.Scopes().Get(ctx, ""); return err }},
		{"empty entity type", func() error { _, err := c.Entities("").List(ctx, client.ListOptions{}); return err }},
		{"entity type with a slash", func() error { _, err := c.Entities("a/b").Get(ctx, "x/y"); return err }},
		{"blank group", func() error { _, err := c.GroupMappings().Get(ctx, " "); return err }},
		{"empty version", func() error { _, _, err := c.ServerVersions("a/b").Get(ctx, ""); return err }},
		{"versions of a bad server", func() error { _, _, err := c.ServerVersions("ab").List(ctx); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, catalog.ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
		})
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("%d requests reached the server", n)
	}
}

func TestServerVersions(t *testing.T) {
	reg := clienttest.Start(t)
	c := reg.Client(t, reg.AdminToken(t))
	ctx := t.Context()
	s := mustCreate(t, c.Servers(), server("acme/weather"))
	vs := c.ServerVersions("acme/weather")

	added, rev, err := vs.Add(ctx, catalog.ServerVersion{Version: "2.0.0", URL: "https://weather-2.example.com/mcp"}, s.Rev)
	if err != nil {
		t.Fatal(err)
	}
	if added.Transport != catalog.TransportStreamableHTTP || rev <= s.Rev {
		t.Fatalf("added %+v at rev %d (server was %d)", added, rev, s.Rev)
	}
	if _, _, err := vs.Add(ctx, catalog.ServerVersion{Version: "3.0.0", URL: "https://x.example.com/mcp"}, s.Rev); !errors.Is(err, catalog.ErrRevMismatch) {
		t.Fatalf("add at a stale rev: got %v", err)
	}
	if _, _, err := vs.AddJSON(ctx, []byte(`{"version":"2.0.0","url":"https://x.example.com/mcp"}`), 0); !errors.Is(err, catalog.ErrConflict) {
		t.Fatalf("add an existing version: got %v", err)
	}
	list, listRev, err := vs.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{list[0].Version, list[1].Version}; len(list) != 2 || !slices.Equal(got, []string{"2.0.0", "1.0.0"}) || listRev != rev {
		t.Fatalf("list: %+v at rev %d, want 2.0.0, 1.0.0 at rev %d", list, listRev, rev)
	}
	old, getRev, err := vs.Get(ctx, "1.0.0")
	if err != nil || getRev != rev || len(old.Tools) != 1 {
		t.Fatalf("get: %+v rev %d err %v", old, getRev, err)
	}
	old.Deprecated = true
	if _, rev, err = vs.Replace(ctx, old, getRev); err != nil {
		t.Fatal(err)
	}
	if err := vs.Delete(ctx, "1.0.0", getRev); !errors.Is(err, catalog.ErrRevMismatch) {
		t.Fatalf("delete at a stale rev: got %v", err)
	}
	if err := vs.Delete(ctx, "1.0.0", rev); err != nil {
		t.Fatal(err)
	}
	if _, _, err := vs.Get(ctx, "1.0.0"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("get a deleted version: got %v", err)
	}
	got, err := c.Servers().Get(ctx, "acme/weather")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Versions) != 1 || got.Versions[0].Version != "2.0.0" || !got.Versions[0].Default {
		t.Fatalf("server after version changes: %+v", got.Versions)
	}
}

func TestDoCallsEndpointsWithoutTypedMethods(t *testing.T) {
	reg := clienttest.Start(t)
	// The registry mounted below a path prefix, as behind a shared ingress.
	target, _ := url.Parse(reg.URL)
	proxy := httptest.NewServer(http.StripPrefix("/registry", httputil.NewSingleHostReverseProxy(target)))
	t.Cleanup(proxy.Close)
	c, err := client.New(proxy.URL+"/registry/", client.WithToken(reg.AdminToken(t)), client.WithUserAgent("test/1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	var health struct{ Status string }
	resp, err := c.Do(ctx, http.MethodGet, "/healthz", nil, &health)
	if err != nil || health.Status != "ok" || resp.StatusCode != 200 {
		t.Fatalf("healthz: %+v %v %v", health, resp, err)
	}
	created := mustCreate(t, c.Servers(), server("acme/weather"))
	var raw json.RawMessage
	resp, err = c.Do(ctx, http.MethodGet, "/api/v1/servers/acme/weather", nil, &raw)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rev != created.Rev {
		t.Fatalf("Do read rev %d from the ETag, want %d", resp.Rev, created.Rev)
	}
	var page struct {
		Items []catalog.Server `json:"items"`
	}
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/servers?q=weather", nil, &page,
		client.WithQuery(url.Values{"limit": {"5"}, "tag": {""}})); err != nil || len(page.Items) != 1 {
		t.Fatalf("list through Do: %d items, %v", len(page.Items), err)
	}
	var buf strings.Builder
	if _, err := c.Do(ctx, http.MethodGet, "/api/v1/openapi.json", nil, &buf); err != nil || !strings.Contains(buf.String(), "openapi") {
		t.Fatalf("openapi through an io.Writer: %v", err)
	}
	if _, err := c.Do(ctx, http.MethodGet, "healthz", nil, nil); err == nil {
		t.Fatal("a path without a leading slash was accepted")
	}
}

func TestNewRejectsBadConfiguration(t *testing.T) {
	// Invariant: a client that could not work, or would leak credentials, is refused when it is built.
	tests := []struct {
		name string
		base string
		opts []client.Option
	}{
		{"relative URL", "localhost:8080", nil},
		{"other scheme", "ftp://registry.example.com", nil},
		{"credentials in the URL", "https://user:pw@registry.example.com", nil},
		{"query", "https://registry.example.com/?x=1", nil},
		{"token with a newline", "https://registry.example.com", []client.Option{client.WithToken("abc\nX-Evil: 1")}},
		{"zero response limit", "https://registry.example.com", []client.Option{client.WithMaxResponseBytes(-1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := client.New(tt.base, tt.opts...); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
