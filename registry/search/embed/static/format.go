package static

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"unicode/utf8"
)

// The table format ("SEMB", version 1), all integers and floats little-endian:
//
//	"SEMB" | u32 version=1 | u32 n | u32 dim
//	n × (u16 len, len bytes of UTF-8 word)
//	n × dim int8            row r holds round(v_r / scale_r)
//	n × f32 scale           per-row dequantisation factor
//	n × f32 weight          per-row pooling weight (SIF)
//
// Row order carries no meaning for the reader; the trainer writes rows by
// frequency rank. The int8 block is used in place, so a table embedded
// with the go:embed directive is never copied.
const (
	magic   = "SEMB"
	version = 1
	// MaxDim bounds the dimension a table may declare, so a corrupt header
	// cannot make the reader allocate absurd buffers.
	MaxDim = 4096
	// MaxWordLen bounds a vocabulary entry in bytes.
	MaxWordLen = 255
)

// ErrFormat reports a table that is not a valid SEMB version 1 file.
var ErrFormat = errors.New("invalid static embedding table")

// formatError wraps ErrFormat with what was wrong.
func formatError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// Table is the decoded content of a table file, as the trainer produces it.
type Table struct {
	Words   []string  // n distinct tokens, as Tokenize produces them
	Dim     int       // vector dimension
	Rows    []int8    // n × Dim quantised rows
	Scales  []float32 // n dequantisation factors
	Weights []float32 // n pooling weights
}

// Quantize maps v to int8 with one symmetric scale: v ≈ scale × q. A zero
// vector gets scale 0.
func Quantize(v []float32, q []int8) (scale float32) {
	var maxAbs float32
	for _, x := range v {
		if a := float32(math.Abs(float64(x))); a > maxAbs {
			maxAbs = a
		}
	}
	if maxAbs == 0 {
		clear(q[:len(v)])
		return 0
	}
	scale = maxAbs / 127
	for i, x := range v {
		r := math.Round(float64(x / scale))
		q[i] = int8(max(-127, min(127, r)))
	}
	return scale
}

// Write encodes t in the SEMB version 1 format.
func Write(w io.Writer, t *Table) error {
	n := len(t.Words)
	switch {
	case n == 0:
		return formatError("empty vocabulary")
	case t.Dim <= 0 || t.Dim > MaxDim:
		return formatError("dimension %d out of range 1..%d", t.Dim, MaxDim)
	case len(t.Rows) != n*t.Dim:
		return formatError("%d row values for %d words of dimension %d", len(t.Rows), n, t.Dim)
	case len(t.Scales) != n || len(t.Weights) != n:
		return formatError("%d scales and %d weights for %d words", len(t.Scales), len(t.Weights), n)
	}
	seen := make(map[string]struct{}, n)
	for _, word := range t.Words {
		if err := checkWord(word); err != nil {
			return err
		}
		if _, dup := seen[word]; dup {
			return formatError("duplicate word %q", word)
		}
		seen[word] = struct{}{}
	}
	bw := bufio.NewWriter(w)
	bw.WriteString(magic)
	var u32 [4]byte
	for _, v := range []uint32{version, uint32(n), uint32(t.Dim)} {
		binary.LittleEndian.PutUint32(u32[:], v)
		bw.Write(u32[:])
	}
	var u16 [2]byte
	for _, word := range t.Words {
		binary.LittleEndian.PutUint16(u16[:], uint16(len(word)))
		bw.Write(u16[:])
		bw.WriteString(word)
	}
	for _, q := range t.Rows {
		bw.WriteByte(byte(q))
	}
	for _, fs := range [][]float32{t.Scales, t.Weights} {
		for _, f := range fs {
			binary.LittleEndian.PutUint32(u32[:], math.Float32bits(f))
			bw.Write(u32[:])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func checkWord(word string) error {
	if word == "" || len(word) > MaxWordLen || !utf8.ValidString(word) {
		return formatError("bad vocabulary entry %q", word)
	}
	return nil
}

func checkFloat(f float32, what string, i int) error {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) || f < 0 {
		return formatError("%s of row %d is %v", what, i, f)
	}
	return nil
}

// reader is a bounds-checked cursor over a table's bytes.
type reader struct {
	b   []byte
	off int
}

func (r *reader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.off {
		return nil, formatError("truncated at byte %d (need %d more)", r.off, n)
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s, nil
}

func (r *reader) u32() (uint32, error) {
	s, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(s), nil
}

func (r *reader) f32s(n int, what string) ([]float32, error) {
	s, err := r.take(4 * n)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(s[4*i:]))
		if err := checkFloat(out[i], what, i); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// header is the part of a table every reader needs.
type header struct {
	words   []string
	dim     int
	rows    []byte // n × dim, aliases the input
	scales  []float32
	weights []float32
}

// decode validates b completely and returns views into it. Only the words,
// scales and weights are copied; rows alias b.
func decode(b []byte) (*header, error) {
	r := &reader{b: b}
	m, err := r.take(len(magic))
	if err != nil {
		return nil, err
	}
	if string(m) != magic {
		return nil, formatError("bad magic %q", m)
	}
	ver, err := r.u32()
	if err != nil {
		return nil, err
	}
	if ver != version {
		return nil, formatError("unsupported version %d", ver)
	}
	n32, err := r.u32()
	if err != nil {
		return nil, err
	}
	dim32, err := r.u32()
	if err != nil {
		return nil, err
	}
	if dim32 == 0 || dim32 > MaxDim {
		return nil, formatError("dimension %d out of range 1..%d", dim32, MaxDim)
	}
	// Each row needs at least 2+1 bytes of word, dim bytes and 8 bytes of
	// floats, so n is bounded by the input length before anything is sized
	// from it.
	if n32 == 0 || uint64(n32)*(uint64(dim32)+11) > uint64(len(b)) {
		return nil, formatError("%d rows of dimension %d do not fit in %d bytes", n32, dim32, len(b))
	}
	n, dim := int(n32), int(dim32)
	h := &header{words: make([]string, n), dim: dim}
	// All words are copied into one string and sliced from it: one
	// allocation instead of one per word.
	start := r.off
	ends := make([]int, n)
	for i := range ends {
		s, err := r.take(2)
		if err != nil {
			return nil, err
		}
		if _, err := r.take(int(binary.LittleEndian.Uint16(s))); err != nil {
			return nil, err
		}
		ends[i] = r.off
	}
	all := string(b[start:r.off])
	off := 0
	for i, end := range ends {
		end -= start
		h.words[i] = all[off+2 : end]
		off = end
		if err := checkWord(h.words[i]); err != nil {
			return nil, err
		}
	}
	if h.rows, err = r.take(n * dim); err != nil {
		return nil, err
	}
	if h.scales, err = r.f32s(n, "scale"); err != nil {
		return nil, err
	}
	if h.weights, err = r.f32s(n, "weight"); err != nil {
		return nil, err
	}
	if r.off != len(b) {
		return nil, formatError("%d trailing bytes", len(b)-r.off)
	}
	return h, nil
}

// Decode parses a whole table into a Table that owns its memory. The trainer
// and tests use it; serving uses Parse.
func Decode(b []byte) (*Table, error) {
	h, err := decode(b)
	if err != nil {
		return nil, err
	}
	rows := make([]int8, len(h.rows))
	for i, c := range h.rows {
		rows[i] = int8(c)
	}
	return &Table{Words: h.words, Dim: h.dim, Rows: rows, Scales: h.scales, Weights: h.weights}, nil
}
