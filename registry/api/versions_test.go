package api_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// versionList reads a server's versions as version -> default flag, newest first.
func versionList(t *testing.T, e *env, server string) ([]string, string) {
	t.Helper()
	var list struct {
		Items []struct {
			Version string `json:"version"`
			Default bool   `json:"default"`
		} `json:"items"`
	}
	e.do(t, http.MethodGet, "/api/v1/servers/"+server+"/versions", nil).want(t, http.StatusOK).decode(t, &list)
	var vs []string
	def := ""
	for _, v := range list.Items {
		vs = append(vs, v.Version)
		if v.Default {
			if def != "" {
				t.Fatalf("two default versions: %s and %s", def, v.Version)
			}
			def = v.Version
		}
	}
	return vs, def
}

func TestServerVersions(t *testing.T) {
	// Invariant: versions are a sub-resource of the server: each change rewrites the server (new rev and ETag,
	// honouring If-Match), versions are listed newest first, exactly one serving version is the default (the one
	// marked default, else the newest serving one), and a server keeps at least one version.
	e := newEnv(t)
	const base = "/api/v1/servers/ns/x/versions"
	srv := e.create(t, "/api/v1/servers", serverBody("ns/x"))
	r0 := rev(t, srv)

	list := e.do(t, http.MethodGet, base, nil).want(t, http.StatusOK)
	if list.Header.Get("ETag") != etag(r0) {
		t.Fatalf("versions ETag %q, want the server's %q", list.Header.Get("ETag"), etag(r0))
	}

	// A new version, with the transport left to its default.
	add := e.do(t, http.MethodPost, base, obj{"version": "1.1.0", "url": "http://127.0.0.1:9/v11"},
		header("If-Match", etag(r0))).want(t, http.StatusCreated)
	if add.Header.Get("Location") != base+"/1.1.0" {
		t.Fatalf("Location %q", add.Header.Get("Location"))
	}
	v11 := add.object(t)
	if v11["transport"] != "streamable-http" || v11["default"] == true {
		t.Fatalf("added version: %v (the existing default stays until one is marked)", v11)
	}
	r1 := rev(t, e.do(t, http.MethodGet, "/api/v1/servers/ns/x", nil).want(t, http.StatusOK).object(t))
	if add.Header.Get("ETag") != etag(r1) || r1 <= r0 {
		t.Fatalf("ETag %q after the add, server rev %d (was %d)", add.Header.Get("ETag"), r1, r0)
	}
	// The old ETag is stale now.
	e.do(t, http.MethodPost, base, obj{"version": "1.2.0", "url": "http://127.0.0.1:9/v12"},
		header("If-Match", etag(r0))).want(t, http.StatusPreconditionFailed)

	// Marking a new version default moves the default; a stdio version is never the default.
	e.do(t, http.MethodPost, base, obj{"version": "2.0.0", "url": "http://127.0.0.1:9/v2", "default": true}).want(t, http.StatusCreated)
	e.do(t, http.MethodPost, base, obj{"version": "3.0.0", "transport": "stdio",
		"launch": obj{"command": "npx", "args": arr{"-y", "pay-mcp"}, "env": arr{"PAY_TOKEN"}}, "default": true}).want(t, http.StatusCreated)
	vs, def := versionList(t, e, "ns/x")
	if want := []string{"3.0.0", "2.0.0", "1.1.0", "1.0.0"}; !equal(vs, want) || def != "2.0.0" {
		t.Fatalf("versions %v default %q, want %v default 2.0.0", vs, def, want)
	}

	// Marking an older version default moves the default back to it, and marking a newer one moves it again.
	one := e.do(t, http.MethodGet, base+"/1.0.0", nil).want(t, http.StatusOK).object(t)
	e.do(t, http.MethodPut, base+"/1.0.0", with(one, "default", true)).want(t, http.StatusOK)
	if _, def = versionList(t, e, "ns/x"); def != "1.0.0" {
		t.Fatalf("default %q after marking 1.0.0", def)
	}
	two := e.do(t, http.MethodGet, base+"/2.0.0", nil).want(t, http.StatusOK).object(t)
	e.do(t, http.MethodPut, base+"/2.0.0", with(two, "default", true)).want(t, http.StatusOK)
	if _, def = versionList(t, e, "ns/x"); def != "2.0.0" {
		t.Fatalf("default %q after marking 2.0.0", def)
	}

	// Read and replace one version.
	got := e.do(t, http.MethodGet, base+"/1.1.0", nil).want(t, http.StatusOK).object(t)
	if got["url"] != "http://127.0.0.1:9/v11" {
		t.Fatalf("version 1.1.0: %v", got)
	}
	put := e.do(t, http.MethodPut, base+"/1.1.0", obj{"version": "1.1.0", "transport": "sse", "url": "http://127.0.0.1:9/sse",
		"deprecated": true}).want(t, http.StatusOK).object(t)
	if put["transport"] != "sse" || put["deprecated"] != true {
		t.Fatalf("replaced version: %v", put)
	}
	e.do(t, http.MethodPut, base+"/9.0.0", obj{"version": "9.0.0", "url": "http://127.0.0.1:9/x"}).want(t, http.StatusNotFound)

	// Deleting the default version hands the default to the newest serving version that is not deprecated.
	e.do(t, http.MethodDelete, base+"/2.0.0", nil).want(t, http.StatusNoContent)
	vs, def = versionList(t, e, "ns/x")
	if want := []string{"3.0.0", "1.1.0", "1.0.0"}; !equal(vs, want) || def != "1.0.0" {
		t.Fatalf("after deleting 2.0.0: versions %v default %q", vs, def)
	}
	// Deleting a version that is not the default keeps the default where it is.
	e.do(t, http.MethodDelete, base+"/1.1.0", nil).want(t, http.StatusNoContent)
	e.do(t, http.MethodDelete, base+"/3.0.0", nil).want(t, http.StatusNoContent)
	vs, def = versionList(t, e, "ns/x")
	if !equal(vs, []string{"1.0.0"}) || def != "1.0.0" {
		t.Fatalf("versions %v default %q", vs, def)
	}
	e.do(t, http.MethodDelete, base+"/1.0.0", nil).want(t, http.StatusConflict)
	e.do(t, http.MethodGet, "/api/v1/servers/ns/nosuch/versions", nil).want(t, http.StatusNotFound)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSecretsNeverEchoed(t *testing.T) {
	// Invariant: an egress secret reference is stored but never appears in a response (create, read, list,
	// versions, replace, patch): responses say has_secret instead. A client can PUT back what it read, which lacks
	// the reference, without erasing the stored one.
	e := newEnv(t)
	const ref = "vault:secret/data/payments#token"
	body := withVersion(serverBody("ns/x"), "egress_auth", obj{"type": "header", "header": "X-Api-Key", "secret_ref": ref})
	responses := []reply{e.do(t, http.MethodPost, "/api/v1/servers", body).want(t, http.StatusCreated)}
	read := e.do(t, http.MethodGet, "/api/v1/servers/ns/x", nil).want(t, http.StatusOK)
	responses = append(responses, read,
		e.do(t, http.MethodGet, "/api/v1/servers", nil).want(t, http.StatusOK),
		e.do(t, http.MethodGet, "/api/v1/servers/ns/x/versions", nil).want(t, http.StatusOK),
		e.do(t, http.MethodGet, "/api/v1/servers/ns/x/versions/1.0.0", nil).want(t, http.StatusOK),
		// What the client read goes back unchanged: the reference is kept.
		e.do(t, http.MethodPut, "/api/v1/servers/ns/x", read.Body).want(t, http.StatusOK),
		e.do(t, http.MethodPatch, "/api/v1/servers/ns/x", obj{"title": "Patched"},
			header("Content-Type", "application/merge-patch+json")).want(t, http.StatusOK),
		e.do(t, http.MethodPut, "/api/v1/servers/ns/x/versions/1.0.0",
			obj{"version": "1.0.0", "url": "http://127.0.0.1:9/mcp", "egress_auth": obj{"type": "bearer"}}).want(t, http.StatusOK),
		e.do(t, http.MethodPost, "/api/v1/servers/ns/x/versions", obj{"version": "2.0.0", "url": "http://127.0.0.1:9/v2",
			"egress_auth": obj{"type": "bearer", "secret_ref": "env:PAY_TOKEN"}}).want(t, http.StatusCreated),
		e.do(t, http.MethodPost, "/api/v1/servers/ns/x/versions", obj{"version": "3.0.0", "url": "https://pay.example.com/mcp",
			"egress_auth": obj{"type": "oauth2-client-credentials", "token_url": "https://idp.example.com/token",
				"client_id": "mcpgw", "scopes": arr{"pay.read"}, "secret_ref": "k8s:mcp/pay-client#secret"}}).want(t, http.StatusCreated),
	)
	for i, r := range responses {
		if bytes.Contains(r.Body, []byte("secret_ref")) || bytes.Contains(r.Body, []byte("vault:")) ||
			bytes.Contains(r.Body, []byte("PAY_TOKEN")) || bytes.Contains(r.Body, []byte("k8s:")) {
			t.Errorf("response %d echoes the secret: %s", i, r.Body)
		}
		if !bytes.Contains(r.Body, []byte(`"has_secret":true`)) {
			t.Errorf("response %d does not say has_secret: %s", i, r.Body)
		}
	}
	stored, err := e.store.Get(context.WithoutCancel(t.Context()), catalog.KindServer, "ns/x")
	if err != nil {
		t.Fatal(err)
	}
	s := stored.(*catalog.Server)
	if a := s.Version("1.0.0").EgressAuth; a == nil || a.SecretRef != ref || a.Type != "bearer" {
		t.Fatalf("stored egress auth of 1.0.0: %+v", a)
	}
	if a := s.Version("2.0.0").EgressAuth; a == nil || a.SecretRef != "env:PAY_TOKEN" {
		t.Fatalf("stored egress auth of 2.0.0: %+v", a)
	}
}

func TestVersionWriteOnStaleViewKeepsOtherWrites(t *testing.T) {
	// Invariant: a version change is computed from the server this process holds in memory, so it must be
	// conditional on that copy's rev. When another replica changed the server and this view has not caught up, an
	// If-Match naming the store's current rev must not let the edit overwrite the other replica's change: 412.
	e := newEnv(t)
	e.create(t, "/api/v1/servers", serverBody("ns/x"))

	// Another replica changes the title: the store moves on, this process's view (no feed running) does not.
	cur, err := e.store.Get(t.Context(), catalog.KindServer, "ns/x")
	if err != nil {
		t.Fatal(err)
	}
	other := *cur.(*catalog.Server)
	other.Title = "Changed elsewhere"
	c, err := e.store.Update(t.Context(), &other, cur.Metadata().Rev)
	if err != nil {
		t.Fatal(err)
	}

	const base = "/api/v1/servers/ns/x/versions"
	e.do(t, http.MethodPost, base, obj{"version": "1.1.0", "url": "http://127.0.0.1:9/v11"},
		header("If-Match", etag(c.Seq))).want(t, http.StatusPreconditionFailed)
	e.do(t, http.MethodDelete, base+"/1.0.0", nil,
		header("If-Match", etag(c.Seq))).want(t, http.StatusPreconditionFailed)

	got, err := e.store.Get(t.Context(), catalog.KindServer, "ns/x")
	if err != nil {
		t.Fatal(err)
	}
	if s := got.(*catalog.Server); s.Title != "Changed elsewhere" || s.Rev != c.Seq {
		t.Fatalf("stored server %q at rev %d, want the other replica's write at rev %d", s.Title, s.Rev, c.Seq)
	}
}
