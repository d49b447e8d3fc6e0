// Package search is the registry's hybrid search: a lexical ranking (BM25F over names, titles, descriptions, tags,
// tools, agent skills, skill content and the searchable fields of custom entities, with stopwords, light stemming
// and typo tolerance) and a dense ranking (embeddings from package embed, exact or HNSW), fused with weighted
// reciprocal rank fusion under a relevance floor.
//
// The Index lives in memory, built from the view at start (Load) and kept current by its events (Listener); Run
// computes vectors in the background and recomputes them all when the embedding model changes. Search filters by
// type, status and the caller's visibility before ranking anything, so a restricted caller's results are its own
// best ones, and lists the tools of a server that matched, limited to those the caller may call. A server is ranked
// for a caller by the tools it may call only (their share of the tool fields' terms, and their vectors), so words
// of a tool the caller may not call neither find the server nor move it.
//
// docs/search.md describes the ranking, the defaults and how they were measured.
package search
