package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/client/clienttest"
)

// env is a running registry and the token the commands send.
type env struct {
	reg   *clienttest.Registry
	token string
}

func start(t *testing.T) *env {
	t.Helper()
	reg := clienttest.Start(t)
	return &env{reg: reg, token: reg.AdminToken(t)}
}

// mcpctl runs one invocation through run, with the global flags first, as a user types them.
func (e *env) mcpctl(args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	err = run(append([]string{"--server", e.reg.URL, "--token", e.token}, args...), &out, &errb)
	return out.String(), errb.String(), err
}

// withStdin runs one invocation reading stdin from in, with an empty environment.
func (e *env) withStdin(t *testing.T, in string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(in), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	err = c.run(t.Context(), append([]string{"--server", e.reg.URL, "--token", e.token}, args...))
	return out.String(), errb.String(), err
}

func (e *env) must(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := e.mcpctl(args...)
	if err != nil {
		t.Fatalf("mcpctl %s: %v\nstderr:\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const twoServers = `# two servers in one list
- name: finance/ledger
  title: Ledger
  description: General ledger lookups
  tags: [finance, accounting]
  versions:
    - version: 1.2.0
      url: https://ledger.example.com/mcp
      tools:
        - name: get_balance
          description: Balance of an account
          inputSchema: {type: object, properties: {account: {type: string}}}
        - name: list_entries
    - version: "1.1.0"
      url: https://ledger-old.example.com/mcp
      deprecated: true
- name: finance/fx
  description: Foreign exchange rates
  versions:
    - version: 2.0.0
      url: https://fx.example.com/mcp
`

func TestServersRegisterListGetDelete(t *testing.T) {
	e := start(t)
	file := writeFile(t, "servers.yaml", twoServers)

	out := e.must(t, "servers", "register", "-f", file)
	if want := "server finance/ledger created (rev 1)\nserver finance/fx created (rev 2)\n"; out != want {
		t.Fatalf("register printed:\n%s\nwant:\n%s", out, want)
	}

	table := e.must(t, "servers", "list")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	want := [][]string{
		{"NAME", "TITLE/DESCRIPTION", "STATUS", "VERSIONS", "TOOLS", "REV"},
		{"finance/fx", "Foreign", "exchange", "rates", "enabled", "2.0.0*", "0", "2"},
		{"finance/ledger", "Ledger", "enabled", "1.2.0*,1.1.0", "2", "1"},
	}
	if len(lines) != len(want) {
		t.Fatalf("table:\n%s", table)
	}
	for i, l := range lines {
		if diff := cmp.Diff(want[i], strings.Fields(l)); diff != "" {
			t.Fatalf("table line %d (-want +got):\n%s\n%s", i, diff, table)
		}
	}
	// The columns line up: every row starts its STATUS column where the header does.
	col := strings.Index(lines[0], "STATUS")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[col:], "enabled") {
			t.Fatalf("misaligned table:\n%s", table)
		}
	}

	var servers []catalog.Server
	if err := json.Unmarshal([]byte(e.must(t, "servers", "list", "-o", "json")), &servers); err != nil {
		t.Fatal(err)
	}
	if len(servers) != 2 || servers[0].Name != "finance/fx" || servers[1].Name != "finance/ledger" ||
		len(servers[1].Versions) != 2 || servers[1].Versions[0].Tools[0].Name != "get_balance" {
		t.Fatalf("list -o json: %+v", servers)
	}
	var fromYAML []map[string]any
	if err := yaml.Unmarshal([]byte(e.must(t, "servers", "list", "--output", "yaml", "--tag", "accounting")), &fromYAML); err != nil {
		t.Fatal(err)
	}
	if len(fromYAML) != 1 || fromYAML[0]["name"] != "finance/ledger" || fromYAML[0]["rev"] != 1 {
		t.Fatalf("list -o yaml --tag accounting: %v", fromYAML)
	}

	// Flags may follow the arguments.
	var got catalog.Server
	if err := json.Unmarshal([]byte(e.must(t, "servers", "get", "finance/ledger", "-o", "json")), &got); err != nil {
		t.Fatal(err)
	}
	if got.Title != "Ledger" || got.Rev != 1 || !slices.Equal(got.Tags, []string{"finance", "accounting"}) {
		t.Fatalf("get: %+v", got)
	}

	if out := e.must(t, "servers", "delete", "finance/fx"); out != "server finance/fx deleted\n" {
		t.Fatalf("delete printed %q", out)
	}
	out, errOut, err := e.mcpctl("servers", "get", "finance/fx")
	if err == nil || out != "" || errOut != "error: Not found (404): no such resource\n" {
		t.Fatalf("get after delete: err %v, stdout %q, stderr %q", err, out, errOut)
	}
	// With several names, the error says which one is missing.
	out, errOut, err = e.mcpctl("servers", "get", "finance/ledger", "finance/fx")
	if err == nil || out != "" || errOut != "error: server finance/fx: Not found (404): no such resource\n" {
		t.Fatalf("get of two, one missing: err %v, stdout %q, stderr %q", err, out, errOut)
	}
	if _, errOut, err := e.mcpctl("servers", "list", "-q", "nothing-matches"); err != nil || errOut != "No servers found.\n" {
		t.Fatalf("empty list: %v %q", err, errOut)
	}
}

func TestValidationErrorOutput(t *testing.T) {
	e := start(t)
	file := writeFile(t, "bad.yaml", `
name: acme/weather
versions:
  - version: "1.0"
    url: ftp://weather.example.com
`)
	out, errOut, err := e.mcpctl("servers", "register", "-f", file)
	if err == nil {
		t.Fatal("register of an invalid server succeeded")
	}
	const want = `error: Validation failed (422): the request body breaks the rules for this resource; see errors
  versions[0].version: must be a semantic version such as 1.2.3
  versions[0].url: must be an absolute http or https URL
`
	if out != "" || errOut != want {
		t.Fatalf("stdout %q\nstderr:\n%s\nwant:\n%s", out, errOut, want)
	}

	// Several documents: each failure names its document and object, the others are still written.
	file = writeFile(t, "mixed.yaml", `
name: acme/ok
versions: [{version: 1.0.0, url: "https://ok.example.com/mcp"}]
---
name: acme/typo
summary: not a field
versions: [{version: 1.0.0, url: "https://typo.example.com/mcp"}]
`)
	out, errOut, err = e.mcpctl("servers", "register", "-f", file)
	if err == nil || out != "server acme/ok created (rev 1)\n" {
		t.Fatalf("err %v, stdout %q", err, out)
	}
	want2 := "error: " + file + ": document 2 (server acme/typo): Validation failed (422): the request body breaks the rules for this resource; see errors\n" +
		"  summary: is not a known field\n" +
		"error: 1 of 2 documents failed\n"
	if errOut != want2 {
		t.Fatalf("stderr:\n%s\nwant:\n%s", errOut, want2)
	}
}

func TestApply(t *testing.T) {
	e := start(t)
	doc := `{"name":"acme/weather","description":"Forecasts","versions":[{"version":"1.0.0","url":"https://w.example.com/mcp"}]}`
	out, errOut, err := e.withStdin(t, doc, "servers", "apply", "-f", "-")
	if err != nil || out != "server acme/weather created (rev 1)\n" {
		t.Fatalf("first apply: %v %q %q", err, out, errOut)
	}
	doc = strings.Replace(doc, "Forecasts", "Forecasts and alerts", 1)
	if out, errOut, err = e.withStdin(t, doc, "servers", "apply", "-f", "-"); err != nil || out != "server acme/weather replaced (rev 2)\n" {
		t.Fatalf("second apply: %v %q %q", err, out, errOut)
	}

	// A document saved with get carries its rev: applying it after someone else's change is refused.
	saved := e.must(t, "servers", "get", "acme/weather", "-o", "yaml")
	if out := e.must(t, "servers", "apply", "-f", writeFile(t, "w.json", doc)); out != "server acme/weather replaced (rev 3)\n" {
		t.Fatalf("third apply: %q", out)
	}
	edited := strings.Replace(saved, "Forecasts and alerts", "Stale edit", 1)
	out, errOut, err = e.withStdin(t, edited, "servers", "apply", "-f", "-")
	if err == nil || out != "" || !strings.HasPrefix(errOut, "error: Precondition failed (412): ") ||
		!strings.Contains(errOut, "hint: the document carries rev 2;") {
		t.Fatalf("stale apply: err %v, stdout %q, stderr %q", err, out, errOut)
	}
	var s catalog.Server
	if err := json.Unmarshal([]byte(e.must(t, "servers", "get", "acme/weather", "-o", "json")), &s); err != nil {
		t.Fatal(err)
	}
	if s.Description != "Forecasts and alerts" || s.Rev != 3 {
		t.Fatalf("after the refused apply: %q at rev %d", s.Description, s.Rev)
	}
	if out, errOut, err := e.mcpctl("servers", "register", "-f", writeFile(t, "w.json", doc)); err == nil || out != "" ||
		!strings.HasPrefix(errOut, "error: Conflict (409): ") {
		t.Fatalf("register of an existing server: %v %q %q", err, out, errOut)
	}
	// -o json prints what was written.
	var written catalog.Server
	if err := json.Unmarshal([]byte(e.must(t, "servers", "apply", "-f", writeFile(t, "w.json", doc), "-o", "json")), &written); err != nil {
		t.Fatal(err)
	}
	if written.Rev <= 3 || written.UpdatedBy != "admin" || written.Description != "Forecasts and alerts" {
		t.Fatalf("apply -o json: %+v", written)
	}
}

func TestEntitiesMappingsAndScopes(t *testing.T) {
	e := start(t)
	e.must(t, "entity-types", "register", "-f", writeFile(t, "types.yaml", `
name: dataset
description: Data sets
schema:
  type: object
  properties:
    owner: {type: string}
    rows: {type: integer}
  required: [owner]
searchable: [owner]
`))
	out := e.must(t, "entities", "register", "-f", writeFile(t, "entities.yaml", `
- type: dataset
  name: sales/orders
  description: Every order
  fields: {owner: sales, rows: 1200}
- name: sales/returns
  description: Returned orders
  fields: {owner: sales}
`), "--type", "dataset")
	if want := "entity dataset/sales/orders created (rev 2)\nentity dataset/sales/returns created (rev 3)\n"; out != want {
		t.Fatalf("register entities:\n%s", out)
	}
	table := e.must(t, "entities", "list", "--type", "dataset", "--namespace", "sales")
	if !strings.Contains(table, "dataset   sales/orders    Every order") || !strings.Contains(table, "sales/returns") {
		t.Fatalf("entities list:\n%s", table)
	}
	// A type that does not exist is an error, not an empty listing; an existing type without matches is not.
	if _, errOut, err := e.mcpctl("entities", "list", "--type", "datset"); err == nil ||
		errOut != "error: there is no entity type \"datset\" ('mcpctl entity-types list' shows them)\n" {
		t.Fatalf("entities list of a missing type: %v %q", err, errOut)
	}
	if _, errOut, err := e.mcpctl("entities", "list", "--type", "dataset", "--namespace", "nobody"); err != nil ||
		errOut != "No entities found.\n" {
		t.Fatalf("entities list without matches: %v %q", err, errOut)
	}
	if _, errOut, err := e.mcpctl("entities", "list"); err == nil || !strings.Contains(errOut, "pass --type TYPE") {
		t.Fatalf("entities list without --type: %v %q", err, errOut)
	}
	_, errOut, err := e.mcpctl("entities", "register", "--type", "dataset", "-f", writeFile(t, "bad.json",
		`{"name":"sales/bad","description":"x","fields":{"rows":"many"}}`))
	if err == nil || !strings.Contains(errOut, "  fields") {
		t.Fatalf("entity breaking its schema: %v\n%s", err, errOut)
	}

	e.must(t, "scopes", "register", "-f", writeFile(t, "scope.yaml", `
name: finance-read
description: Read the finance servers
grants: [{server: "finance/*", tools: ["get_*"]}]
`))
	out = e.must(t, "group-mappings", "register", "-f", writeFile(t, "maps.yaml", `
- {group: "/finance/analysts", scopes: [finance-read]}
- {group: "/finance/analysts", issuer: "https://idp.example.com/realms/corp", scopes: [finance-read, mcpgw-admin]}
`))
	if !strings.Contains(out, "group mapping /finance/analysts (issuer https://idp.example.com/realms/corp) created") {
		t.Fatalf("register mappings:\n%s", out)
	}
	var m catalog.GroupMapping
	if err := json.Unmarshal([]byte(e.must(t, "group-mappings", "get", "/finance/analysts",
		"--issuer", "https://idp.example.com/realms/corp", "-o", "json")), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Scopes) != 2 {
		t.Fatalf("mapping of one issuer: %+v", m)
	}
	table = e.must(t, "group-mappings", "list")
	if !strings.Contains(table, "/finance/analysts   -      ") || !strings.Contains(table, "finance-read,mcpgw-admin") {
		t.Fatalf("mappings table:\n%s", table)
	}
	e.must(t, "group-mappings", "delete", "/finance/analysts")
	e.must(t, "group-mappings", "delete", "/finance/analysts", "--issuer", "https://idp.example.com/realms/corp")
	if out := e.must(t, "scopes", "delete", "finance-read", "missing-scope", "--ignore-not-found"); out != "scope finance-read deleted\n" {
		t.Fatalf("delete with --ignore-not-found: %q", out)
	}
}

func TestServerVersionCommands(t *testing.T) {
	e := start(t)
	e.must(t, "servers", "register", "-f", writeFile(t, "s.yaml", twoServers))
	out, errOut, err := e.withStdin(t, `
- {version: 1.3.0, url: "https://ledger.example.com/mcp", default: true}
- {version: 1.0.0, transport: stdio, launch: {command: ledger-mcp, args: [--local]}}
`, "servers", "versions", "add", "finance/ledger", "-f", "-")
	if err != nil || out != "server finance/ledger version 1.3.0 added (rev 3)\nserver finance/ledger version 1.0.0 added (rev 4)\n" {
		t.Fatalf("versions add: %v %q %q", err, out, errOut)
	}
	table := e.must(t, "servers", "versions", "list", "finance/ledger")
	want := []string{
		"VERSION DEFAULT TRANSPORT ENDPOINT TOOLS STATE",
		"1.3.0 * streamable-http https://ledger.example.com/mcp 0 active",
		"1.2.0 - streamable-http https://ledger.example.com/mcp 2 active",
		"1.1.0 - streamable-http https://ledger-old.example.com/mcp 0 deprecated",
		"1.0.0 - stdio ledger-mcp --local 0 active",
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(table), "\n") {
		got = append(got, strings.Join(strings.Fields(l), " "))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("versions list (-want +got):\n%s", diff)
	}
	var v catalog.ServerVersion
	if err := json.Unmarshal([]byte(e.must(t, "servers", "versions", "get", "finance/ledger", "1.2.0", "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Tools) != 2 {
		t.Fatalf("versions get: %+v", v)
	}
	if _, errOut, err := e.mcpctl("servers", "versions", "delete", "finance/ledger", "1.0.0", "--rev", "3"); err == nil ||
		!strings.Contains(errOut, "(412)") {
		t.Fatalf("delete at a stale rev: %v %q", err, errOut)
	}
	if out := e.must(t, "servers", "versions", "delete", "finance/ledger", "1.0.0", "1.1.0"); out !=
		"server finance/ledger version 1.0.0 deleted\nserver finance/ledger version 1.1.0 deleted\n" {
		t.Fatalf("versions delete: %q", out)
	}
	if _, errOut, err := e.mcpctl("servers", "versions", "delete", "finance/fx", "2.0.0"); err == nil ||
		!strings.Contains(errOut, "error: Conflict (409): a server keeps at least one version") {
		t.Fatalf("deleting the last version: %v %q", err, errOut)
	}
}

func TestAuditList(t *testing.T) {
	e := start(t)
	e.must(t, "servers", "register", "-f", writeFile(t, "s.yaml", twoServers))
	e.must(t, "servers", "delete", "finance/fx")
	var recs []map[string]any
	for range 500 { // records reach the store asynchronously
		recs = nil
		if err := json.Unmarshal([]byte(e.must(t, "audit", "list", "-o", "json", "--kind", "mutation")), &recs); err != nil {
			t.Fatal(err)
		}
		if len(recs) >= 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(recs) != 3 || recs[0]["action"] != "delete" {
		t.Fatalf("audit list: %v", recs)
	}
	table := e.must(t, "audit", "list", "--limit", "1", "--subject", "admin", "--since", "1h")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "mutation   admin   delete   servers/finance/fx   allow") {
		t.Fatalf("audit table:\n%s", table)
	}
	if _, errOut, err := e.mcpctl("audit", "list", "--decision", "perhaps"); err == nil || !strings.Contains(errOut, "(400)") {
		t.Fatalf("bad filter: %v %q", err, errOut)
	}
	e.token = e.reg.Token(t, "bob", "engineering")
	if _, errOut, err := e.mcpctl("audit", "list"); err == nil ||
		errOut != "error: Forbidden (403): the audit trail is visible to admins only\n" {
		t.Fatalf("audit as a non-admin: %v %q", err, errOut)
	}
}

func TestTokenSources(t *testing.T) {
	e := start(t)
	tokenFile := writeFile(t, "token", e.token+"\n")
	var out, errb bytes.Buffer
	if err := run([]string{"servers", "list", "--server", e.reg.URL, "--token-file", tokenFile}, &out, &errb); err != nil {
		t.Fatalf("--token-file: %v %s", err, errb.String())
	}
	var stdout, stderr bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		return map[string]string{"MCPGW_SERVER": e.reg.URL, "MCPGW_TOKEN": e.token}[k]
	}}
	if err := c.run(t.Context(), []string{"servers", "list"}); err != nil {
		t.Fatalf("MCPGW_SERVER and MCPGW_TOKEN: %v %s", err, stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	c = &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	err := c.run(t.Context(), []string{"--server", e.reg.URL, "servers", "list"})
	want := "error: Unauthorized (401): a bearer token is required\nhint: pass --token or --token-file, or set MCPGW_TOKEN\n"
	if err == nil || stderr.String() != want {
		t.Fatalf("no token: %v\n%s", err, stderr.String())
	}

	stderr.Reset()
	c = &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		return map[string]string{"MCPGW_TOKEN": "Bearer " + e.token}[k]
	}}
	if err := c.run(t.Context(), []string{"--server", e.reg.URL, "servers", "list"}); err == nil ||
		!strings.HasPrefix(stderr.String(), "error: MCPGW_TOKEN: the token must not contain spaces") {
		t.Fatalf("MCPGW_TOKEN with Bearer: %v\n%s", err, stderr.String())
	}
	c = &cli{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}

	// A --server that already ends in /api/v1 (copied from a curl example) makes every call a 404; say why.
	stderr.Reset()
	err = c.run(t.Context(), []string{"--server", e.reg.URL + "/api/v1/", "--token", e.token, "servers", "list"})
	if err == nil || !strings.HasSuffix(stderr.String(), "hint: --server is the registry's base URL (http://host:port); mcpctl adds /api/v1 itself\n") {
		t.Fatalf("--server with /api/v1: %v\n%s", err, stderr.String())
	}

	// A refused token that says it has expired gets a hint saying when; one that has not, none.
	jwt := func(exp int64) string {
		return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, `{"sub":"alice","exp":%d}`, exp)) + ".c2ln"
	}
	for _, tc := range []struct {
		token, want string
	}{
		{jwt(1000), "error: Unauthorized (401): the bearer token is not valid\nhint: the token expired at 1970-01-01T00:16:40Z; " +
			"get a new one (mcpgw token prints one for the development issuer)\n"},
		{jwt(time.Now().Add(time.Hour).Unix()), "error: Unauthorized (401): the bearer token is not valid\n"},
		{"not-a-jwt", "error: Unauthorized (401): the bearer token is not valid\n"},
	} {
		stderr.Reset()
		err := c.run(t.Context(), []string{"--server", e.reg.URL, "--token", tc.token, "servers", "list"})
		if err == nil || stderr.String() != tc.want {
			t.Fatalf("token %s: %v\n%s", tc.token, err, stderr.String())
		}
	}
}

func TestUsageErrors(t *testing.T) {
	empty := writeFile(t, "empty-token", "\n")
	bearer := writeFile(t, "bearer-token", "Bearer abc\n")
	// Invariant: a command line mcpctl cannot run fails before any request (the server address is unroutable)
	// with one error line that says what is wrong.
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "error: mcpctl needs a subcommand"},
		{"unknown command", []string{"pods", "list"}, `error: mcpctl has no subcommand "pods"`},
		{"unknown verb", []string{"servers", "explode"}, `error: mcpctl servers has no subcommand "explode"`},
		{"unknown flag", []string{"servers", "list", "--colour"}, "error: flag provided but not defined: -colour"},
		{"bad output", []string{"servers", "list", "-o", "xml"}, `error: invalid value "xml" for flag -o: must be table, json or yaml`},
		{"bad timeout", []string{"--timeout", "soon", "servers", "list"}, "error: invalid value \"soon\" for flag -timeout"},
		{"list with an argument", []string{"servers", "list", "acme/x"}, "error: list takes no arguments; filter with flags"},
		{"get without a name", []string{"agents", "get"}, "error: get needs at least one NAMESPACE/NAME"},
		{"register without -f", []string{"skills", "register"}, "error: register needs -f FILE"},
		{"missing file", []string{"skills", "register", "-f", "/nonexistent/x.yaml"}, "error: read /nonexistent/x.yaml: open /nonexistent/x.yaml: no such file or directory"},
		{"entities without a type", []string{"entities", "get", "a/b"}, "error: entities are addressed by type: pass --type TYPE"},
		{"a name that is not namespace/name", []string{"servers", "get", "weather"}, "error: invalid argument\n  name: \"weather\" must be namespace/name"},
		{"rev with several names", []string{"servers", "delete", "a/b", "c/d", "--rev", "3"}, "error: --rev applies to one object; name only one"},
		{"token and token file", []string{"servers", "list", "--token", "x", "--token-file", empty}, "error: use --token or --token-file, not both"},
		{"empty token file", []string{"servers", "list", "--token-file", empty}, "error: read token file: " + empty + " is empty"},
		{"token with a Bearer prefix", []string{"servers", "list", "--token", "Bearer abc"},
			`error: --token: the token must not contain spaces or control characters; give the token alone, without "Bearer "`},
		{"token file with a Bearer prefix", []string{"servers", "list", "--token-file", bearer},
			"error: --token-file " + bearer + `: the token must not contain spaces or control characters`},
		{"bad server URL", []string{"--server", "localhost:8080", "servers", "list"}, "error: --server: new client: base URL"},
		{"bad audit time", []string{"audit", "list", "--from", "yesterday"}, `error: --from "yesterday" is not an RFC 3339 time`},
		{"negative --since", []string{"audit", "list", "--since", "-24h"}, "error: --since must be a positive duration such as 24h (it counts back from now)"},
		{"negative audit --limit", []string{"audit", "list", "--limit", "-1"}, "error: --limit must not be negative"},
		{"version with an argument", []string{"version", "x"}, "error: version takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			args := tt.args
			if tt.name != "bad server URL" {
				args = append([]string{"--server", "http://127.0.0.1:1"}, args...)
			}
			err := run(args, &out, &errb)
			if err == nil {
				t.Fatal("succeeded")
			}
			if !strings.Contains(errb.String(), tt.want) || !strings.HasPrefix(errb.String(), "usage:") && !strings.HasPrefix(errb.String(), "error: ") {
				t.Fatalf("stderr:\n%s\nwant it to hold:\n%s", errb.String(), tt.want)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"help"}, {"servers", "--help"}, {"servers", "register", "-h"}, {"servers", "versions", "help"}} {
		var out, errb bytes.Buffer
		if err := run(args, &out, &errb); err != nil || !strings.HasPrefix(out.String(), "usage: mcpctl") {
			t.Fatalf("%v: err %v, stdout %q", args, err, out.String())
		}
	}
	var out, errb bytes.Buffer
	if err := run([]string{"servers", "register", "-h"}, &out, &errb); err != nil ||
		!strings.Contains(out.String(), "-f FILE") || !strings.Contains(out.String(), "--token-file FILE") {
		t.Fatalf("register usage:\n%s", out.String())
	}
	// --server-name and --tool match gateway decisions only (the API's server and tool filters); the help must not
	// promise catalog changes too.
	out.Reset()
	if err := run([]string{"audit", "list", "-h"}, &out, &errb); err != nil ||
		!strings.Contains(out.String(), "only gateway decisions on server NAMESPACE/NAME") ||
		!strings.Contains(out.String(), "only gateway decisions on TOOL") {
		t.Fatalf("audit list usage:\n%s", out.String())
	}
	out.Reset()
	if err := run([]string{"version"}, &out, &errb); err != nil || !strings.HasPrefix(out.String(), "mcpctl ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
}

func TestParseInterspersed(t *testing.T) {
	// Invariant: flags are parsed wherever they stand, and everything after -- is positional.
	tests := []struct {
		args []string
		pos  []string
		o    string
	}{
		{[]string{"a", "-o", "json", "b"}, []string{"a", "b"}, "json"},
		{[]string{"-o", "yaml", "a"}, []string{"a"}, "yaml"},
		{[]string{"a", "--", "-o", "b"}, []string{"a", "-o", "b"}, ""},
		{nil, nil, ""},
	}
	for _, tt := range tests {
		c := &cli{}
		fs := newFlagSet("t")
		c.globalFlags(fs)
		pos, err := parseInterspersed(fs, tt.args)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.pos, pos); diff != "" || c.output != tt.o {
			t.Fatalf("%v: output %q, positional (-want +got):\n%s", tt.args, c.output, diff)
		}
	}
	if _, err := parseInterspersed(newFlagSet("t"), []string{"a", "-x"}); err == nil {
		t.Fatal("an unknown flag after an argument was accepted")
	}
}

func TestRegistryUnreachable(t *testing.T) {
	// Invariant: when no HTTP answer comes back, the error names the registry address and the cause (or the
	// timeout), not the request mcpctl happened to send, so the user knows to fix --server or start mcpgw.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	silent := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer silent.Close()
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"refused", []string{"--server", closed, "servers", "list"},
			"error: cannot reach the registry at " + closed + ": dial tcp " + strings.TrimPrefix(closed, "http://") +
				": connect: connection refused\nhint: is mcpgw running there? Pass --server URL or set MCPGW_SERVER\n"},
		{"timeout", []string{"--server", silent.URL, "--timeout", "200ms", "servers", "get", "a/b"},
			"error: no answer from the registry at " + silent.URL + " within --timeout 200ms\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if err := run(append([]string{"--token", "x"}, tt.args...), &out, &errb); err == nil {
				t.Fatal("succeeded")
			}
			if errb.String() != tt.want {
				t.Fatalf("stderr:\n%s\nwant:\n%s", errb.String(), tt.want)
			}
		})
	}
}
