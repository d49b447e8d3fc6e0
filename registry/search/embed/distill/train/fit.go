package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"

	"github.com/mcpgw/mcpgw/registry/search/embed/static"
)

// teacherDim is the output dimension of USE-lite.
const teacherDim = 512

// sifA is the smoothing constant of the SIF weights a / (a + p(word)).
const sifA = 1e-3

// fitConfig holds the knobs of one fit; the defaults are the measured ones.
type fitConfig struct {
	heldOut  int     // every heldOut-th sentence is kept out of training to measure the fit
	epochs   int     // passes over the training sentences
	lr       float32 // SGD step
	reg      float32 // pull toward the distilled row, per update
	seed     uint64  // order of sentences per epoch
	baseRows int     // keep only the first baseRows words of the base list (0: all)
	pca      int     // project rows onto the top pca principal axes (0: keep 512)
	mix      float32 // final row = init + mix·(trained − init)
}

// cmdFit runs tokenlearn-lite: start from each word's teacher vector (the
// word embedded alone), then move the rows by SGD so that the SIF-weighted
// mean of a sentence's rows points where the teacher's sentence vector does.
// The rows are finally trimmed, optionally PCA-projected, and quantised to
// int8 per row.
func cmdFit(fs *flag.FlagSet, args []string, log *slog.Logger) error {
	wordsFlag := fs.String("words", "", "comma-separated word lists, in rank order")
	vecsFlag := fs.String("wordvecs", "", "comma-separated teacher outputs for -words, same order")
	sentFlag := fs.String("sentences", "", "comma-separated sentence lists")
	targFlag := fs.String("targets", "", "comma-separated teacher outputs for -sentences, same order")
	out := fs.String("out", "", "output table")
	var cfg fitConfig
	fs.IntVar(&cfg.heldOut, "held-out-every", 30, "hold out every Nth sentence to measure the fit")
	fs.IntVar(&cfg.epochs, "epochs", 4, "SGD epochs")
	lr := fs.Float64("lr", 0.5, "SGD learning rate")
	reg := fs.Float64("reg", 0.01, "L2 pull toward the distilled rows")
	fs.Uint64Var(&cfg.seed, "seed", 1, "shuffle seed")
	fs.IntVar(&cfg.baseRows, "base-rows", 0, "keep the first N words of the first list plus all later lists (0: all)")
	fs.IntVar(&cfg.pca, "pca", 0, "project to this many principal axes (0: none)")
	mix := fs.Float64("mix", 1, "final row = init + mix·(trained − init); 1 keeps the trained rows")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg.lr, cfg.reg, cfg.mix = float32(*lr), float32(*reg), float32(*mix)
	wordFiles, vecFiles := splitList(*wordsFlag), splitList(*vecsFlag)
	sentFiles, targFiles := splitList(*sentFlag), splitList(*targFlag)
	if len(wordFiles) == 0 || len(wordFiles) != len(vecFiles) || len(sentFiles) == 0 || len(sentFiles) != len(targFiles) || *out == "" {
		return errors.New("fit: -words and -wordvecs, -sentences and -targets (pairwise same length) and -out are required")
	}
	if cfg.pca < 0 || cfg.pca > teacherDim || cfg.epochs < 0 || cfg.heldOut < 2 || cfg.baseRows < 0 || cfg.mix < 0 || cfg.mix > 1 {
		return errors.New("fit: -pca, -epochs, -held-out-every and -base-rows must be in range")
	}

	var words []string
	var init []float32
	baseLen := 0
	for i := range wordFiles {
		ws, err := readLines(wordFiles[i])
		if err != nil {
			return err
		}
		vs, err := readVectors(vecFiles[i], len(ws), teacherDim)
		if err != nil {
			return err
		}
		if i == 0 {
			baseLen = len(ws)
		}
		words = append(words, ws...)
		init = append(init, vs...)
	}
	voc, err := static.NewVocabulary(words)
	if err != nil {
		return fmt.Errorf("fit: %w", err)
	}
	// Sentences are reordered so that the held-out ones (every heldOut-th of
	// each list) come last: training is sents[:split], held out sents[split:].
	var sents, held []string
	var targets, heldT []float32
	for i := range sentFiles {
		ss, err := readLines(sentFiles[i])
		if err != nil {
			return err
		}
		ts, err := readVectors(targFiles[i], len(ss), teacherDim)
		if err != nil {
			return err
		}
		for j, s := range ss {
			t := ts[j*teacherDim : (j+1)*teacherDim]
			if j%cfg.heldOut == cfg.heldOut-1 {
				held, heldT = append(held, s), append(heldT, t...)
			} else {
				sents, targets = append(sents, s), append(targets, t...)
			}
		}
	}
	split := len(sents)
	sents, targets = append(sents, held...), append(targets, heldT...)

	n := len(words)
	for r := range n {
		static.Normalize(init[r*teacherDim : (r+1)*teacherDim])
	}
	weights := sifWeights(n)
	toks := make([][]int32, len(sents))
	for i, s := range sents {
		toks[i] = voc.AppendRows(nil, s)
	}
	tl := &tokenlearn{dim: teacherDim, rows: append([]float32(nil), init...), init: init, weights: weights}
	log.Info("fit start", "words", n, "sentences", split, "held_out", len(sents)-split,
		"held_out_cos", tl.meanCos(toks[split:], targets[split*teacherDim:]))
	rng := rand.New(rand.NewPCG(cfg.seed, 2))
	order := make([]int, split)
	for i := range order {
		order[i] = i
	}
	for epoch := range cfg.epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, i := range order {
			tl.step(toks[i], targets[i*teacherDim:(i+1)*teacherDim], cfg.lr, cfg.reg)
		}
		log.Info("fit epoch", "epoch", epoch+1, "train_cos", tl.meanCos(toks[:split], targets[:split*teacherDim]),
			"held_out_cos", tl.meanCos(toks[split:], targets[split*teacherDim:]))
	}

	if cfg.mix != 1 {
		for i, x := range tl.rows {
			tl.rows[i] = init[i] + cfg.mix*(x-init[i])
		}
		log.Info("mixed with distilled rows", "mix", cfg.mix, "held_out_cos", tl.meanCos(toks[split:], targets[split*teacherDim:]))
	}

	// Trim: the first baseRows words of the base list plus every later word.
	keep := make([]int, 0, n)
	for r := range n {
		if cfg.baseRows == 0 || r >= baseLen || r < cfg.baseRows {
			keep = append(keep, r)
		}
	}
	dim := teacherDim
	rows := make([]float32, 0, len(keep)*dim)
	for _, r := range keep {
		rows = append(rows, tl.rows[r*dim:(r+1)*dim]...)
	}
	if cfg.pca > 0 && cfg.pca < dim {
		rows = projectPCA(rows, dim, cfg.pca)
		dim = cfg.pca
	}
	t := &static.Table{Dim: dim, Rows: make([]int8, len(keep)*dim)}
	for i, r := range keep {
		t.Words = append(t.Words, words[r])
		t.Scales = append(t.Scales, static.Quantize(rows[i*dim:(i+1)*dim], t.Rows[i*dim:(i+1)*dim]))
		t.Weights = append(t.Weights, weights[r])
	}
	var buf bytes.Buffer
	if err := static.Write(&buf, t); err != nil {
		return fmt.Errorf("fit: %w", err)
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("fit: %w", err)
	}
	// The figure that matters is the shipped table's, after trimming and
	// quantisation; only meaningful without PCA (the teacher space is 512-d).
	if dim == teacherDim {
		m, err := static.Parse(buf.Bytes())
		if err != nil {
			return fmt.Errorf("fit: %w", err)
		}
		var sum float64
		v := make([]float32, 0, dim)
		for i := split; i < len(sents); i++ {
			v, _ = m.AppendEmbedding(v[:0], sents[i])
			sum += float64(dot(v, targets[i*dim:(i+1)*dim]))
		}
		log.Info("table held-out cos", "cos", sum/float64(len(sents)-split))
	}
	log.Info("table written", "path", *out, "rows", len(keep), "dim", dim, "bytes", buf.Len())
	return nil
}

