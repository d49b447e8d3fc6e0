package eval_test

import (
	"hash/fnv"
	"slices"
	"strings"
	"testing"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/search"
	"github.com/mcpgw/mcpgw/registry/search/eval"
)

// smallCatalogSize is the size of the catalogs of TestSmallCatalogs: a new deployment's first dozen assets.
const smallCatalogSize = 12

// TestSmallCatalogs checks that search works on small catalogs, where the catalog's own mean is a poor centring
// estimate (reference.go): for every dev-set query with an answer, a catalog of its grade-3 assets and unjudged
// others up to smallCatalogSize (chosen by a hash of the query id) must rank a grade-3 asset first for most queries.
func TestSmallCatalogs(t *testing.T) {
	ds, err := eval.Load("../testdata/eval")
	if err != nil {
		t.Fatal(err)
	}
	objs := corpusObjects(t, ds)
	key := func(typ, name string) string { return typ + "|" + name }
	// typeOf is the search type ("server") of a catalog kind ("servers").
	typeOf := func(o catalog.Object) string { return strings.TrimSuffix(string(o.Kind()), "s") }
	var queries, first, empty int
	for _, q := range ds.Queries {
		judged, best := map[string]bool{}, map[string]bool{}
		for _, j := range q.Expected {
			judged[key(j.Type, j.Name)] = true
			if j.Grade == 3 {
				best[key(j.Type, j.Name)] = true
			}
		}
		if len(best) == 0 {
			continue
		}
		var cat search.Objects
		for _, o := range objs {
			if best[key(typeOf(o), o.Key())] {
				cat = append(cat, o)
			}
		}
		// Unjudged others, in an order fixed by the query id.
		others := slices.Clone(objs)
		slices.SortFunc(others, func(a, b catalog.Object) int {
			return int(int64(hash(q.ID+a.Key())) - int64(hash(q.ID+b.Key())))
		})
		for _, o := range others {
			if len(cat) >= smallCatalogSize {
				break
			}
			if !judged[key(typeOf(o), o.Key())] {
				cat = append(cat, o)
			}
		}
		res, err := indexObjects(t, cat, nil).Search(t.Context(), search.Query{Text: q.Query, Limit: eval.Cutoff}, search.Everything{})
		if err != nil {
			t.Fatal(err)
		}
		hits := res.Results
		queries++
		switch {
		case len(hits) == 0:
			empty++
		case best[key(string(hits[0].Type), hits[0].Name)]:
			first++
		}
	}
	t.Logf("%d small catalogs: a grade-3 asset first in %d, nothing returned in %d", queries, first, empty)
	if float64(first) < 0.8*float64(queries) {
		t.Errorf("a grade-3 asset ranks first for %d of %d queries; want at least 80%%", first, queries)
	}
}

func hash(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}
