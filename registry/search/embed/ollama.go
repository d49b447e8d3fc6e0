package embed

import (
	"context"
	"fmt"
)

// ollamaRequest is the body of POST /api/embed (Ollama 0.3.4 and later).
type ollamaRequest struct {
	Model      string   `json:"model"`
	Input      []string `json:"input"`
	Truncate   bool     `json:"truncate"`
	Dimensions int      `json:"dimensions,omitempty"`
}

// ollamaResponse holds the vectors in input order.
type ollamaResponse struct {
	Embeddings [][]float32 `json:"embeddings"`
}

// newOllama returns an Embedder for Ollama's native batch endpoint. Set
// Config.QueryPrefix/DocumentPrefix for models that expect task prefixes
// (nomic-embed-text: "search_query: " / "search_document: ").
func newOllama(cfg Config) *remote {
	url := cfg.BaseURL + "/api/embed"
	send := func(ctx context.Context, texts []string) ([][]float32, error) {
		req := ollamaRequest{Model: cfg.Model, Input: texts, Truncate: true, Dimensions: cfg.Dimensions}
		var resp ollamaResponse
		if err := postJSON(ctx, cfg.HTTPClient, ProviderOllama, url, cfg.APIKey, req, &resp); err != nil {
			return nil, err
		}
		if len(resp.Embeddings) != len(texts) {
			return nil, fmt.Errorf("%w: %d embeddings for %d inputs", ErrResponse, len(resp.Embeddings), len(texts))
		}
		return resp.Embeddings, nil
	}
	return newRemote(cfg, send)
}
