// Package static is a static (lookup-table) sentence embedder: each known
// token has one int8 vector, and a text's vector is the weighted mean of its
// tokens' vectors, L2-normalised. There is no attention and no matrix
// multiply, so a sentence costs a few microseconds and no allocation.
//
// The package holds the algorithm and the table format only; the table the
// registry ships is embedded by the parent package, and the trainer in
// ../distill produces it. Both sides use Tokenize and Model.Lookup, so the
// trainer optimises exactly the pooling that serving performs.
package static

import (
	"fmt"
	"math"
	"sync"
)

// Vocabulary maps tokens to rows, with the plural fallback. The trainer uses
// it before a table exists; Model uses it when serving.
type Vocabulary struct {
	index map[string]int32
}

// NewVocabulary indexes words by position. Duplicate words are an error.
func NewVocabulary(words []string) (*Vocabulary, error) {
	v := &Vocabulary{index: make(map[string]int32, len(words))}
	for i, w := range words {
		if _, dup := v.index[w]; dup {
			return nil, formatError("duplicate word %q", w)
		}
		v.index[w] = int32(i)
	}
	return v, nil
}

// Len is the number of words.
func (v *Vocabulary) Len() int { return len(v.index) }

// Lookup returns the row of a token as Tokenize produces it. An unknown token
// falls back to its form without a trailing "'s" or "s" ("invoices" →
// "invoice"); a token still unknown returns false and is skipped. Splitting
// unknown words into sub-word pieces was measured to hurt, so there is no
// further fallback: the lexical half of search covers rare names.
func (v *Vocabulary) Lookup(tok []byte) (int32, bool) {
	if r, ok := v.index[string(tok)]; ok {
		return r, true
	}
	n := len(tok)
	switch {
	case n > 3 && tok[n-2] == '\'' && tok[n-1] == 's':
		r, ok := v.index[string(tok[:n-2])]
		return r, ok
	case n > 3 && tok[n-1] == 's' && tok[n-2] != 's':
		r, ok := v.index[string(tok[:n-1])]
		return r, ok
	}
	return 0, false
}

// AppendRows appends the rows of the known tokens of text, in order.
func (v *Vocabulary) AppendRows(dst []int32, text string) []int32 {
	it := tokenIter{buf: lowerInto(nil, text)}
	for tok, ok := it.next(); ok; tok, ok = it.next() {
		if r, ok := v.Lookup(tok); ok {
			dst = append(dst, r)
		}
	}
	return dst
}

// Model is a parsed table. It is immutable and safe for concurrent use.
type Model struct {
	Vocabulary
	dim  int
	rows []byte    // n × dim int8 values, aliasing the parsed bytes
	coef []float32 // per row: scale × weight
	// scratch holds lower-casing buffers, so embedding does not allocate.
	scratch sync.Pool
}

// Parse validates a table and returns a Model over it. The int8 block is used
// in place: b must not be modified afterwards (a go:embed string or slice is
// ideal). Parsing builds the vocabulary map once, in about 10 ms for 60k words.
func Parse(b []byte) (*Model, error) {
	h, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("parse table: %w", err)
	}
	voc, err := NewVocabulary(h.words)
	if err != nil {
		return nil, fmt.Errorf("parse table: %w", err)
	}
	m := &Model{
		Vocabulary: *voc,
		dim:        h.dim,
		rows:       h.rows,
		coef:       make([]float32, len(h.words)),
	}
	for i := range h.words {
		m.coef[i] = h.scales[i] * h.weights[i]
	}
	m.scratch.New = func() any { b := make([]byte, 0, 512); return &b }
	return m, nil
}

// Dim is the dimension of every vector the model returns.
func (m *Model) Dim() int { return m.dim }

// AppendEmbedding appends the L2-normalised vector of text (Dim values) to dst
// and returns the extended slice and how many tokens were known. A text with
// no known token yields the zero vector and 0: callers should treat it as "no
// dense score", since its cosine to anything is 0. With enough capacity in
// dst, the call does not allocate.
func (m *Model) AppendEmbedding(dst []float32, text string) ([]float32, int) {
	dst = append(dst, make([]float32, m.dim)...)
	out := dst[len(dst)-m.dim:]
	bp := m.scratch.Get().(*[]byte)
	buf := lowerInto((*bp)[:0], text)
	known := 0
	it := tokenIter{buf: buf}
	for tok, ok := it.next(); ok; tok, ok = it.next() {
		r, ok := m.Lookup(tok)
		if !ok {
			continue
		}
		known++
		axpy(out, m.coef[r], m.rows[int(r)*m.dim:int(r+1)*m.dim])
	}
	if cap(buf) <= 64<<10 { // do not pin huge buffers in the pool
		*bp = buf[:0]
		m.scratch.Put(bp)
	}
	if known > 0 {
		Normalize(out)
	}
	return dst, known
}

// axpy adds c × row (int8 values stored as bytes) to out. Unrolled by four,
// with the slices re-sliced so the compiler drops the bounds checks.
func axpy(out []float32, c float32, row []byte) {
	n := min(len(out), len(row))
	out, row = out[:n], row[:n]
	j := 0
	for ; j+4 <= n; j += 4 {
		o, q := out[j:j+4:j+4], row[j:j+4:j+4]
		o[0] += c * float32(int8(q[0]))
		o[1] += c * float32(int8(q[1]))
		o[2] += c * float32(int8(q[2]))
		o[3] += c * float32(int8(q[3]))
	}
	for ; j < n; j++ {
		out[j] += c * float32(int8(row[j]))
	}
}

// Normalize scales v to unit L2 norm in place; a zero vector stays zero.
func Normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
}
