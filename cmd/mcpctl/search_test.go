package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/search"
	"github.com/mcpgw/mcpgw/registry/search/embed"
	"github.com/mcpgw/mcpgw/registry/search/eval"
)

const devSet = "../../registry/search/testdata/eval"

// runArgs runs one mcpctl invocation with an empty environment.
func runArgs(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	err = c.run(t.Context(), args)
	return out.String(), errb.String(), err
}

// directReport evaluates the dataset on an index fed directly, without store or API.
func directReport(t *testing.T, ds *eval.Dataset) *eval.Report {
	t.Helper()
	objs, err := ds.Corpus.Objects()
	if err != nil {
		t.Fatal(err)
	}
	emb, err := embed.NewBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	x, err := search.New(search.Options{Embedder: emb})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); _ = x.Run(ctx) }()
	defer func() { cancel(); <-done }()
	x.Load(search.Objects(objs))
	if err := x.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := eval.Run(ctx, ds, func(ctx context.Context, q string) ([]eval.Hit, error) {
		res, err := x.Search(ctx, search.Query{Text: q, Limit: eval.Cutoff}, search.Everything{})
		hits := make([]eval.Hit, len(res.Results))
		for i, h := range res.Results {
			hits[i] = eval.Hit{Type: string(h.Type), Name: h.Name}
		}
		return hits, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSearchEval(t *testing.T) {
	// Invariant: `search eval` registers the corpus in a fresh registry through the API and scores every query
	// through GET /api/v1/search; its scores equal those of the index fed directly (the API adds and loses
	// nothing), every category is reported, and the table is printed by default.
	out, errOut, err := runArgs(t, "search", "eval", "--dataset", devSet, "-o", "json", "--verbose")
	if err != nil {
		t.Fatalf("search eval: %v\n%s", err, errOut)
	}
	var rep eval.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("decode report: %v\n%s", err, out)
	}
	ds, err := eval.Load(devSet)
	if err != nil {
		t.Fatal(err)
	}
	want := directReport(t, ds)
	if rep.Overall.Queries != len(ds.Queries) || len(rep.Categories) != len(want.Categories) {
		t.Fatalf("report covers %d queries in %d categories, want %d in %d", rep.Overall.Queries,
			len(rep.Categories), len(ds.Queries), len(want.Categories))
	}
	if math.Abs(rep.Overall.NDCG-want.Overall.NDCG) > 1e-9 {
		t.Errorf("NDCG@10 through the API %.4f, directly %.4f", rep.Overall.NDCG, want.Overall.NDCG)
	}
	for i, q := range rep.PerQuery {
		if q.NDCG != want.PerQuery[i].NDCG {
			t.Errorf("%s: NDCG through the API %.3f (%v), directly %.3f (%v)", q.ID, q.NDCG, q.Hits,
				want.PerQuery[i].NDCG, want.PerQuery[i].Hits)
		}
	}
}

func TestSearchEvalFails(t *testing.T) {
	// Invariant: a floor above the score, a missing or malformed dataset, stray arguments and an out-of-range
	// floor fail the command with a message naming the problem.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "corpus.json"), []byte(`{"servers": [`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "queries.json"), []byte(`[]`), 0o600); err != nil {
		t.Fatal(err)
	}
	invalid := t.TempDir()
	if err := os.WriteFile(filepath.Join(invalid, "corpus.json"), []byte(`{"servers": [
		{"name": "acme/good", "description": "fine", "tools": [{"name": "t"}]},
		{"name": "acme/bad", "description": "x", "tags": ["`+strings.Repeat("t", 65)+`"]},
		{"name": "acme/worse", "description": "x", "tools": [{"name": "no spaces!"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(invalid, "queries.json"), []byte(`[{"id": "q1", "query": "fine", "category": "c",
		"expected": [{"type": "server", "name": "acme/good", "grade": 3}]}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"search", "eval", "--dataset", devSet, "--min-ndcg", "0.999"}, "is below --min-ndcg"},
		{[]string{"search", "eval", "--dataset", filepath.Join(t.TempDir(), "none")}, "read dataset"},
		{[]string{"search", "eval", "--dataset", bad}, "invalid dataset"},
		// Every broken corpus object is named with its field errors, not only the first object's fields.
		{[]string{"search", "eval", "--dataset", invalid}, "error: invalid dataset: servers acme/bad: invalid: tags[0]: must be at most 64 characters\n" +
			"error: servers acme/worse: invalid: versions[0].tools[0].name: may contain only letters"},
		// The test runs in cmd/mcpctl, where the default dataset (relative to the repository root) is not.
		{[]string{"search", "eval"}, "hint: the default dataset is relative to the repository root: run mcpctl there, or pass --dataset DIR"},
		{[]string{"search", "eval", "extra"}, "takes no arguments"},
		{[]string{"search", "eval", "--min-ndcg", "2"}, "between 0 and 1"},
	} {
		_, errOut, err := runArgs(t, c.args...)
		if err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: err %v, stderr %q, want it to mention %q", c.args, err, errOut, c.want)
		}
	}
}

func TestSearchQuery(t *testing.T) {
	// Invariant: `search query` asks the registry's search API and prints the results as a table (type, name,
	// score, matched tools) or as the API's JSON.
	reg, err := startRegistry(t.Context(), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.stop)
	srv := &catalog.Server{Name: "platform/hermes", Governance: catalog.Governance{Title: "Hermes",
		Description: "Administration for the company event bus."}, Versions: []catalog.ServerVersion{{Version: "1.0.0",
		URL: "https://mcp.example.com/hermes", Tools: []catalog.Tool{{Name: "replay_messages",
			Description: "Replay messages from the dead-letter topic."}}}}}
	if _, err := reg.client.Do(t.Context(), http.MethodPost, "/api/v1/servers", srv, nil); err != nil {
		t.Fatal(err)
	}
	if err := reg.app.Search.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	global := []string{"--server", reg.url, "--token", reg.token}
	out, errOut, err := runArgs(t, append(global, "search", "query", "replay", "dead-letter", "messages")...)
	if err != nil {
		t.Fatalf("search query: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, "platform/hermes") || !strings.Contains(out, "replay_messages") ||
		!strings.HasPrefix(out, "TYPE") {
		t.Fatalf("table output:\n%s", out)
	}
	out, errOut, err = runArgs(t, append(global, "search", "query", "-o", "json", "--types", "agent", "hermes")...)
	if err != nil {
		t.Fatalf("search query -o json: %v\n%s", err, errOut)
	}
	var res search.Results
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Results) != 0 || res.Mode == "" {
		t.Fatalf("json output %q: %v", out, err)
	}
	// Comma-separated lists may have spaces after the commas, and a trailing comma, as users type them.
	out, errOut, err = runArgs(t, append(global, "search", "query", "-o", "json", "--types", "agent, server,",
		"--status", "enabled, disabled", "hermes")...)
	if err != nil {
		t.Fatalf("search query --types 'agent, server,': %v\n%s", err, errOut)
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Results) != 1 || res.Results[0].Name != "platform/hermes" {
		t.Fatalf("json output %q: %v", out, err)
	}
	if _, errOut, err = runArgs(t, append(global, "search", "query", "--types", "robot", "x")...); err == nil ||
		!strings.Contains(errOut, "types") {
		t.Fatalf("bad type: err %v, stderr %q", err, errOut)
	}
	if _, errOut, err = runArgs(t, append(global, "search", "query")...); err == nil || !strings.Contains(errOut, "needs the text") {
		t.Fatalf("no text: err %v, stderr %q", err, errOut)
	}
}
