package embed

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// InputKind says whether a text is a stored document or a search query.
// Asymmetric models embed the two differently (Nomic and E5 prefixes, Cohere's
// input_type); symmetric ones ignore it.
type InputKind int

const (
	// KindDocument is text that is indexed: a server, tool, agent or skill.
	KindDocument InputKind = iota
	// KindQuery is a search query.
	KindQuery
)

func (k InputKind) String() string {
	switch k {
	case KindDocument:
		return "document"
	case KindQuery:
		return "query"
	}
	return fmt.Sprintf("InputKind(%d)", int(k))
}

// ModelInfo identifies the vector space an Embedder produces.
type ModelInfo struct {
	Provider      string `json:"provider"`      // "builtin", "openai", "ollama", "bedrock"
	Model         string `json:"model"`         // provider's model name; for builtin it includes the table's digest
	Dim           int    `json:"dim"`           // vector length; 0 until a remote provider has answered once (see Resolve)
	Normalized    bool   `json:"normalized"`    // always true: every provider L2-normalises its output
	MaxBatch      int    `json:"maxBatch"`      // inputs per upstream request; 0: unbounded (builtin)
	MaxInputChars int    `json:"maxInputChars"` // inputs are truncated to this many runes before embedding; 0: no limit
}

// ID is the identity to store beside each vector: provider/model/dim.
func (m ModelInfo) ID() string {
	return fmt.Sprintf("%s/%s/%d", m.Provider, m.Model, m.Dim)
}

// Compatible reports whether vectors of m and o can be compared: the same
// provider, model and dimension. When it is false the index must be rebuilt.
func (m ModelInfo) Compatible(o ModelInfo) bool {
	return m.Provider == o.Provider && m.Model == o.Model && m.Dim == o.Dim
}

// Embedder turns texts into vectors.
type Embedder interface {
	// Embed returns one L2-normalised vector per input, in input order, all of
	// length Info().Dim. It fails as a whole: no partial results.
	Embed(ctx context.Context, inputs []string, kind InputKind) ([][]float32, error)
	// Info identifies the model.
	Info() ModelInfo
}

// Errors. Match them with errors.Is; StatusError carries HTTP details.
var (
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("invalid embedder config")
	// ErrDimension reports vectors whose length differs from the configured or
	// previously seen dimension.
	ErrDimension = errors.New("embedding dimension mismatch")
	// ErrResponse reports a provider answer that cannot be used: malformed
	// JSON, a wrong number of vectors, or indexes that do not match inputs.
	ErrResponse = errors.New("invalid embedding response")
)

// StatusError is a non-2xx answer from a provider.
type StatusError struct {
	Provider string
	Code     int
	Message  string // the provider's error message, truncated; never secrets we sent
	// retryAfter is the server's Retry-After, when it sent one.
	retryAfter time.Duration
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%s: HTTP %d", e.Provider, e.Code)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.Provider, e.Code, e.Message)
}

// Retryable reports whether the request may succeed if sent again: rate
// limiting (429), request timeout (408) and server errors (5xx).
func (e *StatusError) Retryable() bool {
	return e.Code == 429 || e.Code == 408 || e.Code >= 500
}

// Resolve returns e's ModelInfo with Dim known, embedding one short probe
// text if the provider has not answered yet. Call it at start-up to compare
// the index's stored identity with the configured model.
func Resolve(ctx context.Context, e Embedder) (ModelInfo, error) {
	if info := e.Info(); info.Dim > 0 {
		return info, nil
	}
	if _, err := e.Embed(ctx, []string{"ping"}, KindQuery); err != nil {
		return ModelInfo{}, fmt.Errorf("resolve embedding model: %w", err)
	}
	info := e.Info()
	if info.Dim <= 0 {
		return ModelInfo{}, fmt.Errorf("resolve embedding model: %w: no dimension after a successful call", ErrResponse)
	}
	return info, nil
}
