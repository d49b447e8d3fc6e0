package static

import (
	"math"
	"testing"
)

func parseTest(t *testing.T) *Model {
	t.Helper()
	m, err := Parse(encode(t, testTable()))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return m
}

func near(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}

func TestAppendEmbedding(t *testing.T) {
	m := parseTest(t)
	s := float32(1 / math.Sqrt(1.25)) // |(1, 0.5, 0, 0)|
	inv := float32(1 / math.Sqrt(1+64.0*64/127/127))
	// Invariant: the vector is the weight-scaled sum of the known tokens' rows,
	// L2-normalised; unknown tokens are skipped; plurals fall back to the
	// singular; no known token gives the zero vector and a count of 0.
	tests := []struct {
		text  string
		want  []float32
		known int
	}{
		{"send", []float32{1, 0, 0, 0}, 1},
		{"SEND a message!", []float32{s, s / 2, 0, 0}, 2},
		{"messages", []float32{0, 1, 0, 0}, 1},
		{"invoice's", []float32{0, 0, -inv, inv * 64 / 127}, 1},
		{"unknown words only", []float32{0, 0, 0, 0}, 0},
		{"", []float32{0, 0, 0, 0}, 0},
	}
	for _, tt := range tests {
		got, known := m.AppendEmbedding(nil, tt.text)
		if known != tt.known || !near(got, tt.want, 1e-6) {
			t.Errorf("AppendEmbedding(%q) = %v, %d; want %v, %d", tt.text, got, known, tt.want, tt.known)
		}
	}
}

func TestAppendEmbeddingAppends(t *testing.T) {
	m := parseTest(t)
	dst := []float32{42}
	dst, _ = m.AppendEmbedding(dst, "send")
	dst, _ = m.AppendEmbedding(dst, "message")
	if want := []float32{42, 1, 0, 0, 0, 0, 1, 0, 0}; !near(dst, want, 1e-6) {
		t.Errorf("got %v, want %v", dst, want)
	}
}

func TestAppendEmbeddingDoesNotAllocate(t *testing.T) {
	m := parseTest(t)
	dst := make([]float32, 0, m.Dim())
	allocs := testing.AllocsPerRun(100, func() {
		dst, _ = m.AppendEmbedding(dst[:0], "Send the MESSAGE about invoices to the team, please")
	})
	if allocs != 0 {
		t.Errorf("AppendEmbedding allocates %.1f times per call, want 0", allocs)
	}
}

func TestQuantize(t *testing.T) {
	v := []float32{0.5, -1, 0.25, 0.001}
	q := make([]int8, len(v))
	scale := Quantize(v, q)
	// Invariant: the largest magnitude maps to ±127 and every value is
	// recovered within half a step.
	if q[1] != -127 {
		t.Errorf("q = %v, want the largest magnitude at -127", q)
	}
	for i, x := range v {
		if d := math.Abs(float64(scale*float32(q[i]) - x)); d > float64(scale)/2+1e-7 {
			t.Errorf("value %d: %v recovered as %v", i, x, scale*float32(q[i]))
		}
	}
	if s := Quantize([]float32{0, 0}, q[:2]); s != 0 || q[0] != 0 || q[1] != 0 {
		t.Errorf("zero vector: scale %v, q %v", s, q[:2])
	}
}

func TestVocabularyLookup(t *testing.T) {
	v, err := NewVocabulary([]string{"bus", "invoice", "class"})
	if err != nil {
		t.Fatal(err)
	}
	// Invariant: exact match first, then "'s" and "s" stripping, never
	// stripping "ss" ("class" loses its "ss") or very short words.
	tests := []struct {
		tok  string
		row  int32
		want bool
	}{
		{"bus", 0, true},
		{"invoices", 1, true},
		{"invoice's", 1, true},
		{"classes", 0, false},
		{"buss", 0, false},
		{"bu", 0, false},
	}
	for _, tt := range tests {
		row, ok := v.Lookup([]byte(tt.tok))
		if ok != tt.want || (ok && row != tt.row) {
			t.Errorf("Lookup(%q) = %d, %v; want %d, %v", tt.tok, row, ok, tt.row, tt.want)
		}
	}
	if _, err := NewVocabulary([]string{"a", "a"}); err == nil {
		t.Error("NewVocabulary accepted a duplicate word")
	}
}
