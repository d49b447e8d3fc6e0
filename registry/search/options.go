package search

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mcpgw/mcpgw/registry/search/embed"
)

// Options configure an Index. The zero value is a lexical-only index with the default tuning.
type Options struct {
	// Embedder turns documents and queries into vectors; nil runs lexical search only.
	Embedder embed.Embedder
	// Tuning of the ranking; nil takes DefaultTuning. A non-nil Tuning is used as given (start from
	// DefaultTuning and change fields).
	Tuning *Tuning
	// ExactBelow is the number of document vectors below which dense search scans every visible vector instead of
	// asking the HNSW graph (default DefaultExactBelow; see docs/search.md for the measured crossover).
	ExactBelow int
	// EfSearch is the HNSW candidate list size (default 128).
	EfSearch int
	// BatchSize bounds the texts sent to the embedder at once (default 256).
	BatchSize int
	// Metrics registers the index's metrics when set.
	Metrics prometheus.Registerer
	Logger  *slog.Logger
}

// Defaults.
const (
	// DefaultExactBelow: under this many document vectors an exact scan is faster than coder/hnsw's search at
	// the recall we need (measured in BenchmarkDense; docs/search.md).
	DefaultExactBelow = 20000
	DefaultEfSearch   = 128
	DefaultBatchSize  = 256
	DefaultLimit      = 10
	MaxLimit          = 100
	// MaxQueryBytes bounds a query's text.
	MaxQueryBytes = 4096
	// MaxMatched bounds matched_tools (and matched_skills) per result.
	MaxMatched = 5
)

// Tuning holds the ranking parameters. docs/search.md explains each and how the defaults were chosen.
type Tuning struct {
	// RRFK is the rank constant k of reciprocal rank fusion: a list contributes weight/(k+rank).
	RRFK float64
	// LexicalWeight, DenseWeight and NameWeight weight the lexical list, the dense list and exact-name matches.
	LexicalWeight, DenseWeight, NameWeight float64
	// LexicalFloor is the coverage (share of the query's idf mass a document matches) a document needs to enter the
	// lexical list: a stray match on one word of a longer query does not vote.
	LexicalFloor float64
	// DenseFloor is the centred cosine a document needs to enter the dense list.
	DenseFloor float64
	// DenseDepth is how many dense candidates are fused; it is also how many are re-scored against their tools
	// and card skills.
	DenseDepth int
	// DocFloor and QueryFloor form the relevance floor over a document's evidence, its coverage plus its centred
	// cosine (an exact-name match always qualifies): a result needs DocFloor, and a query whose best document does
	// not reach QueryFloor returns nothing.
	DocFloor, QueryFloor float64
	// K1 and B are BM25's saturation and length normalisation.
	K1, B float64
	// FieldWeights weight the fields in BM25F: name, title, tags, description, tool/skill names, tool/skill texts,
	// body.
	FieldWeights [numFields]float64
	// FuzzyWeight and PrefixWeight discount a query term matched by one edit or as a prefix.
	FuzzyWeight, PrefixWeight float64
	// SubFloor is the centred cosine a tool or card skill needs to be listed as matched without a lexical match.
	SubFloor float64
}

// DefaultTuning returns the default ranking parameters.
func DefaultTuning() Tuning {
	return Tuning{
		RRFK:          20,
		LexicalWeight: 1, DenseWeight: 1, NameWeight: 2,
		LexicalFloor: 0.3,
		DenseFloor:   0.2,
		DenseDepth:   100,
		DocFloor:     0.3, QueryFloor: 0.6,
		K1: 1.2, B: 0.75,
		FieldWeights: [numFields]float64{fName: 3, fTitle: 3, fTags: 2, fDesc: 1.5, fSubName: 1.5, fSubText: 1, fBody: 0.5},
		FuzzyWeight:  0.7, PrefixWeight: 0.6,
		SubFloor: 0.45,
	}
}

// ErrOptions reports invalid Options.
var ErrOptions = errors.New("invalid search options")

// withDefaults fills zero fields and checks the rest.
func (o Options) withDefaults() (Options, error) {
	if o.Tuning == nil {
		d := DefaultTuning()
		o.Tuning = &d
	} else {
		t := *o.Tuning // the caller's value stays theirs
		o.Tuning = &t
	}
	t := o.Tuning
	if o.ExactBelow == 0 {
		o.ExactBelow = DefaultExactBelow
	}
	if o.EfSearch == 0 {
		o.EfSearch = DefaultEfSearch
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	for name, v := range map[string]float64{"rrf k": t.RRFK, "lexical weight": t.LexicalWeight,
		"dense weight": t.DenseWeight, "name weight": t.NameWeight, "k1": t.K1} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", name))
		}
	}
	for name, v := range map[string]float64{"lexical floor": t.LexicalFloor, "b": t.B,
		"fuzzy weight": t.FuzzyWeight, "prefix weight": t.PrefixWeight} {
		if v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("%s must be between 0 and 1", name))
		}
	}
	for name, v := range map[string]float64{"dense floor": t.DenseFloor, "sub floor": t.SubFloor} {
		if v < -1 || v > 1 {
			errs = append(errs, fmt.Errorf("%s must be between -1 and 1", name))
		}
	}
	for name, v := range map[string]float64{"doc floor": t.DocFloor, "query floor": t.QueryFloor} {
		if v < -1 || v > 2 {
			errs = append(errs, fmt.Errorf("%s must be between -1 and 2", name))
		}
	}
	for f, w := range t.FieldWeights {
		if w < 0 {
			errs = append(errs, fmt.Errorf("weight of field %s must not be negative", fieldNames[f]))
		}
	}
	if t.DenseDepth < 0 || o.ExactBelow < 0 || o.EfSearch < 0 || o.BatchSize < 0 {
		errs = append(errs, errors.New("dense depth, exact-below, ef-search and batch size must not be negative"))
	}
	if len(errs) > 0 {
		return o, fmt.Errorf("%w: %w", ErrOptions, errors.Join(errs...))
	}
	return o, nil
}
