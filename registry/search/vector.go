package search

import (
	"math"
	"math/rand"
	"slices"

	"github.com/coder/hnsw"
	"github.com/viterin/vek/vek32"
)

// The dense half. Vectors live in one flat slab (one allocation, cache-friendly scans). Every embedder returns
// L2-normalised vectors, but static and sentence embeddings share a large common component, so raw cosines of
// unrelated texts sit around 0.7–0.8 and a threshold on them means nothing. Similarity is therefore the cosine
// after subtracting the mean of the indexed vectors ("centering", the simplest isotropy correction), which spreads
// unrelated pairs around zero and makes DenseFloor and the relevance floor meaningful. The centred cosine is computed
// from the raw vectors: cos(q−μ, v−μ) = (q·v − q·μ − v·μ + μ·μ) / (|q−μ| |v−μ|), with v·μ and |v−μ| kept per vector.
//
// Below ExactBelow document vectors the search is exact: one SIMD dot product per visible document. At and above it
// an HNSW graph (coder/hnsw) proposes candidates, which are then re-scored exactly. The graph is append-only here:
// coder/hnsw v0.6.1 can panic when a node is deleted or re-added (coder/hnsw#13, #15: Delete reconnects the isolated
// node and a later search dereferences it), so a replaced or removed vector is only marked dead: searches skip it,
// its id is not reused while the graph holds it, and the graph is rebuilt from the live vectors once a quarter of
// its nodes are dead.

// vectorStore holds the vectors. It is guarded by the Index's lock.
type vectorStore struct {
	dim   int
	data  []float32 // vector id i is data[i*dim : (i+1)*dim]
	used  []bool    // by id
	owner []uint32  // by id: document slot + 1 for a document vector; 0 for a sub-item vector or a free id
	free  []uint32
	docs  int // document vectors in use
	n     int // vectors in use
	// Document vectors again, ordered by slot, so that an exact scan streams through contiguous memory instead of
	// hopping between documents' and tools' vectors. docID maps a slot to its vector id, -1 for none.
	docData []float32
	docID   []int32

	// Centering: the mean of the vectors in use when last computed, and per vector v·μ and 1/|v−μ|.
	mean     []float32
	meanSq   float32
	vmu      []float32
	invNorm  []float32
	centredN int  // vectors in use when the mean was computed
	changed  bool // vectors were added or removed since
	// prior is the mean of the reference texts embedded by the same model (priorModel), counted as priorWeight
	// vectors in the mean; nil until Run computes it. See reference.go.
	prior      []float32
	priorModel string

	exactBelow int
	efSearch   int
	graph      *hnsw.Graph[uint32] // document vectors; nil below exactBelow
	inGraph    int
	dead       map[uint32]bool // ids in the graph whose vector was replaced or removed
	rng        *rand.Rand
}

func newVectorStore(dim, exactBelow, efSearch int, seed int64) *vectorStore {
	return &vectorStore{dim: dim, exactBelow: exactBelow, efSearch: efSearch, dead: map[uint32]bool{},
		rng: rand.New(rand.NewSource(seed))}
}

// vec returns vector id.
func (s *vectorStore) vec(id int32) []float32 {
	return s.data[int(id)*s.dim : (int(id)+1)*s.dim : (int(id)+1)*s.dim]
}

// add stores v and returns its id; owner is the document slot for a document vector, -1 for a sub-item's.
func (s *vectorStore) add(v []float32, owner int) int32 {
	var id uint32
	if n := len(s.free); n > 0 {
		id = s.free[n-1]
		s.free = s.free[:n-1]
		copy(s.data[int(id)*s.dim:], v)
	} else {
		id = uint32(len(s.used))
		s.data = append(s.data, v...)
		s.used = append(s.used, false)
		s.owner = append(s.owner, 0)
		s.vmu = append(s.vmu, 0)
		s.invNorm = append(s.invNorm, 0)
	}
	s.used[id] = true
	s.n++
	s.changed = true
	s.centre(id)
	if owner >= 0 {
		s.owner[id] = uint32(owner) + 1
		s.docs++
		for len(s.docID) <= owner {
			s.docID = append(s.docID, -1)
			s.docData = append(s.docData, make([]float32, s.dim)...)
		}
		s.docID[owner] = int32(id)
		copy(s.docData[owner*s.dim:], v)
		if s.graph != nil {
			s.graph.Add(hnsw.MakeNode(id, s.vec(int32(id))))
			s.inGraph++
		} else if s.docs >= s.exactBelow {
			s.buildGraph()
		}
	}
	return int32(id)
}

// remove releases vector id (-1 is no vector).
func (s *vectorStore) remove(id int32) {
	if id < 0 {
		return
	}
	u := uint32(id)
	s.used[u] = false
	s.n--
	s.changed = true
	if o := s.owner[u]; o != 0 {
		s.docs--
		s.owner[u] = 0
		if s.docID[o-1] == id {
			s.docID[o-1] = -1
		}
		if s.graph != nil {
			s.dead[u] = true
			if len(s.dead)*4 >= s.inGraph {
				s.buildGraph() // frees the dead ids
			}
			return
		}
	}
	s.free = append(s.free, u)
}

