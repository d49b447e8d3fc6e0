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

// cmdContrast runs the contrastive step on a finished table (the output of
// fit) and writes the refined table: rows dequantised, trained on the
// capability pairs, quantised again. Words, dimension and pooling weights are
// kept.
func cmdContrast(fs *flag.FlagSet, args []string, log *slog.Logger) error {
	in := fs.String("table", "", "input table (from fit)")
	pairsPath := fs.String("pairs", "", "capability pairs written by corpus -out-pairs")
	out := fs.String("out", "", "output table")
	var cc contrastConfig
	fs.IntVar(&cc.epochs, "epochs", 10, "epochs over the training blocks")
	fs.IntVar(&cc.batch, "batch", 32, "capability blocks per batch")
	lr := fs.Float64("lr", 0.3, "SGD step")
	temp := fs.Float64("temp", 0.1, "softmax temperature over centred cosines")
	reg := fs.Float64("reg", 0.05, "L2 pull toward the input rows, per update")
	fs.IntVar(&cc.heldOut, "held-out-every", 10, "hold out every Nth block to measure retrieval (0: none)")
	fs.Uint64Var(&cc.seed, "seed", 1, "shuffle and sampling seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cc.lr, cc.temp, cc.reg = float32(*lr), float32(*temp), float32(*reg)
	if *in == "" || *pairsPath == "" || *out == "" {
		return errors.New("contrast: -table, -pairs and -out are required")
	}
	if cc.epochs < 0 || cc.batch < 2 || cc.temp <= 0 || cc.lr < 0 || cc.reg < 0 || cc.heldOut < 0 || cc.heldOut == 1 {
		return errors.New("contrast: -epochs, -lr, -reg must not be negative, -batch must be at least 2, -temp positive, -held-out-every 0 or at least 2")
	}
	b, err := os.ReadFile(*in)
	if err != nil {
		return fmt.Errorf("contrast: %w", err)
	}
	t, err := static.Decode(b)
	if err != nil {
		return fmt.Errorf("contrast: %w", err)
	}
	blocks, err := readPairs(*pairsPath)
	if err != nil {
		return fmt.Errorf("contrast: %w", err)
	}
	voc, err := static.NewVocabulary(t.Words)
	if err != nil {
		return fmt.Errorf("contrast: %w", err)
	}
	rows := make([]float32, len(t.Rows))
	for i, q := range t.Rows {
		rows[i] = float32(q) * t.Scales[i/t.Dim]
	}
	before, after := contrastive(rows, t.Dim, t.Weights, voc, blocks, cc, log)
	for r := range t.Words {
		t.Scales[r] = static.Quantize(rows[r*t.Dim:(r+1)*t.Dim], t.Rows[r*t.Dim:(r+1)*t.Dim])
	}
	var buf bytes.Buffer
	if err := static.Write(&buf, t); err != nil {
		return fmt.Errorf("contrast: %w", err)
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("contrast: %w", err)
	}
	log.Info("table written", "path", *out, "held_out_mrr_before", round3(before), "held_out_mrr_after", round3(after))
	return nil
}

// contrastConfig holds the knobs of the contrastive step.
type contrastConfig struct {
	epochs  int
	batch   int     // blocks per batch: each contributes one request and one description
	lr      float32 // SGD step
	temp    float32 // softmax temperature over cosines
	reg     float32 // pull toward the rows the step started from, per update
	heldOut int     // every heldOut-th block is kept out to measure retrieval
	seed    uint64
}

// contrastive fine-tunes the rows (n × dim, the final rows before
// quantisation) on the capability blocks: a symmetric InfoNCE loss over a
// batch of blocks, each giving one request and one of its descriptions, with
// the other blocks' texts as negatives (in-batch negatives). Texts are pooled
// exactly as serving pools them (SIF-weighted mean of rows, L2-normalised)
// and compared after subtracting the mean description vector, as the search
// index centres its vectors before any cosine. An L2 pull toward the starting
// rows keeps words the blocks use rarely from drifting. Returns the held-out
// retrieval MRR before and after.
func contrastive(rows []float32, dim int, weights []float32, voc *static.Vocabulary, blocks []capBlock, cfg contrastConfig, log *slog.Logger) (before, after float64) {
	type text struct{ toks []int32 }
	tokenize := func(ss []string) []text {
		out := make([]text, 0, len(ss))
		for _, s := range ss {
			if t := voc.AppendRows(nil, s); len(t) > 0 {
				out = append(out, text{toks: t})
			}
		}
		return out
	}
	type block struct{ descs, reqs []text }
	var train, held []block
	for i, b := range blocks {
		bl := block{descs: tokenize(b.descs), reqs: tokenize(b.requests)}
		if len(bl.descs) == 0 || len(bl.reqs) == 0 {
			continue
		}
		if cfg.heldOut > 1 && i%cfg.heldOut == cfg.heldOut-1 {
			held = append(held, bl)
		} else {
			train = append(train, bl)
		}
	}
	start := append([]float32(nil), rows...)
	p := &pooler{dim: dim, rows: rows, weights: weights}

	mean := func(bs []block) []float32 {
		mu := make([]float32, dim)
		var n float32
		v := make([]float32, dim)
		for _, b := range bs {
			for _, d := range b.descs {
				p.pool(d.toks, v)
				for j := range mu {
					mu[j] += v[j]
				}
				n++
			}
		}
		for j := range mu {
			mu[j] /= max(n, 1)
		}
		return mu
	}
	// mrr: each held-out request ranks the held-out blocks by their best
	// description's centred cosine.
	mrr := func() float64 {
		if len(held) == 0 {
			return 0
		}
		mu := mean(train)
		var dv [][][]float32
		v := make([]float32, dim)
		for _, b := range held {
			var ds [][]float32
			for _, d := range b.descs {
				p.pool(d.toks, v)
				ds = append(ds, centre(v, mu))
			}
			dv = append(dv, ds)
		}
		var sum float64
		var n int
		for i, b := range held {
			for _, r := range b.reqs {
				p.pool(r.toks, v)
				q := centre(v, mu)
				score := func(k int) float32 {
					best := float32(-2)
					for _, d := range dv[k] {
						best = max(best, dot(q, d))
					}
					return best
				}
				own := score(i)
				rank := 1
				for k := range held {
					if k != i && score(k) > own {
						rank++
					}
				}
				sum += 1 / float64(rank)
				n++
			}
		}
		return sum / float64(n)
	}

	before = mrr()
	log.Info("contrastive start", "train_blocks", len(train), "held_out_blocks", len(held), "held_out_mrr", round3(before))
	rng := rand.New(rand.NewPCG(cfg.seed, 5))
	order := make([]int, len(train))
	for i := range order {
		order[i] = i
	}
	b := cfg.batch
	zq, zd := make([][]float32, b), make([][]float32, b)
	st := make([]poolState, 2*b)
	for i := range st {
		st[i] = poolState{v: make([]float32, dim), z: make([]float32, dim)}
	}
	for i := range b {
		zq[i], zd[i] = st[i].z, st[b+i].z
	}
	sim := make([]float64, b*b)
	grad := map[int32][]float32{}
	gz := make([]float32, dim)
	for epoch := range cfg.epochs {
		mu := mean(train)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var lossSum float64
		var batches int
		for lo := 0; lo+b <= len(order); lo += b {
			for k := range b {
				bl := train[order[lo+k]]
				st[k].toks = bl.reqs[rng.IntN(len(bl.reqs))].toks
				st[b+k].toks = bl.descs[rng.IntN(len(bl.descs))].toks
			}
			for k := range st {
				p.forward(&st[k], mu)
			}
			for i := range b {
				for j := range b {
					sim[i*b+j] = float64(dot(zq[i], zd[j]) / cfg.temp)
				}
			}
			// G = (P − I)/B + (Q − I)/B, P the row softmax and Q the column
			// softmax of sim.
			g := softmaxGrad(sim, b, &lossSum)
			batches++
			clear(grad)
			for i := range b {
				// dL/dzq_i = Σ_j G_ij zd_j / τ; dL/dzd_i = Σ_j G_ji zq_j / τ.
				for side := range 2 {
					clear(gz)
					for j := range b {
						var gij float64
						var other []float32
						if side == 0 {
							gij, other = g[i*b+j], zd[j]
						} else {
							gij, other = g[j*b+i], zq[j]
						}
						f := float32(gij) / cfg.temp
						for d := range gz {
							gz[d] += f * other[d]
						}
					}
					p.backward(&st[side*b+i], gz, grad)
				}
			}
			for r, gr := range grad {
				row := rows[int(r)*dim : int(r+1)*dim]
				base := start[int(r)*dim : int(r+1)*dim]
				for d := range row {
					row[d] -= cfg.lr * (gr[d] + cfg.reg*(row[d]-base[d]))
				}
			}
		}
		log.Info("contrastive epoch", "epoch", epoch+1, "loss", round3(lossSum/float64(max(batches, 1))), "held_out_mrr", round3(mrr()))
	}
	after = mrr()
	return before, after
}

// softmaxGrad returns dL/dsim for the symmetric InfoNCE loss over a b × b
// similarity matrix whose diagonal holds the positives, and adds the loss to
// *loss.
func softmaxGrad(sim []float64, b int, loss *float64) []float64 {
	g := make([]float64, b*b)
	inv := 1 / float64(b)
	for i := range b { // rows: each request against every description
		m := math.Inf(-1)
		for j := range b {
			m = max(m, sim[i*b+j])
		}
		var z float64
		for j := range b {
			z += math.Exp(sim[i*b+j] - m)
		}
		*loss += (m + math.Log(z) - sim[i*b+i]) * inv
		for j := range b {
			g[i*b+j] += math.Exp(sim[i*b+j]-m) / z * inv
		}
		g[i*b+i] -= inv
	}
	for j := range b { // columns: each description against every request
		m := math.Inf(-1)
		for i := range b {
			m = max(m, sim[i*b+j])
		}
		var z float64
		for i := range b {
			z += math.Exp(sim[i*b+j] - m)
		}
		*loss += (m + math.Log(z) - sim[j*b+j]) * inv
		for i := range b {
			g[i*b+j] += math.Exp(sim[i*b+j]-m) / z * inv
		}
		g[j*b+j] -= inv
	}
	return g
}

// pooler pools texts over rows the way static.Model does (before int8
// quantisation): the SIF-weighted mean of the rows, L2-normalised.
type pooler struct {
	dim     int
	rows    []float32
	weights []float32
}

// pool writes the unit pooled vector of toks into v (zero when toks is empty).
func (p *pooler) pool(toks []int32, v []float32) {
	clear(v)
	for _, r := range toks {
		w := p.weights[r]
		row := p.rows[int(r)*p.dim : int(r+1)*p.dim]
		for j, x := range row {
			v[j] += w * x
		}
	}
	static.Normalize(v)
}

// poolState is one text's forward pass, kept for its backward pass.
type poolState struct {
	toks []int32
	wsum float32
	un   float32   // |u|, u the weighted mean of the rows
	v    []float32 // u/|u|
	cn   float32   // |v − μ|
	z    []float32 // (v − μ)/|v − μ|
}

func (p *pooler) forward(s *poolState, mu []float32) {
	clear(s.v)
	s.wsum = 0
	for _, r := range s.toks {
		w := p.weights[r]
		s.wsum += w
		row := p.rows[int(r)*p.dim : int(r+1)*p.dim]
		for j, x := range row {
			s.v[j] += w * x
		}
	}
	for j := range s.v {
		s.v[j] /= s.wsum
	}
	s.un = float32(math.Sqrt(float64(dot(s.v, s.v))))
	for j := range s.v {
		s.v[j] /= s.un
		s.z[j] = s.v[j] - mu[j]
	}
	s.cn = float32(math.Sqrt(float64(dot(s.z, s.z))))
	for j := range s.z {
		s.z[j] /= s.cn
	}
}

// backward adds to grad (by row) the gradient of the loss given gz = dL/dz:
// through z = c/|c|, c = v − μ (μ held fixed), v = u/|u| and u = Σ wₜ rowₜ / Σ wₜ.
func (p *pooler) backward(s *poolState, gz []float32, grad map[int32][]float32) {
	gc := make([]float32, p.dim)
	a := dot(gz, s.z)
	for j := range gc {
		gc[j] = (gz[j] - a*s.z[j]) / s.cn
	}
	b := dot(gc, s.v)
	for j := range gc {
		gc[j] = (gc[j] - b*s.v[j]) / s.un // now dL/du
	}
	for _, r := range s.toks {
		f := p.weights[r] / s.wsum
		g := grad[r]
		if g == nil {
			g = make([]float32, p.dim)
			grad[r] = g
		}
		for j, x := range gc {
			g[j] += f * x
		}
	}
}

// centre returns (v − μ)/|v − μ| in a new slice.
func centre(v, mu []float32) []float32 {
	c := make([]float32, len(v))
	for j := range v {
		c[j] = v[j] - mu[j]
	}
	static.Normalize(c)
	return c
}
