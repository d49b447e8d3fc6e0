package eval_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/search"
	"github.com/mcpgw/mcpgw/registry/search/embed"
	"github.com/mcpgw/mcpgw/registry/search/eval"
)

func indexDataset(t testing.TB, ds *eval.Dataset, tune *search.Tuning) *search.Index {
	t.Helper()
	return indexObjects(t, corpusObjects(t, ds), tune)
}

// corpusObjects returns the dataset's corpus as catalog objects with revs, as the registrar would store them.
func corpusObjects(t testing.TB, ds *eval.Dataset) []catalog.Object {
	t.Helper()
	objs, err := ds.Corpus.Objects()
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range objs {
		o.Metadata().Rev = int64(i + 1)
	}
	return objs
}

// indexObjects indexes objs with the builtin embedder and waits for every vector; the index runs until the test
// ends.
func indexObjects(t testing.TB, objs []catalog.Object, tune *search.Tuning) *search.Index {
	t.Helper()
	emb, err := embed.NewBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	x, err := search.New(search.Options{Embedder: emb, Tuning: tune})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- x.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	x.Load(search.Objects(objs))
	if err := x.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	return x
}

func searcher(x *search.Index) eval.Searcher {
	return func(ctx context.Context, q string) ([]eval.Hit, error) {
		res, err := x.Search(ctx, search.Query{Text: q, Limit: eval.Cutoff}, search.Everything{})
		if err != nil {
			return nil, err
		}
		hits := make([]eval.Hit, len(res.Results))
		for i, r := range res.Results {
			hits[i] = eval.Hit{Type: string(r.Type), Name: r.Name}
		}
		return hits, nil
	}
}

// floors are the dev set scores below which a change is a regression: the measured scores (docs/search.md) less a
// margin of about one query's worth, so that tuning may trade a little between categories but not lose ground.
var floors = map[string]float64{
	"overall":         0.77,
	"exact-name":      0.95,
	"tool-precision":  0.93,
	"multi-entity":    0.90,
	"confuser":        0.90,
	"agent-focused":   0.83,
	"skill-focused":   0.86,
	"typo-and-abbrev": 0.85,
	"long-natural":    0.75,
	"no-answer":       0.65,
	"paraphrase":      0.18,
}

func TestDevSetFloor(t *testing.T) {
	// Invariant: NDCG@10 on the dev set (testdata/eval, a copy of shared/testdata/search) stays at or above the
	// floor, overall and per category, with the builtin embedder and the default tuning.
	ds, err := eval.Load("../testdata/eval")
	if err != nil {
		t.Fatal(err)
	}
	x := indexDataset(t, ds, nil)
	r, err := eval.Run(t.Context(), ds, searcher(x))
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("dev set:\n%s", table.String())
	for _, s := range append([]eval.Scores{r.Overall}, r.Categories...) {
		floor, ok := floors[s.Name]
		if !ok {
			t.Errorf("category %q has no floor; add one", s.Name)
			continue
		}
		if s.NDCG < floor {
			t.Errorf("%s: NDCG@10 %.3f is below the floor %.2f", s.Name, s.NDCG, floor)
		}
	}
	if os.Getenv("EVAL_VERBOSE") != "" {
		for _, q := range r.PerQuery {
			t.Logf("%s %-16s ndcg=%.2f hits=%v", q.ID, q.Category, q.NDCG, q.Hits)
		}
	}
}