// recentre recomputes the mean of the vectors in use when it is stale: always when exact is set, otherwise only
// when their number changed by more than a tenth since it was computed (during a bulk load, where every batch would
// otherwise pay a pass over the slab). The index makes it exact once the load is over (settleCentre).
func (s *vectorStore) recentre(exact bool) {
	if s.dim == 0 || s.n == 0 || s.mean != nil && s.n == s.centredN && !s.changed {
		return
	}
	if s.mean != nil && !exact && abs(s.n-s.centredN)*10 < s.centredN {
		return
	}
	sum := make([]float64, s.dim)
	for id, u := range s.used {
		if u {
			for i, f := range s.vec(int32(id)) {
				sum[i] += float64(f)
			}
		}
	}
	count := float64(s.n)
	if s.prior != nil {
		for i, f := range s.prior {
			sum[i] += priorWeight * float64(f)
		}
		count += priorWeight
	}
	s.mean = make([]float32, s.dim)
	for i := range sum {
		s.mean[i] = float32(sum[i] / count)
	}
	s.meanSq = dot(s.mean, s.mean)
	s.centredN, s.changed = s.n, false
	for id, u := range s.used {
		if u {
			s.centre(uint32(id))
		}
	}
}

// setPrior sets the reference mean of model (see reference.go); the next recentre uses it.
func (s *vectorStore) setPrior(mean []float32, model string) {
	s.prior, s.priorModel, s.changed = mean, model, true
}

// stale reports whether the mean no longer is that of the vectors in use.
func (s *vectorStore) stale() bool { return s.n > 0 && (s.mean == nil || s.changed) }

// centre computes v·μ and 1/|v−μ| for one vector.
func (s *vectorStore) centre(id uint32) {
	if s.mean == nil {
		s.vmu[id], s.invNorm[id] = 0, 1
		return
	}
	v := s.vec(int32(id))
	vm := dot(v, s.mean)
	s.vmu[id] = vm
	s.invNorm[id] = 0
	if n2 := 1 - 2*vm + s.meanSq; n2 > 1e-9 {
		s.invNorm[id] = 1 / float32(math.Sqrt(float64(n2)))
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// centred is a query prepared for centred cosines.
type centred struct {
	q      []float32
	qmu    float32 // q·μ
	qinv   float32 // 1/|q−μ|
	meanSq float32
}

// prepare readies q for sim.
func (s *vectorStore) prepare(q []float32) centred {
	c := centred{q: q, qinv: 1}
	if s.mean != nil {
		c.qmu, c.meanSq = dot(q, s.mean), s.meanSq
		if n2 := 1 - 2*c.qmu + s.meanSq; n2 > 1e-9 {
			c.qinv = 1 / float32(math.Sqrt(float64(n2)))
		}
	}
	return c
}

// sim is the centred cosine between the prepared query and vector id.
func (s *vectorStore) sim(c centred, id int32) float32 {
	return (dot(c.q, s.vec(id)) - c.qmu - s.vmu[id] + c.meanSq) * c.qinv * s.invNorm[id]
}

// scanDocs computes the centred cosine of the prepared query with every document vector, into out by slot (the
// value for a slot without a vector is meaningless; callers check docID).
func (s *vectorStore) scanDocs(c centred, out []float32) []float32 {
	n := len(s.docID)
	out = slices.Grow(out[:0], n)[:n]
	if n == 0 {
		return out
	}
	// A dot product per row over the contiguous slab. (vek32.MatMul_Into would start goroutines per call: more
	// scheduler work than arithmetic at this size, and a server already has a goroutine per request.)
	for slot, id := range s.docID {
		if id >= 0 {
			row := s.docData[slot*s.dim : (slot+1)*s.dim : (slot+1)*s.dim]
			out[slot] = (dot(c.q, row) - c.qmu - s.vmu[id] + c.meanSq) * c.qinv * s.invNorm[id]
		}
	}
	return out
}

// buildGraph (re)builds the graph from the live document vectors, or drops it below the threshold.
func (s *vectorStore) buildGraph() {
	for u := range s.dead {
		s.free = append(s.free, u)
	}
	clear(s.dead)
	s.graph, s.inGraph = nil, 0
	if s.docs < s.exactBelow {
		return
	}
	g := hnsw.NewGraph[uint32]()
	g.Distance = hnsw.CosineDistance
	g.EfSearch = s.efSearch
	g.Rng = s.rng
	for id, o := range s.owner {
		if o != 0 {
			g.Add(hnsw.MakeNode(uint32(id), s.vec(int32(id))))
			s.inGraph++
		}
	}
	s.graph = g
}

// reset drops every vector (a new model, a new dimension).
func (s *vectorStore) reset(dim int) {
	*s = vectorStore{dim: dim, exactBelow: s.exactBelow, efSearch: s.efSearch, dead: map[uint32]bool{}, rng: s.rng}
}

// dot is the dot product (AVX2 where the CPU has it).
func dot(a, b []float32) float32 { return vek32.Dot(a, b) }

// annCandidates returns up to k live document slots near q from the graph. It reports false when there is no graph.
func (s *vectorStore) annCandidates(q []float32, k int, keep func(slot uint32) bool, out []uint32) ([]uint32, bool) {
	if s.graph == nil {
		return out, false
	}
	for _, n := range s.graph.Search(q, k) {
		if s.dead[n.Key] {
			continue
		}
		if o := s.owner[n.Key]; o != 0 && keep(o-1) {
			out = append(out, o-1)
		}
	}
	return out, true
}
