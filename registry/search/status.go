package search

import (
	"slices"
	"strings"
)

// Status describes the index: the model its vectors come from and how many documents lack vectors.
type Status struct {
	// Model is the embedding model's identity (provider/model/dimension); empty without an embedder or before a
	// remote one has answered.
	Model     string `json:"model,omitempty"`
	Documents int    `json:"documents"`
	// Vectors counts documents whose vectors come from Model.
	Vectors int `json:"vectors"`
	// Missing counts documents without vectors from Model (new, changed, failed or from another model); they are
	// found by the lexical half until Run embeds them.
	Missing int `json:"missing"`
	// MissingAssets names up to MaxMissingListed of them.
	MissingAssets []AssetRef `json:"missing_assets,omitempty"`
	// DenseSearch is "exact" or "hnsw".
	DenseSearch string `json:"dense_search"`
	// LastError is the last embedding failure, when the latest attempt failed.
	LastError string `json:"last_error,omitempty"`
}

// AssetRef names an indexed asset.
type AssetRef struct {
	Type       Type   `json:"type"`
	Name       string `json:"name"`
	EntityType string `json:"entity_type,omitempty"`
}

// MaxMissingListed bounds Status.MissingAssets.
const MaxMissingListed = 100

// Status reports the index's state.
func (x *Index) Status() Status {
	x.mu.RLock()
	defer x.mu.RUnlock()
	st := Status{Model: x.modelID(), DenseSearch: "exact"}
	if x.vecs.graph != nil {
		st.DenseSearch = "hnsw"
	}
	if x.lastErr != nil {
		st.LastError = x.lastErr.Error()
	}
	mid := x.modelID()
	for _, d := range x.docs {
		if d == nil {
			continue
		}
		st.Documents++
		if x.emb == nil {
			continue
		}
		if d.model != "" && d.model == mid {
			st.Vectors++
			continue
		}
		st.Missing++
		st.MissingAssets = append(st.MissingAssets, AssetRef{Type: d.src.typ, Name: d.src.name, EntityType: d.src.entityType})
	}
	slices.SortFunc(st.MissingAssets, func(a, b AssetRef) int {
		if c := strings.Compare(string(a.Type), string(b.Type)); c != 0 {
			return c
		}
		if c := strings.Compare(a.EntityType, b.EntityType); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(st.MissingAssets) > MaxMissingListed {
		st.MissingAssets = st.MissingAssets[:MaxMissingListed]
	}
	return st
}
