package embed

import (
	"context"
	"crypto/sha256"
	_ "embed" // the builtin table
	"encoding/hex"
	"fmt"
	"sync"

	"github.com/mcpgw/mcpgw/registry/search/embed/static"
)

// builtinTable is the static table distilled from USE-lite by ./distill; see
// model/PROVENANCE.md for how it was made and model/NOTICE for its licence.
//
//go:embed model/uselite-static.semb
var builtinTable []byte

// builtinDim is the dimension of the committed table; a test checks it.
const builtinDim = 256

// builtinModelName prefixes the table digest in ModelInfo.Model.
const builtinModelName = "static-uselite"

// loadBuiltin parses the embedded table and hashes it once per process: the
// vocabulary map is the only sizeable allocation, and every Builtin shares
// it. The table is immutable, so sharing it through this package-level value
// is safe.
var loadBuiltin = sync.OnceValues(func() (*Builtin, error) {
	m, err := parseBuiltinTable()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(builtinTable)
	return &Builtin{model: m, info: ModelInfo{
		Provider:   ProviderBuiltin,
		Model:      builtinModelName + "@" + hex.EncodeToString(sum[:6]),
		Dim:        m.Dim(),
		Normalized: true,
	}}, nil
})

func parseBuiltinTable() (*static.Model, error) {
	return static.Parse(builtinTable)
}

// Builtin is the default Embedder: a static word-vector table compiled into
// the binary. It needs no network, no configuration and no warm-up beyond the
// first parse (tens of milliseconds), embeds a short text in microseconds and
// is deterministic. It ignores InputKind (the model is symmetric) and does not
// truncate.
type Builtin struct {
	model *static.Model
	info  ModelInfo
}

var _ Embedder = (*Builtin)(nil)

// NewBuiltin returns the builtin embedder. All calls share one parsed table.
func NewBuiltin() (*Builtin, error) {
	b, err := loadBuiltin()
	if err != nil {
		return nil, fmt.Errorf("load builtin embedder: %w", err)
	}
	return b, nil
}

// Info implements Embedder. Model carries the first 12 hex digits of the
// table's SHA-256, so a retrained table changes the identity and triggers a
// re-index.
func (b *Builtin) Info() ModelInfo { return b.info }

// Embed implements Embedder. A text with no known word gets the zero vector.
// The vectors share one backing array.
func (b *Builtin) Embed(ctx context.Context, inputs []string, _ InputKind) ([][]float32, error) {
	dim := b.model.Dim()
	flat := make([]float32, 0, len(inputs)*dim)
	out := make([][]float32, len(inputs))
	for i, in := range inputs {
		if i%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("embed %d inputs: %w", len(inputs), err)
			}
		}
		flat, _ = b.model.AppendEmbedding(flat, in)
		out[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return out, nil
}

// EmbedOne writes the vector of text into dst (grown as needed) and returns
// it with the number of known words; with a reused dst it does not allocate.
// Search uses it on the query path.
func (b *Builtin) EmbedOne(dst []float32, text string) ([]float32, int) {
	return b.model.AppendEmbedding(dst[:0], text)
}
