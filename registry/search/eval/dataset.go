// Package eval measures search quality on a labelled dataset: a corpus of servers, agents and skills, and queries
// with graded answers (the format of registry/search/testdata/eval, described in its README). It computes NDCG@10
// (gain 2^grade − 1), MRR and Recall@10, overall and per category, through any Searcher: the index directly (the
// floor test) or the REST API of a fresh registry (mcpctl search eval).
package eval

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// Dataset is a corpus and its queries.
type Dataset struct {
	Corpus  Corpus
	Queries []Query
}

// Corpus is corpus.json.
type Corpus struct {
	Servers []CorpusServer `json:"servers"`
	Agents  []CorpusAgent  `json:"agents"`
	Skills  []CorpusSkill  `json:"skills"`
}

// CorpusServer is a server of the corpus.
type CorpusServer struct {
	Name        string   `json:"name"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	Tools       []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tools"`
}

// CorpusAgent is an agent of the corpus.
type CorpusAgent struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	Skills      []struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"skills"`
}

// CorpusSkill is a skill of the corpus.
type CorpusSkill struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	Content     string   `json:"content"`
}

// Query is a labelled query.
type Query struct {
	ID       string     `json:"id"`
	Query    string     `json:"query"`
	Category string     `json:"category"`
	Expected []Judgment `json:"expected"`
}

// Judgment grades one asset for a query: 3 exactly right, 2 a good alternative, 1 partially relevant.
type Judgment struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Grade int    `json:"grade"`
}

// ErrDataset reports a dataset that cannot be used.
var ErrDataset = errors.New("invalid dataset")

// maxFile bounds each dataset file.
const maxFile = 64 << 20

// Load reads corpus.json and queries.json from dir and checks them.
func Load(dir string) (*Dataset, error) {
	var ds Dataset
	if err := readJSON(filepath.Join(dir, "corpus.json"), &ds.Corpus); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, "queries.json"), &ds.Queries); err != nil {
		return nil, err
	}
	if err := ds.check(); err != nil {
		return nil, err
	}
	return &ds, nil
}

func readJSON(path string, v any) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read dataset: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("read dataset: %w", err)
	}
	if st.Size() > maxFile {
		return fmt.Errorf("read dataset: %w: %s is larger than %d bytes", ErrDataset, path, maxFile)
	}
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("read dataset: %w: %s: %w", ErrDataset, filepath.Base(path), err)
	}
	return nil
}

// check verifies that ids are unique, grades are 1–3 and every judged asset is in the corpus.
func (ds *Dataset) check() error {
	known := map[string]bool{}
	for _, s := range ds.Corpus.Servers {
		known["server "+s.Name] = true
	}
	for _, a := range ds.Corpus.Agents {
		known["agent "+a.Name] = true
	}
	for _, s := range ds.Corpus.Skills {
		known["skill "+s.Name] = true
	}
	var errs []error
	ids := map[string]bool{}
	for _, q := range ds.Queries {
		if q.ID == "" || ids[q.ID] {
			errs = append(errs, fmt.Errorf("query %q: missing or duplicate id", q.ID))
		}
		ids[q.ID] = true
		if strings.TrimSpace(q.Query) == "" {
			errs = append(errs, fmt.Errorf("query %s: empty text", q.ID))
		}
		for _, j := range q.Expected {
			if j.Grade < 1 || j.Grade > 3 {
				errs = append(errs, fmt.Errorf("query %s: %s %s: grade %d is not 1 to 3", q.ID, j.Type, j.Name, j.Grade))
			}
			if !known[j.Type+" "+j.Name] {
				errs = append(errs, fmt.Errorf("query %s: %s %s is not in the corpus", q.ID, j.Type, j.Name))
			}
		}
	}
	if len(ds.Queries) == 0 {
		errs = append(errs, errors.New("no queries"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrDataset, errors.Join(errs...))
	}
	return nil
}

// Objects converts the corpus to catalog objects, normalised and validated as the registrar would: each server
// gets one streamable-http version carrying its tools, each agent a card with its skills.
func (c *Corpus) Objects() ([]catalog.Object, error) {
	var out []catalog.Object
	for _, s := range c.Servers {
		v := catalog.ServerVersion{Version: "1.0.0", Transport: catalog.TransportStreamableHTTP,
			URL: "https://mcp.example.com/" + s.Name}
		for _, t := range s.Tools {
			v.Tools = append(v.Tools, catalog.Tool{Name: t.Name, Description: t.Description})
		}
		out = append(out, &catalog.Server{Name: s.Name, Governance: catalog.Governance{Title: s.Title,
			Description: s.Description, Tags: s.Tags}, Versions: []catalog.ServerVersion{v}})
	}
	for _, a := range c.Agents {
		// The corpus gives agents no display name; the card carries the name's last segment, as cards usually do.
		_, slug, _ := strings.Cut(a.Name, "/")
		card := catalog.AgentCard{Name: slug, Description: a.Description, URL: "https://agents.example.com/" + a.Name,
			Version: "1.0.0", Skills: []catalog.AgentSkill{}}
		for _, sk := range a.Skills {
			card.Skills = append(card.Skills, catalog.AgentSkill{ID: sk.ID, Name: sk.Name, Description: sk.Description})
		}
		out = append(out, &catalog.Agent{Name: a.Name, Governance: catalog.Governance{Description: a.Description,
			Tags: a.Tags}, Card: card})
	}
	for _, s := range c.Skills {
		out = append(out, &catalog.Skill{Name: s.Name, Governance: catalog.Governance{Description: s.Description,
			Tags: s.Tags}, Content: s.Content})
	}
	var errs []error
	for _, o := range out {
		o.Normalize()
		if err := o.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", o.Kind(), o.Key(), err))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrDataset, errors.Join(errs...))
	}
	return out, nil
}
