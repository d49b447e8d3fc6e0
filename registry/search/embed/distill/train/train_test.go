package main

import (
	"math"
	"slices"
	"testing"
)

func TestParseFrameAndExpand(t *testing.T) {
	f, err := parseFrame("{send|post} a {message|note} to {Slack|Teams}")
	if err != nil {
		t.Fatal(err)
	}
	if n := f.combinations(); n != 8 {
		t.Fatalf("combinations = %d, want 8", n)
	}
	// Invariant: expansions are distinct, well-formed, capped by the number
	// of combinations, and the same for the same seed.
	all := f.expand(100, 7)
	if len(all) != 8 {
		t.Fatalf("expand(100) gave %d, want all 8: %q", len(all), all)
	}
	seen := map[string]bool{}
	for _, s := range all {
		if seen[s] {
			t.Errorf("duplicate expansion %q", s)
		}
		seen[s] = true
	}
	if !seen["post a note to Teams"] {
		t.Errorf("missing an expansion: %q", all)
	}
	if a, b := f.expand(3, 7), f.expand(3, 7); !slices.Equal(a, b) || len(a) != 3 {
		t.Errorf("expand is not deterministic: %q vs %q", a, b)
	}
	for _, bad := range []string{"{a|b", "{a|{b}}"} {
		if _, err := parseFrame(bad); err == nil {
			t.Errorf("parseFrame(%q) accepted", bad)
		}
	}
}

func TestSIFWeights(t *testing.T) {
	w := sifWeights(1000)
	// Invariant: weights lie in (0, 1) and grow with rank (rarer words weigh more).
	for r := range w {
		if w[r] <= 0 || w[r] >= 1 || (r > 0 && w[r] < w[r-1]) {
			t.Fatalf("weight %d = %v (previous %v)", r, w[r], w[max(r-1, 0)])
		}
	}
}

func TestTokenlearnStepReducesLoss(t *testing.T) {
	const dim = 8
	init := make([]float32, 3*dim)
	for i := range init {
		init[i] = float32(math.Sin(float64(i)))
	}
	tl := &tokenlearn{dim: dim, rows: slices.Clone(init), init: init, weights: []float32{1, 0.5, 0.8}}
	toks := [][]int32{{0, 1}, {1, 2}}
	target := make([]float32, 2*dim)
	target[0], target[dim+3] = 1, 1
	before := tl.meanCos(toks, target)
	for range 50 {
		tl.step(toks[0], target[:dim], 0.5, 0.01)
		tl.step(toks[1], target[dim:], 0.5, 0.01)
	}
	// Invariant: SGD moves pooled sentences toward their targets.
	if after := tl.meanCos(toks, target); after <= before+0.1 {
		t.Errorf("mean cosine %.3f → %.3f, want a clear increase", before, after)
	}
}

func TestJacobiEigen(t *testing.T) {
	// A symmetric matrix with known eigenvalues 1, 2, 4 (diag in a rotated basis).
	c, s := math.Cos(0.3), math.Sin(0.3)
	q := []float64{c, -s, 0, s, c, 0, 0, 0, 1}
	d := []float64{1, 2, 4}
	a := make([]float64, 9)
	for i := range 3 {
		for j := range 3 {
			for k := range 3 {
				a[i*3+j] += q[i*3+k] * d[k] * q[j*3+k]
			}
		}
	}
	orig := slices.Clone(a)
	vals, vecs := jacobiEigen(a, 3)
	got := slices.Clone(vals)
	slices.Sort(got)
	// Invariant: A·v = λ·v for each returned pair, and the values are A's.
	for i, want := range []float64{1, 2, 4} {
		if math.Abs(got[i]-want) > 1e-9 {
			t.Errorf("eigenvalues %v, want 1 2 4", got)
		}
	}
	for e := range 3 {
		for i := range 3 {
			var av float64
			for j := range 3 {
				av += orig[i*3+j] * vecs[j*3+e]
			}
			if math.Abs(av-vals[e]*vecs[i*3+e]) > 1e-9 {
				t.Errorf("pair %d is not an eigenpair", e)
			}
		}
	}
}

func TestProjectPCAKeepsDominantAxis(t *testing.T) {
	// Rows spread along (1, 1, 0) with a little noise on z: the first axis
	// must carry almost all of each row's norm.
	rows := []float32{1, 1, 0.01, -2, -2, 0, 3, 3, -0.02, 0.5, 0.5, 0}
	out := projectPCA(rows, 3, 1)
	for r := range 4 {
		x, y := float64(rows[r*3]), float64(rows[r*3+1])
		want := math.Sqrt(x*x + y*y)
		if got := math.Abs(float64(out[r])); math.Abs(got-want) > 0.03 {
			t.Errorf("row %d projects to %v, want ±%v", r, out[r], want)
		}
	}
}
