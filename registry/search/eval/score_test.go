package eval

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestScore(t *testing.T) {
	// Invariant: NDCG@10 uses gain 2^grade − 1 and discount 1/log2(rank+1) normalised by the ideal order of the
	// judged assets; RR is the reciprocal rank of the first hit with the best grade; Recall@10 is the share of
	// judged assets in the first ten; a query without judged assets scores 1 only when nothing is returned.
	s3, s1, a2 := Hit{"server", "ns/a"}, Hit{"server", "ns/b"}, Hit{"agent", "ns/c"}
	other := Hit{"skill", "ns/x"}
	q := Query{ID: "q", Category: "c", Expected: []Judgment{{"server", "ns/a", 3}, {"server", "ns/b", 1}, {"agent", "ns/c", 2}}}
	ideal := 7 + 3/math.Log2(3) + 1/math.Log2(4)
	for _, c := range []struct {
		name             string
		hits             []Hit
		ndcg, rr, recall float64
	}{
		{"ideal order", []Hit{s3, a2, s1}, 1, 1, 1},
		{"best second", []Hit{other, s3}, (7 / math.Log2(3)) / ideal, 0.5, 1.0 / 3},
		{"reversed", []Hit{s1, a2, s3}, (1 + 3/math.Log2(3) + 7/math.Log2(4)) / ideal, 1.0 / 3, 1},
		{"nothing", nil, 0, 0, 0},
		{"beyond the cutoff", append(make([]Hit, 10), s3), 0, 0, 0},
	} {
		got := Score(q, c.hits)
		if !near(got.NDCG, c.ndcg) || !near(got.RR, c.rr) || !near(got.Recall, c.recall) || !got.Answerable {
			t.Errorf("%s: ndcg %.4f rr %.4f recall %.4f, want %.4f %.4f %.4f", c.name, got.NDCG, got.RR, got.Recall,
				c.ndcg, c.rr, c.recall)
		}
	}
	none := Query{ID: "n", Category: NoAnswer}
	if s := Score(none, nil); s.NDCG != 1 || s.Answerable {
		t.Errorf("no answer, no hits: %+v", s)
	}
	if s := Score(none, []Hit{other}); s.NDCG != 0 {
		t.Errorf("no answer, a hit: %+v", s)
	}
}

func TestMeans(t *testing.T) {
	// Invariant: NDCG means over every query of a set; MRR and Recall over the answerable ones only.
	m := mean("x", []QueryScore{{NDCG: 1, Answerable: false}, {NDCG: 0.5, RR: 0.5, Recall: 1, Answerable: true}})
	if !near(m.NDCG, 0.75) || !near(m.MRR, 0.5) || !near(m.Recall, 1) || m.Answerable != 1 || m.Queries != 2 {
		t.Fatalf("means %+v", m)
	}
}

func TestLoadRejects(t *testing.T) {
	// Invariant: a dataset with unknown judged assets, bad grades, duplicate ids, unknown fields or no queries is
	// refused with ErrDataset, naming the problem.
	corpus := `{"servers":[{"name":"ns/a","title":"A","description":"a","tags":[],"tools":[]}],"agents":[],"skills":[]}`
	for _, c := range []struct {
		name, corpus, queries, want string
	}{
		{"unknown asset", corpus, `[{"id":"q1","query":"x","category":"c","expected":[{"type":"server","name":"ns/zz","grade":3}]}]`, "not in the corpus"},
		{"bad grade", corpus, `[{"id":"q1","query":"x","category":"c","expected":[{"type":"server","name":"ns/a","grade":4}]}]`, "grade 4"},
		{"duplicate id", corpus, `[{"id":"q1","query":"x","category":"c","expected":[]},{"id":"q1","query":"y","category":"c","expected":[]}]`, "duplicate id"},
		{"unknown field", corpus, `[{"id":"q1","query":"x","category":"c","expected":[],"extra":1}]`, "unknown field"},
		{"no queries", corpus, `[]`, "no queries"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "corpus.json"), []byte(c.corpus), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "queries.json"), []byte(c.queries), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if !errors.Is(err, ErrDataset) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrDataset mentioning %q", c.name, err, c.want)
		}
	}
}

func TestDevSetLoads(t *testing.T) {
	// Invariant: the repository's copy of the dev set loads, and its corpus converts to valid catalog objects.
	ds, err := Load("../testdata/eval")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := ds.Corpus.Objects()
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != len(ds.Corpus.Servers)+len(ds.Corpus.Agents)+len(ds.Corpus.Skills) || len(ds.Queries) == 0 {
		t.Fatalf("%d objects, %d queries", len(objs), len(ds.Queries))
	}
}

func TestSynthetic(t *testing.T) {
	// Invariant: the synthetic catalog is valid, has unique names per kind, and is the same for the same seed.
	a, b := Synthetic(50, 40, 30, 7), Synthetic(50, 40, 30, 7)
	if len(a) != 120 {
		t.Fatalf("%d objects", len(a))
	}
	seen := map[string]bool{}
	for i, o := range a {
		if err := o.Validate(); err != nil {
			t.Fatalf("%s %s: %v", o.Kind(), o.Key(), err)
		}
		k := string(o.Kind()) + " " + o.Key()
		if seen[k] {
			t.Fatalf("duplicate %s", k)
		}
		seen[k] = true
		if b[i].Key() != o.Key() {
			t.Fatalf("not deterministic: %s vs %s", o.Key(), b[i].Key())
		}
	}
	if q := SyntheticQueries(10, 1); len(q) != 10 || q[0] == "" {
		t.Fatalf("queries %q", q)
	}
}
