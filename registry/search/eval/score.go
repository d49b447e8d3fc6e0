package eval

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Hit is one ranked result as the evaluation sees it.
type Hit struct {
	Type string
	Name string
}

// Searcher answers a query with ranked hits (at least the first Cutoff of them).
type Searcher func(ctx context.Context, query string) ([]Hit, error)

// Cutoff is the rank depth of NDCG@10 and Recall@10.
const Cutoff = 10

// NoAnswer is the category of queries without a right answer.
const NoAnswer = "no-answer"

// QueryScore is the score of one query.
type QueryScore struct {
	ID       string  `json:"id"`
	Category string  `json:"category"`
	NDCG     float64 `json:"ndcg10"`
	// RR is the reciprocal rank of the first result with the query's best grade (0 when none is in the results).
	RR float64 `json:"rr"`
	// Recall is the share of judged assets in the first Cutoff results.
	Recall float64 `json:"recall10"`
	// Answerable is false for a no-answer query: it scores NDCG 1 when nothing is returned, 0 otherwise, and
	// takes no part in MRR and Recall.
	Answerable bool  `json:"answerable"`
	Hits       []Hit `json:"hits,omitempty"`
}

// Scores are the means over a set of queries.
type Scores struct {
	Name    string  `json:"name"`
	Queries int     `json:"queries"`
	NDCG    float64 `json:"ndcg10"`
	// Answerable counts the queries with judged assets; MRR and Recall average those only (0 when none).
	Answerable int     `json:"answerable"`
	MRR        float64 `json:"mrr"`
	Recall     float64 `json:"recall10"`
}

// Report is the result of an evaluation.
type Report struct {
	Overall    Scores       `json:"overall"`
	Categories []Scores     `json:"categories"`
	PerQuery   []QueryScore `json:"queries"`
}

// Run asks s every query of ds and scores the answers.
func Run(ctx context.Context, ds *Dataset, s Searcher) (*Report, error) {
	r := &Report{}
	for _, q := range ds.Queries {
		hits, err := s(ctx, q.Query)
		if err != nil {
			return nil, fmt.Errorf("evaluate query %s: %w", q.ID, err)
		}
		r.PerQuery = append(r.PerQuery, Score(q, hits))
	}
	r.Overall = mean("overall", r.PerQuery)
	var cats []string
	for _, q := range r.PerQuery {
		if !slices.Contains(cats, q.Category) {
			cats = append(cats, q.Category)
		}
	}
	slices.Sort(cats)
	for _, c := range cats {
		var in []QueryScore
		for _, q := range r.PerQuery {
			if q.Category == c {
				in = append(in, q)
			}
		}
		r.Categories = append(r.Categories, mean(c, in))
	}
	return r, nil
}

// Score scores one query's hits: NDCG@10 with gain 2^grade − 1 and discount 1/log2(rank+1), normalised by the
// ideal ordering of the judged assets; the reciprocal rank of the first hit with the best grade; Recall@10 of the
// judged assets. A query without judged assets scores 1 when there are no hits and 0 otherwise.
func Score(q Query, hits []Hit) QueryScore {
	qs := QueryScore{ID: q.ID, Category: q.Category, Answerable: len(q.Expected) > 0}
	if len(hits) > Cutoff {
		hits = hits[:Cutoff]
	}
	qs.Hits = hits
	if !qs.Answerable {
		if len(hits) == 0 {
			qs.NDCG = 1
		}
		return qs
	}
	grade := map[Hit]int{}
	best := 0
	for _, j := range q.Expected {
		grade[Hit{Type: j.Type, Name: j.Name}] = j.Grade
		best = max(best, j.Grade)
	}
	var dcg float64
	found := 0
	for i, h := range hits {
		g, ok := grade[h]
		if !ok {
			continue
		}
		found++
		dcg += gain(g) / math.Log2(float64(i+2))
		if g == best && qs.RR == 0 {
			qs.RR = 1 / float64(i+1)
		}
	}
	ideal := make([]int, 0, len(q.Expected))
	for _, j := range q.Expected {
		ideal = append(ideal, j.Grade)
	}
	slices.SortFunc(ideal, func(a, b int) int { return b - a })
	var idcg float64
	for i, g := range ideal {
		if i == Cutoff {
			break
		}
		idcg += gain(g) / math.Log2(float64(i+2))
	}
	qs.NDCG = dcg / idcg
	qs.Recall = float64(found) / float64(len(q.Expected))
	return qs
}

func gain(grade int) float64 { return math.Exp2(float64(grade)) - 1 }

func mean(name string, qs []QueryScore) Scores {
	s := Scores{Name: name, Queries: len(qs)}
	for _, q := range qs {
		s.NDCG += q.NDCG
		if q.Answerable {
			s.Answerable++
			s.MRR += q.RR
			s.Recall += q.Recall
		}
	}
	if len(qs) > 0 {
		s.NDCG /= float64(len(qs))
	}
	if s.Answerable > 0 {
		s.MRR /= float64(s.Answerable)
		s.Recall /= float64(s.Answerable)
	}
	return s
}

// WriteTable prints the report as a Markdown table: one row per category, then the overall row.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| category | queries | NDCG@10 | MRR | Recall@10 |\n|---|---:|---:|---:|---:|\n")
	row := func(s Scores, bold bool) {
		name := s.Name
		if bold {
			name = "**" + name + "**"
		}
		mrr, recall := "–", "–"
		if s.Answerable > 0 {
			mrr, recall = fmt.Sprintf("%.3f", s.MRR), fmt.Sprintf("%.3f", s.Recall)
		}
		fmt.Fprintf(&b, "| %s | %d | %.3f | %s | %s |\n", name, s.Queries, s.NDCG, mrr, recall)
	}
	for _, c := range r.Categories {
		row(c, false)
	}
	row(r.Overall, true)
	_, err := io.WriteString(w, b.String())
	return err
}
