package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/mcpgw/mcpgw/registry/search"
	"github.com/mcpgw/mcpgw/registry/search/embed"
	"github.com/mcpgw/mcpgw/registry/search/embed/static"
	"github.com/mcpgw/mcpgw/registry/search/eval"
)

// cmdHybrid measures a candidate table the way the registry uses it: the
// whole hybrid index (BM25F, dense, fusion, relevance floor) over a dataset in
// the dev-set format, with the default tuning or one changed by -tuning. It
// prints NDCG@10 per category for two halves of the queries (A: the 1st, 3rd,
// … query of each category in file order; B: the others) and for all of them,
// so that a setting chosen on one half can be checked on the other. It reads
// evaluation data only; nothing here feeds training.
func cmdHybrid(fs *flag.FlagSet, args []string, stdout io.Writer, log *slog.Logger) error {
	modelPath := fs.String("model", "", "table to evaluate (empty: the committed builtin table)")
	dataset := fs.String("dataset", "", "directory with corpus.json and queries.json")
	tuning := fs.String("tuning", "", `JSON object of search.Tuning fields overriding the defaults, e.g. {"DenseWeight":1.5}`)
	verbose := fs.Bool("v", false, "print every query's score and hits")
	diag := fs.Bool("diag", false, "print, per query (id and category only), the evidence of the best results without the relevance floor and the rank of its best-graded asset")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dataset == "" {
		return errors.New("hybrid: -dataset is required")
	}
	ds, err := eval.Load(*dataset)
	if err != nil {
		return fmt.Errorf("hybrid: %w", err)
	}
	tune := search.DefaultTuning()
	if *tuning != "" {
		dec := json.NewDecoder(strings.NewReader(*tuning))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&tune); err != nil {
			return fmt.Errorf("hybrid: parse -tuning: %w", err)
		}
	}
	var emb embed.Embedder
	if *modelPath == "" {
		if emb, err = embed.NewBuiltin(); err != nil {
			return fmt.Errorf("hybrid: %w", err)
		}
	} else {
		b, err := os.ReadFile(*modelPath)
		if err != nil {
			return fmt.Errorf("hybrid: %w", err)
		}
		if emb, err = newTableEmbedder(b); err != nil {
			return fmt.Errorf("hybrid: %w", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if *diag {
		return diagnose(ctx, stdout, ds, emb, tune, log)
	}
	r, err := runHybrid(ctx, ds, emb, &tune, log)
	if err != nil {
		return err
	}
	return writeSplitTable(stdout, ds, r, *verbose)
}

// diagnose prints, per query, the evidence (coverage + centred cosine) of the
// first three results with the relevance floor off, and where the query's
// best-graded asset ranks with its evidence: the numbers behind the floor.
func diagnose(ctx context.Context, w io.Writer, ds *eval.Dataset, emb embed.Embedder, tune search.Tuning, log *slog.Logger) error {
	tune.DocFloor, tune.QueryFloor = -1, -1
	x, stop, err := buildIndex(ctx, ds, emb, &tune, log)
	if err != nil {
		return err
	}
	defer stop()
	for _, q := range ds.Queries {
		res, err := x.Search(ctx, search.Query{Text: q.Query, Limit: search.MaxLimit, Explain: true}, search.Everything{})
		if err != nil {
			return fmt.Errorf("diagnose: %w", err)
		}
		best := map[string]bool{}
		top := 0
		for _, e := range q.Expected {
			top = max(top, e.Grade)
		}
		for _, e := range q.Expected {
			if e.Grade == top {
				best[e.Type+":"+e.Name] = true
			}
		}
		ev := func(r search.Result) float64 { return r.Explain.Coverage + max(r.Explain.Cosine, 0) }
		fmt.Fprintf(w, "%s %-16s", q.ID, q.Category)
		for i := range 3 {
			if i < len(res.Results) {
				fmt.Fprintf(w, " %5.2f", ev(res.Results[i]))
			} else {
				fmt.Fprintf(w, " %5s", "-")
			}
		}
		bestEv, bestCov, bestCos := -1.0, 0.0, 0.0
		for _, r := range res.Results {
			if e := ev(r); e > bestEv {
				bestEv, bestCov, bestCos = e, r.Explain.Coverage, r.Explain.Cosine
			}
		}
		fmt.Fprintf(w, " | top ev %.2f = cov %.2f + cos %.2f", bestEv, bestCov, bestCos)
		var cs []float64
		for _, r := range res.Results {
			cs = append(cs, r.Explain.Cosine)
		}
		slices.SortFunc(cs, func(a, b float64) int { return cmp.Compare(b, a) })
		if len(cs) > 1 {
			var m, v float64
			for _, c := range cs[1:] {
				m += c
			}
			m /= float64(len(cs) - 1)
			for _, c := range cs[1:] {
				v += (c - m) * (c - m)
			}
			v = math.Sqrt(v / float64(len(cs)-1))
			fmt.Fprintf(w, " | cos1 %.2f cos2 %.2f gap %.2f z %.1f |", cs[0], cs[1], cs[0]-cs[1], (cs[0]-m)/max(v, 1e-6))
		}
		rank := -1
		for i, r := range res.Results {
			if best[string(r.Type)+":"+r.Name] {
				rank = i
				break
			}
		}
		if rank >= 0 {
			r := res.Results[rank]
			fmt.Fprintf(w, "  target rank %2d cov %.2f cos %.2f dense %d lex %d\n", rank+1, r.Explain.Coverage, r.Explain.Cosine, r.Explain.DenseRank, r.Explain.LexicalRank)
		} else {
			fmt.Fprintf(w, "  target -\n")
		}
	}
	return nil
}

// buildIndex indexes the dataset's corpus and waits for every vector; stop
// ends the index's background work.
func buildIndex(ctx context.Context, ds *eval.Dataset, emb embed.Embedder, tune *search.Tuning, log *slog.Logger) (*search.Index, func(), error) {
	objs, err := ds.Corpus.Objects()
	if err != nil {
		return nil, nil, fmt.Errorf("build index: %w", err)
	}
	for i, o := range objs {
		o.Metadata().Rev = int64(i + 1)
	}
	x, err := search.New(search.Options{Embedder: emb, Tuning: tune, Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("build index: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = x.Run(runCtx) }()
	stop := func() { cancel(); <-done }
	x.Load(search.Objects(objs))
	if err := x.Flush(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("build index: %w", err)
	}
	return x, stop, nil
}

// runHybrid indexes the dataset's corpus and asks every query, as
// TestDevSetFloor does.
func runHybrid(ctx context.Context, ds *eval.Dataset, emb embed.Embedder, tune *search.Tuning, log *slog.Logger) (*eval.Report, error) {
	x, stop, err := buildIndex(ctx, ds, emb, tune, log)
	if err != nil {
		return nil, err
	}
	defer stop()
	r, err := eval.Run(ctx, ds, func(ctx context.Context, q string) ([]eval.Hit, error) {
		res, err := x.Search(ctx, search.Query{Text: q, Limit: eval.Cutoff}, search.Everything{})
		if err != nil {
			return nil, err
		}
		hits := make([]eval.Hit, len(res.Results))
		for i, h := range res.Results {
			hits[i] = eval.Hit{Type: string(h.Type), Name: h.Name}
		}
		return hits, nil
	})
	if err != nil {
		return nil, fmt.Errorf("hybrid: %w", err)
	}
	return r, nil
}

// writeSplitTable prints mean NDCG@10 per category for half A, half B and
// all queries.
func writeSplitTable(w io.Writer, ds *eval.Dataset, r *eval.Report, verbose bool) error {
	type acc struct{ sum [3]float64 }
	var n [3]map[string]int
	for i := range n {
		n[i] = map[string]int{}
	}
	sums := map[string]*acc{}
	seen := map[string]int{}
	add := func(cat string, half int, v float64) {
		a := sums[cat]
		if a == nil {
			a = &acc{}
			sums[cat] = a
		}
		a.sum[half] += v
		a.sum[2] += v
		n[half][cat]++
		n[2][cat]++
	}
	byID := map[string]eval.QueryScore{}
	for _, q := range r.PerQuery {
		byID[q.ID] = q
	}
	for _, q := range ds.Queries {
		s, ok := byID[q.ID]
		if !ok {
			return fmt.Errorf("hybrid: query %s has no score", q.ID)
		}
		half := seen[q.Category] % 2
		seen[q.Category]++
		add(q.Category, half, s.NDCG)
		add("overall", half, s.NDCG)
		if verbose {
			fmt.Fprintf(w, "%s %-16s %c ndcg=%.2f hits=%v\n", q.ID, q.Category, "AB"[half], s.NDCG, s.Hits)
		}
	}
	cats := make([]string, 0, len(sums))
	for c := range sums {
		if c != "overall" {
			cats = append(cats, c)
		}
	}
	slices.Sort(cats)
	cats = append(cats, "overall")
	fmt.Fprintf(w, "%-16s %6s %6s %6s\n", "category", "A", "B", "all")
	for _, c := range cats {
		fmt.Fprintf(w, "%-16s", c)
		for h := range 3 {
			fmt.Fprintf(w, " %6.3f", sums[c].sum[h]/float64(max(n[h][c], 1)))
		}
		fmt.Fprintln(w)
	}
	return nil
}

// tableEmbedder serves a candidate table exactly as embed.Builtin serves the
// committed one (same pooling, symmetric, the allocation-free query path).
type tableEmbedder struct {
	m    *static.Model
	info embed.ModelInfo
}

func newTableEmbedder(b []byte) (*tableEmbedder, error) {
	m, err := static.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("load table: %w", err)
	}
	sum := sha256.Sum256(b)
	return &tableEmbedder{m: m, info: embed.ModelInfo{Provider: "candidate", Model: hex.EncodeToString(sum[:6]),
		Dim: m.Dim(), Normalized: true}}, nil
}

func (t *tableEmbedder) Info() embed.ModelInfo { return t.info }

func (t *tableEmbedder) Embed(_ context.Context, inputs []string, _ embed.InputKind) ([][]float32, error) {
	out := make([][]float32, len(inputs))
	for i, in := range inputs {
		out[i], _ = t.m.AppendEmbedding(nil, in)
	}
	return out, nil
}

func (t *tableEmbedder) EmbedOne(dst []float32, text string) ([]float32, int) {
	return t.m.AppendEmbedding(dst[:0], text)
}
