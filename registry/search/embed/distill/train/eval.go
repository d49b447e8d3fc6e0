package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/mcpgw/mcpgw/registry/search/embed/static"
)

// cmdEval measures dense-only retrieval with a table, to choose between table
// shapes. It reads evaluation data only; nothing here feeds training.
func cmdEval(fs *flag.FlagSet, args []string, log *slog.Logger) error {
	modelPath := fs.String("model", "", "table to evaluate")
	toolsPath := fs.String("tools", "", "retrieval.json of the embed package tests")
	corpusPath := fs.String("corpus", "", "search dev set corpus.json (optional)")
	queriesPath := fs.String("queries", "", "search dev set queries.json (optional)")
	docMode := fs.String("doc-mode", "whole", "dev set: score an asset by its whole concatenated text (whole), its best part: summary, each tool or skill (parts), or the mean of both (both)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelPath == "" {
		return errors.New("eval: -model is required")
	}
	b, err := os.ReadFile(*modelPath)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	m, err := static.Parse(b)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	log.Info("model", "path", *modelPath, "rows", m.Len(), "dim", m.Dim(), "bytes", len(b))
	if *toolsPath != "" {
		if err := evalTools(m, *toolsPath, log); err != nil {
			return err
		}
	}
	if *corpusPath != "" && *queriesPath != "" {
		if err := evalDevSet(m, *corpusPath, *queriesPath, *docMode, log); err != nil {
			return err
		}
	}
	return nil
}

// retrievalSet is testdata/retrieval.json.
type retrievalSet struct {
	Tools []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tools"`
	Queries []struct {
		Query  string `json:"query"`
		Expect string `json:"expect"`
	} `json:"queries"`
}

func embedAll(m *static.Model, texts []string) [][]float32 {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i], _ = m.AppendEmbedding(nil, t)
	}
	return out
}

// rank returns document indexes by decreasing cosine to q (stable on ties).
func rank(q []float32, docs [][]float32) []int {
	score := make([]float32, len(docs))
	for i, d := range docs {
		score[i] = dot(q, d)
	}
	return rankScores(score)
}

// rankScores returns indexes by decreasing score, stable on ties.
func rankScores(score []float32) []int {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case score[a] > score[b]:
			return -1
		case score[a] < score[b]:
			return 1
		}
		return 0
	})
	return idx
}

func evalTools(m *static.Model, path string, log *slog.Logger) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("eval tools: %w", err)
	}
	var set retrievalSet
	if err := json.Unmarshal(b, &set); err != nil {
		return fmt.Errorf("eval tools: %w", err)
	}
	names := make([]string, len(set.Tools))
	texts := make([]string, len(set.Tools))
	for i, t := range set.Tools {
		names[i] = t.Name
		texts[i] = t.Name + " " + t.Description
	}
	docs := embedAll(m, texts)
	var mrr, top1, r3 float64
	for _, q := range set.Queries {
		qv, _ := m.AppendEmbedding(nil, q.Query)
		for pos, i := range rank(qv, docs) {
			if names[i] == q.Expect {
				mrr += 1 / float64(pos+1)
				if pos == 0 {
					top1++
				}
				if pos < 3 {
					r3++
				}
				break
			}
		}
	}
	n := float64(len(set.Queries))
	log.Info("tool retrieval", "queries", len(set.Queries), "mrr", round3(mrr/n), "top1", round3(top1/n), "recall@3", round3(r3/n))
	return nil
}

// devCorpus is the part of shared/testdata/search/corpus.json we embed.
type devCorpus struct {
	Servers []struct {
		Name, Title, Description string
		Tags                     []string
		Tools                    []struct{ Name, Description string }
	}
	Agents []struct {
		Name, Description string
		Tags              []string
		Skills            []struct{ Name, Description string }
	}
	Skills []struct {
		Name, Description string
		Tags              []string
	}
}

type devQuery struct {
	ID       string
	Query    string
	Category string
	Expected []struct {
		Type, Name string
		Grade      int
	}
}

