package main

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcpgw/mcpgw/registry/search/embed/static"
)

func TestParseCaps(t *testing.T) {
	lines := []line{
		{pos: "a:1", text: "> Send a {message|note} to a channel."},
		{pos: "a:2", text: "? tell the team"},
		{pos: "a:3", text: ""},
		{pos: "a:4", text: "> Reset a password."},
		{pos: "a:5", text: "? I'm locked out"},
		{pos: "a:6", text: "? forgot my login"},
		{pos: "a:end"},
	}
	blocks, err := parseCaps(lines, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	// Invariant: blank lines separate blocks, > lines are descriptions, ? lines requests, choices expand.
	if len(blocks) != 2 {
		t.Fatalf("got %d blocks, want 2", len(blocks))
	}
	slices.Sort(blocks[0].descs)
	if want := []string{"Send a message to a channel.", "Send a note to a channel."}; !slices.Equal(blocks[0].descs, want) {
		t.Errorf("descriptions %q, want %q", blocks[0].descs, want)
	}
	if len(blocks[1].requests) != 2 || blocks[1].descs[0] != "Reset a password." {
		t.Errorf("second block %+v", blocks[1])
	}

	// Invariant: malformed blocks are refused with errCaps.
	for name, bad := range map[string][]line{
		"no request":     {{pos: "b:1", text: "> only a description"}},
		"no description": {{pos: "b:1", text: "? only a request"}},
		"bad prefix":     {{pos: "b:1", text: "- neither"}},
		"empty text":     {{pos: "b:1", text: ">"}},
		"bad frame":      {{pos: "b:1", text: "> {unclosed"}, {pos: "b:2", text: "? x"}},
	} {
		if _, err := parseCaps(bad, 3, 1); !errors.Is(err, errCaps) {
			t.Errorf("%s: err = %v, want errCaps", name, err)
		}
	}
}

func TestPairsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pairs.tsv")
	writeFile(t, p, strings.Join([]string{pairLine(0, 'd', "send a message"), pairLine(0, 'q', "tell the team"),
		pairLine(1, 'q', "locked out"), pairLine(1, 'd', "reset a password")}, "\n")+"\n")
	blocks, err := readPairs(p)
	if err != nil {
		t.Fatal(err)
	}
	// Invariant: a pairs file reads back into the blocks it was written from.
	if len(blocks) != 2 || blocks[1].descs[0] != "reset a password" || blocks[1].requests[0] != "locked out" {
		t.Errorf("blocks %+v", blocks)
	}
	for name, body := range map[string]string{
		"skipped block":   "0\td\ta\n0\tq\tb\n2\td\tc\n2\tq\td\n",
		"bad kind":        "0\tx\ta\n",
		"no text":         "0\td\t\n",
		"no request":      "0\td\ta\n",
		"not a number":    "zero\td\ta\n",
		"too few columns": "0\td\n",
	} {
		writeFile(t, p, body)
		if _, err := readPairs(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestPoolerGradient checks backward against finite differences of a linear
// function of the centred, normalised pooled vector.
func TestPoolerGradient(t *testing.T) {
	const dim, n = 8, 5
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]float32, n*dim)
	for i := range rows {
		rows[i] = float32(rng.NormFloat64())
	}
	weights := []float32{0.2, 0.5, 0.9, 0.7, 1}
	mu := make([]float32, dim)
	for i := range mu {
		mu[i] = float32(rng.NormFloat64()) * 0.1
	}
	a := make([]float32, dim) // L = a·z
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	p := &pooler{dim: dim, rows: rows, weights: weights}
	toks := []int32{0, 2, 2, 4}
	loss := func() float64 {
		s := poolState{toks: toks, v: make([]float32, dim), z: make([]float32, dim)}
		p.forward(&s, mu)
		return float64(dot(a, s.z))
	}
	s := poolState{toks: toks, v: make([]float32, dim), z: make([]float32, dim)}
	p.forward(&s, mu)
	grad := map[int32][]float32{}
	p.backward(&s, a, grad)
	// Invariant: only rows of the text get a gradient, and it matches finite differences.
	if len(grad) != 3 {
		t.Fatalf("gradient on %d rows, want 3", len(grad))
	}
	const h = 1e-3
	for r, g := range grad {
		for j := range dim {
			x := rows[int(r)*dim+j]
			rows[int(r)*dim+j] = x + h
			up := loss()
			rows[int(r)*dim+j] = x - h
			down := loss()
			rows[int(r)*dim+j] = x
			num := (up - down) / (2 * h)
			if math.Abs(num-float64(g[j])) > 2e-3 {
				t.Errorf("row %d dim %d: backward %.5f, finite difference %.5f", r, j, g[j], num)
			}
		}
	}
}

func TestSoftmaxGrad(t *testing.T) {
	sim := []float64{3, 1, 0, 0.5, 2, 1, 0, 0, 4}
	var loss float64
	g := softmaxGrad(sim, 3, &loss)
	lossAt := func(s []float64) float64 {
		var l float64
		softmaxGrad(s, 3, &l)
		return l
	}
	// Invariant: the gradient is that of the returned loss (finite differences), the loss is positive, and the
	// positives on the diagonal are pushed up.
	const h = 1e-6
	for k := range sim {
		x := sim[k]
		sim[k] = x + h
		up := lossAt(sim)
		sim[k] = x - h
		down := lossAt(sim)
		sim[k] = x
		if num := (up - down) / (2 * h); math.Abs(num-g[k]) > 1e-6 {
			t.Errorf("entry %d: gradient %.7f, finite difference %.7f", k, g[k], num)
		}
	}
	for i := range 3 {
		if g[i*3+i] >= 0 {
			t.Errorf("positive %d has gradient %g, want negative", i, g[i*3+i])
		}
	}
	if loss <= 0 {
		t.Errorf("loss %g", loss)
	}
}

// TestContrastiveSeparates trains on blocks whose requests and descriptions
// share no word, and checks that held-out style retrieval on the training
// blocks improves: the step learns which request words go with which
// description words.
func TestContrastiveSeparates(t *testing.T) {
	words := []string{"alpha", "beta", "gamma", "delta", "one", "two", "three", "four", "red", "green", "blue", "black"}
	voc, err := static.NewVocabulary(words)
	if err != nil {
		t.Fatal(err)
	}
	const dim = 16
	rng := rand.New(rand.NewPCG(3, 4))
	rows := make([]float32, len(words)*dim)
	for i := range rows {
		rows[i] = float32(rng.NormFloat64())
	}
	weights := slices.Repeat([]float32{1}, len(words))
	// Block k: descriptions use a Greek word and a colour, requests a number and the same colour; the colour is
	// shared noise across pairs of blocks.
	greek, num, col := words[:4], words[4:8], words[8:]
	var blocks []capBlock
	for k := range 4 {
		blocks = append(blocks, capBlock{
			descs:    []string{greek[k] + " " + col[k%2], greek[k] + " " + col[2+k%2]},
			requests: []string{num[k] + " " + col[(k+1)%2], num[k] + " " + col[2+(k+1)%2]},
		})
	}
	cfg := contrastConfig{epochs: 60, batch: 4, lr: 0.5, temp: 0.1, reg: 0.01, heldOut: 0, seed: 1}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := &pooler{dim: dim, rows: rows, weights: weights}
	before := pairAccuracy(p, voc, blocks)
	contrastive(rows, dim, weights, voc, blocks, cfg, log)
	after := pairAccuracy(p, voc, blocks)
	if after <= before || after < 0.99 {
		t.Errorf("request → own block accuracy %.2f before, %.2f after; want it to rise to 1", before, after)
	}
}

// pairAccuracy is the share of requests whose nearest description (plain
// cosine) belongs to their own block.
func pairAccuracy(p *pooler, voc *static.Vocabulary, blocks []capBlock) float64 {
	v := make([]float32, p.dim)
	var descs [][]float32
	var owner []int
	for k, b := range blocks {
		for _, d := range b.descs {
			p.pool(voc.AppendRows(nil, d), v)
			descs, owner = append(descs, slices.Clone(v)), append(owner, k)
		}
	}
	var right, total float64
	for k, b := range blocks {
		for _, r := range b.requests {
			p.pool(voc.AppendRows(nil, r), v)
			best, arg := float32(-2), -1
			for i, d := range descs {
				if c := dot(v, d); c > best {
					best, arg = c, i
				}
			}
			if owner[arg] == k {
				right++
			}
			total++
		}
	}
	return right / total
}

func TestContrastCommand(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	tb := &static.Table{Words: []string{"send", "message", "tell", "team", "reset", "password", "locked", "out"}, Dim: 4}
	for i := range tb.Words {
		q := make([]int8, 4)
		tb.Scales = append(tb.Scales, static.Quantize([]float32{float32(i%3) - 1, float32(i % 2), 0.5, float32(i) / 8}, q))
		tb.Rows = append(tb.Rows, q...)
		tb.Weights = append(tb.Weights, 1)
	}
	f, err := os.Create(p("in.semb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := static.Write(f, tb); err != nil {
		t.Fatal(err)
	}
	f.Close()
	writeFile(t, p("pairs.tsv"), "0\td\tsend a message\n0\tq\ttell the team\n1\td\treset a password\n1\tq\tlocked out\n")
	var log strings.Builder
	args := []string{"contrast", "-table", p("in.semb"), "-pairs", p("pairs.tsv"), "-batch", "2", "-held-out-every", "0", "-out", p("out.semb")}
	if err := run(args, io.Discard, &log); err != nil {
		t.Fatalf("contrast: %v\n%s", err, log.String())
	}
	b, err := os.ReadFile(p("out.semb"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := static.Decode(b)
	// Invariant: the refined table keeps the words, dimension and weights, and its rows changed.
	if err != nil || !slices.Equal(out.Words, tb.Words) || out.Dim != tb.Dim || !slices.Equal(out.Weights, tb.Weights) {
		t.Fatalf("output table %+v, err %v", out, err)
	}
	if slices.Equal(out.Rows, tb.Rows) {
		t.Error("rows did not change")
	}
	for _, bad := range [][]string{
		{"contrast", "-table", p("in.semb"), "-out", p("x.semb")},
		{"contrast", "-table", p("in.semb"), "-pairs", p("pairs.tsv"), "-batch", "1", "-out", p("x.semb")},
		{"contrast", "-table", p("in.semb"), "-pairs", p("pairs.tsv"), "-temp", "0", "-out", p("x.semb")},
		{"contrast", "-table", p("pairs.tsv"), "-pairs", p("pairs.tsv"), "-out", p("x.semb")},
	} {
		if err := run(bad, io.Discard, &log); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