// sifWeights gives row r (0-based frequency rank) the weight a / (a + p_r),
// with p_r = 1 / ((r+1)(ln n + γ)) the Zipf estimate of its probability.
func sifWeights(n int) []float32 {
	h := math.Log(float64(n)) + 0.5772156649
	w := make([]float32, n)
	for r := range w {
		p := 1 / (float64(r+1) * h)
		w[r] = float32(sifA / (sifA + p))
	}
	return w
}

// tokenlearn holds the rows being fitted.
type tokenlearn struct {
	dim     int
	rows    []float32 // n × dim, updated in place
	init    []float32 // n × dim, the distilled starting rows
	weights []float32 // n
	u, g    []float32 // scratch
}

// pool writes the weighted mean of the rows of toks into u and returns the
// weight sum (0 for a sentence with no known token).
func (t *tokenlearn) pool(toks []int32) float32 {
	if t.u == nil {
		t.u, t.g = make([]float32, t.dim), make([]float32, t.dim)
	}
	clear(t.u)
	var s float32
	for _, r := range toks {
		w := t.weights[r]
		s += w
		row := t.rows[int(r)*t.dim : int(r+1)*t.dim]
		for j, x := range row {
			t.u[j] += w * x
		}
	}
	if s > 0 {
		for j := range t.u {
			t.u[j] /= s
		}
	}
	return s
}

// step does one SGD update on 1 − cos(pool(toks), y), y of unit length, plus
// reg·(row − init) on every row the sentence touches.
func (t *tokenlearn) step(toks []int32, y []float32, lr, reg float32) {
	s := t.pool(toks)
	if s == 0 {
		return
	}
	nu := float32(math.Sqrt(float64(dot(t.u, t.u))))
	if nu == 0 {
		return
	}
	c := dot(t.u, y) / nu
	// d(1 − cos)/du = −(y/|u| − cos·u/|u|²)
	for j := range t.g {
		t.g[j] = -(y[j]/nu - c*t.u[j]/(nu*nu))
	}
	for _, r := range toks {
		f := lr * t.weights[r] / s
		row := t.rows[int(r)*t.dim : int(r+1)*t.dim]
		base := t.init[int(r)*t.dim : int(r+1)*t.dim]
		for j := range row {
			row[j] -= f*t.g[j] + lr*reg*(row[j]-base[j])
		}
	}
}

// meanCos is the mean cosine between pooled sentences and their targets;
// sentences with no known token count as 0.
func (t *tokenlearn) meanCos(toks [][]int32, targets []float32) float64 {
	if len(toks) == 0 {
		return 0
	}
	var sum float64
	for i, tk := range toks {
		if t.pool(tk) == 0 {
			continue
		}
		nu := math.Sqrt(float64(dot(t.u, t.u)))
		if nu > 0 {
			sum += float64(dot(t.u, targets[i*t.dim:(i+1)*t.dim])) / nu
		}
	}
	return sum / float64(len(toks))
}

func dot(a, b []float32) float32 {
	var s float32
	b = b[:len(a)]
	for i, x := range a {
		s += x * b[i]
	}
	return s
}