// evalDevSet reports dense-only MRR (first grade-3 hit) and NDCG@10 (gain
// 2^grade−1) per category over the registry's search dev set. Documents are
// the concatenated name, title, description, tags and tool or skill texts.
// No-answer queries are skipped: a dense ranking alone has no relevance floor.
func evalDevSet(m *static.Model, corpusPath, queriesPath, docMode string, log *slog.Logger) error {
	if docMode != "whole" && docMode != "parts" && docMode != "both" {
		return fmt.Errorf("eval: unknown -doc-mode %q", docMode)
	}
	var c devCorpus
	var qs []devQuery
	for path, v := range map[string]any{corpusPath: &c, queriesPath: &qs} {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("eval dev set: %w", err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("eval dev set: %s: %w", path, err)
		}
	}
	// Each asset has parts: its summary (name, title, description, tags) and
	// one part per tool or skill; the whole text is their concatenation.
	var keys []string
	var parts [][]string
	for _, s := range c.Servers {
		p := []string{strings.Join([]string{s.Name, s.Title, s.Description, strings.Join(s.Tags, " ")}, ". ")}
		for _, t := range s.Tools {
			p = append(p, t.Name+". "+t.Description)
		}
		keys, parts = append(keys, "server:"+s.Name), append(parts, p)
	}
	for _, a := range c.Agents {
		p := []string{strings.Join([]string{a.Name, a.Description, strings.Join(a.Tags, " ")}, ". ")}
		for _, s := range a.Skills {
			p = append(p, s.Name+". "+s.Description)
		}
		keys, parts = append(keys, "agent:"+a.Name), append(parts, p)
	}
	for _, s := range c.Skills {
		keys, parts = append(keys, "skill:"+s.Name), append(parts, []string{strings.Join([]string{s.Name, s.Description, strings.Join(s.Tags, " ")}, ". ")})
	}
	docParts := make([][][]float32, len(parts))
	whole := make([][]float32, len(parts))
	for i, p := range parts {
		docParts[i] = embedAll(m, p)
		whole[i], _ = m.AppendEmbedding(nil, strings.Join(p, ". "))
	}
	type agg struct{ n, mrr, ndcg float64 }
	per := map[string]*agg{}
	total := &agg{}
	for _, q := range qs {
		if len(q.Expected) == 0 {
			continue
		}
		grade := map[string]int{}
		var ideal []int
		for _, e := range q.Expected {
			grade[e.Type+":"+e.Name] = e.Grade
			ideal = append(ideal, e.Grade)
		}
		slices.SortFunc(ideal, func(a, b int) int { return b - a })
		qv, _ := m.AppendEmbedding(nil, q.Query)
		ranked := rankDocs(qv, whole, docParts, docMode)
		var rr, dcg, idcg float64
		for pos, i := range ranked {
			g := grade[keys[i]]
			if g == 3 && rr == 0 {
				rr = 1 / float64(pos+1)
			}
			if pos < 10 {
				dcg += (math.Pow(2, float64(g)) - 1) / math.Log2(float64(pos+2))
			}
		}
		for pos, g := range ideal {
			if pos < 10 {
				idcg += (math.Pow(2, float64(g)) - 1) / math.Log2(float64(pos+2))
			}
		}
		a := per[q.Category]
		if a == nil {
			a = &agg{}
			per[q.Category] = a
		}
		for _, x := range []*agg{a, total} {
			x.n++
			x.mrr += rr
			if idcg > 0 {
				x.ndcg += dcg / idcg
			}
		}
	}
	cats := make([]string, 0, len(per))
	for k := range per {
		cats = append(cats, k)
	}
	slices.Sort(cats)
	for _, k := range cats {
		a := per[k]
		log.Info("dev set", "category", k, "queries", a.n, "mrr", round3(a.mrr/a.n), "ndcg@10", round3(a.ndcg/a.n))
	}
	log.Info("dev set", "category", "ALL", "queries", total.n, "mrr", round3(total.mrr/total.n), "ndcg@10", round3(total.ndcg/total.n))
	return nil
}

// rankDocs ranks assets by the cosine of their whole text, of their best
// part, or the mean of the two (stable on ties).
func rankDocs(q []float32, whole [][]float32, docParts [][][]float32, mode string) []int {
	score := make([]float32, len(whole))
	for i := range whole {
		best := float32(-2)
		for _, p := range docParts[i] {
			best = max(best, dot(q, p))
		}
		switch mode {
		case "whole":
			score[i] = dot(q, whole[i])
		case "parts":
			score[i] = best
		default:
			score[i] = (dot(q, whole[i]) + best) / 2
		}
	}
	return rankScores(score)
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }
