package embed

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// openAIRequest is the body of POST /v1/embeddings.
type openAIRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
	Dimensions     int      `json:"dimensions,omitempty"`
}

// openAIResponse is the part of the answer we use. Servers may return the
// items in any order; index says which input each belongs to.
type openAIResponse struct {
	Data []struct {
		Index     *int      `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
}

// openAIEndpoint appends /v1/embeddings to a base URL, or only /embeddings
// when the base already ends in /v1 (the form most clients document).
func openAIEndpoint(base string) string {
	if strings.HasSuffix(base, "/v1") {
		return base + "/embeddings"
	}
	return base + "/v1/embeddings"
}

// newOpenAI returns an Embedder for any OpenAI-compatible embeddings API:
// OpenAI, vLLM, Hugging Face TEI, LiteLLM, llama.cpp server, LM Studio,
// LocalAI and Ollama's /v1.
func newOpenAI(cfg Config) *remote {
	url := openAIEndpoint(cfg.BaseURL)
	send := func(ctx context.Context, texts []string) ([][]float32, error) {
		req := openAIRequest{Model: cfg.Model, Input: texts, EncodingFormat: "float", Dimensions: cfg.Dimensions}
		var raw json.RawMessage
		if err := postJSON(ctx, cfg.HTTPClient, ProviderOpenAI, url, cfg.APIKey, req, &raw); err != nil {
			return nil, err
		}
		return decodeOpenAI(raw, len(texts))
	}
	return newRemote(cfg, send)
}

// decodeOpenAI parses an embeddings answer for n inputs and puts each vector
// at its index. Items, indexes and vectors are all checked: a server answer
// is untrusted input.
func decodeOpenAI(raw []byte, n int) ([][]float32, error) {
	var resp openAIResponse
	if err := json.Unmarshal(raw, &resp); err != nil {
		return nil, fmt.Errorf("%w: decode openai response: %w", ErrResponse, err)
	}
	if len(resp.Data) != n {
		return nil, fmt.Errorf("%w: %d items for %d inputs", ErrResponse, len(resp.Data), n)
	}
	out := make([][]float32, n)
	for pos, d := range resp.Data {
		i := pos // servers that omit index answer in order
		if d.Index != nil {
			i = *d.Index
		}
		if i < 0 || i >= n || out[i] != nil {
			return nil, fmt.Errorf("%w: bad or repeated index %d", ErrResponse, i)
		}
		if len(d.Embedding) == 0 {
			return nil, fmt.Errorf("%w: empty embedding at index %d", ErrResponse, i)
		}
		out[i] = d.Embedding
	}
	return out, nil
}
