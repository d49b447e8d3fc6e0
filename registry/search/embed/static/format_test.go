package static

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// testTable is a tiny valid table: 3 words, dimension 4.
func testTable() *Table {
	return &Table{
		Words:   []string{"send", "message", "invoice"},
		Dim:     4,
		Rows:    []int8{127, 0, 0, 0, 0, 127, 0, 0, 0, 0, -127, 64},
		Scales:  []float32{1.0 / 127, 1.0 / 127, 1.0 / 127},
		Weights: []float32{1, 0.5, 1},
	}
}

func encode(t *testing.T, tab *Table) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, tab); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func TestWriteDecodeRoundTrip(t *testing.T) {
	in := testTable()
	got, err := Decode(encode(t, in))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if diff := cmp.Diff(in, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestParseRejectsCorruptTables(t *testing.T) {
	good := encode(t, testTable())
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	put32 := func(b []byte, off int, v uint32) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b }
	// Invariant: every malformed table is refused with an error matching
	// ErrFormat, and nothing panics.
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short magic", []byte("SEM")},
		{"bad magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b })},
		{"version 2", mutate(func(b []byte) []byte { return put32(b, 4, 2) })},
		{"zero rows", mutate(func(b []byte) []byte { return put32(b, 8, 0) })},
		{"huge row count", mutate(func(b []byte) []byte { return put32(b, 8, math.MaxUint32) })},
		{"zero dim", mutate(func(b []byte) []byte { return put32(b, 12, 0) })},
		{"dim too large", mutate(func(b []byte) []byte { return put32(b, 12, MaxDim+1) })},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"word length past end", mutate(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[16:], 60000); return b })},
		{"empty word", mutate(func(b []byte) []byte { return append(append(b[:16:16], 0, 0), b[22:]...) })},
		{"invalid utf-8 word", mutate(func(b []byte) []byte { b[18] = 0xff; return b })},
		{"duplicate word", encodeRaw(func(tab *Table) { tab.Words[1] = "send" })},
		{"NaN scale", mutate(func(b []byte) []byte { return put32(b, len(b)-24, math.Float32bits(float32(math.NaN()))) })},
		{"negative weight", mutate(func(b []byte) []byte { return put32(b, len(b)-4, math.Float32bits(-1)) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse(tt.b); !errors.Is(err, ErrFormat) {
				t.Errorf("Parse: err = %v, want ErrFormat", err)
			}
		})
	}
}

// encodeRaw writes a table bypassing Write's checks, to build inputs that
// Write itself refuses.
func encodeRaw(edit func(*Table)) []byte {
	tab := testTable()
	edit(tab)
	var b []byte
	b = append(b, magic...)
	for _, v := range []uint32{version, uint32(len(tab.Words)), uint32(tab.Dim)} {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	for _, w := range tab.Words {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(w)))
		b = append(b, w...)
	}
	for _, q := range tab.Rows {
		b = append(b, byte(q))
	}
	for _, f := range append(tab.Scales, tab.Weights...) {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

func TestWriteRejectsInvalidTables(t *testing.T) {
	// Invariant: Write never produces a file that Parse would refuse.
	tests := []struct {
		name string
		edit func(*Table)
	}{
		{"no words", func(tab *Table) { tab.Words = nil; tab.Rows = nil; tab.Scales = nil; tab.Weights = nil }},
		{"dim zero", func(tab *Table) { tab.Dim = 0 }},
		{"rows short", func(tab *Table) { tab.Rows = tab.Rows[1:] }},
		{"scales short", func(tab *Table) { tab.Scales = tab.Scales[1:] }},
		{"duplicate", func(tab *Table) { tab.Words[2] = "send" }},
		{"empty word", func(tab *Table) { tab.Words[0] = "" }},
	}
	for _, tt := range tests {
		tab := testTable()
		tt.edit(tab)
		if err := Write(&bytes.Buffer{}, tab); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: Write err = %v, want ErrFormat", tt.name, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	good := encodeRaw(func(*Table) {})
	f.Add(good)
	f.Add(good[:20])
	f.Add([]byte("SEMB"))
	// Invariant: Parse never panics, and every error matches ErrFormat. A
	// table it accepts embeds any text without panicking.
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			return
		}
		v, _ := m.AppendEmbedding(nil, "send the message about invoices")
		if len(v) != m.Dim() {
			t.Fatalf("vector length %d, want %d", len(v), m.Dim())
		}
	})
}
