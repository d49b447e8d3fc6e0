package search

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/search/embed"
)

// Visibility is what one caller may see. The registry's access control implements it (api.Visible); search asks it
// before ranking, so a document the caller may not see never takes a place in any ranked list.
type Visibility interface {
	// Sees reports whether the caller may see the object kind/key.
	Sees(kind catalog.Kind, key string) bool
	// Keys returns the sorted keys of kind the caller may see, or nil when the caller sees every one.
	Keys(kind catalog.Kind) []string
	// Tools filters the tools of a visible server to those the caller may call; nil keeps all.
	Tools(server string) func(tool string) bool
}

// Everything is the Visibility of a caller who sees the whole catalog (the evaluation, internal callers).
type Everything struct{}

// Sees implements Visibility.
func (Everything) Sees(catalog.Kind, string) bool { return true }

// Keys implements Visibility.
func (Everything) Keys(catalog.Kind) []string { return nil }

// Tools implements Visibility.
func (Everything) Tools(string) func(string) bool { return nil }

// Query is one search request.
type Query struct {
	// Text is what the caller typed: a name, keywords or a sentence.
	Text string
	// Types restricts results to these types; empty means all.
	Types []Type
	// Statuses lists the statuses to include; empty means enabled only (disabled, security-pending and
	// deprecated assets are found only when asked for).
	Statuses []catalog.Status
	// Limit is the number of results, 1 to MaxLimit; 0 means DefaultLimit.
	Limit int
	// Explain adds each result's ranking signals.
	Explain bool
}

// Results answer a query.
type Results struct {
	Results []Result `json:"results"`
	// Mode is "hybrid" when the dense half took part, "lexical" when it could not (no embedder, the model is
	// being resolved, or embedding the query failed).
	Mode string `json:"mode"`
}

// Result is one asset found.
type Result struct {
	Type Type   `json:"type"`
	Name string `json:"name"`
	// EntityType is the custom type of an entity result.
	EntityType  string         `json:"entity_type,omitempty"`
	Score       float64        `json:"score"`
	Title       string         `json:"title,omitempty"`
	Description string         `json:"description,omitempty"`
	Status      catalog.Status `json:"status"`
	// MatchedTools are a server's tools that match the query, best first, limited to those the caller may call.
	MatchedTools []Match `json:"matched_tools,omitempty"`
	// MatchedSkills are an agent card's skills that match the query, best first.
	MatchedSkills []Match  `json:"matched_skills,omitempty"`
	Explain       *Explain `json:"explain,omitempty"`
}

// Match is a tool or skill that matched, with its score in [0, 1].
type Match struct {
	Name  string  `json:"name"`
	Score float64 `json:"score"`
}

// Explain shows why a result ranked where it did.
type Explain struct {
	LexicalRank int     `json:"lexical_rank,omitempty"` // 1-based; 0 when not in the lexical list
	BM25        float64 `json:"bm25"`
	Coverage    float64 `json:"coverage"` // share of the query's idf mass the document matched
	DenseRank   int     `json:"dense_rank,omitempty"`
	Cosine      float64 `json:"cosine"`
	NameMatch   bool    `json:"name_match,omitempty"`
}

// ErrQuery marks a query the caller must fix; the concrete error is a *QueryError.
var ErrQuery = errors.New("invalid search query")

// QueryError names the part of a query that is wrong.
type QueryError struct {
	Field  string
	Reason string
}

func (e *QueryError) Error() string { return "invalid search query: " + e.Field + " " + e.Reason }

// Is makes errors.Is(err, ErrQuery) true.
func (e *QueryError) Is(target error) bool { return target == ErrQuery }

// Validate checks a query and fills its defaults.
func (q *Query) Validate() error {
	q.Text = strings.TrimSpace(q.Text)
	switch {
	case q.Text == "":
		return &QueryError{Field: "q", Reason: "is required"}
	case len(q.Text) > MaxQueryBytes:
		return &QueryError{Field: "q", Reason: fmt.Sprintf("must be at most %d bytes", MaxQueryBytes)}
	case !utf8.ValidString(q.Text):
		return &QueryError{Field: "q", Reason: "must be valid UTF-8"}
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit < 1 || q.Limit > MaxLimit {
		return &QueryError{Field: "limit", Reason: fmt.Sprintf("must be from 1 to %d", MaxLimit)}
	}
	for _, t := range q.Types {
		if _, ok := ParseType(string(t)); !ok {
			return &QueryError{Field: "types", Reason: fmt.Sprintf("%q is not one of server, agent, skill, entity", t)}
		}
	}
	for _, s := range q.Statuses {
		switch s {
		case catalog.StatusEnabled, catalog.StatusDisabled, catalog.StatusSecurityPending, catalog.StatusDeprecated:
		default:
			return &QueryError{Field: "status", Reason: fmt.Sprintf("%q is not one of enabled, disabled, security-pending, deprecated", s)}
		}
	}
	return nil
}

// scratch is the per-query working memory, pooled.
type scratch struct {
	bm25     []float64 // by slot
	mask     []uint64  // by slot: which query terms matched
	cov      []float64 // by slot: coverage, for touched slots
	cos      []float32 // by slot: centred cosine; NaN when not scored
	touched  []uint32
	lexical  []scored
	dense    []scored
	scoredC  []uint32        // slots whose cosine was computed
	dots     []float32       // by slot: an exact scan's centred cosines
	subDone  map[uint32]bool // slots stage two has re-scored
	vals     []float64       // selectTop's working memory
	restrict bool            // the caller sees a small part of the catalog: score visible documents one by one
	vis      Visibility      // the caller's
	toolIdx  []int32         // by slot: 0 not yet known, -1 every tool callable, else index+1 in tools; see toolsFor
	tools    []toolAccess    // what the caller may call of the servers toolIdx points at
	toolSlot []uint32        // slots whose toolIdx is set, to reset them
	toolMask []bool          // backing store of the tools' masks
	cands    []uint32
	expand   []expansion
	fused    map[uint32]*fusedDoc
	fusedBuf []fusedDoc
}

// scored is a document slot with a score.
type scored struct {
	slot  uint32
	score float64
}

type fusedDoc struct {
	slot      uint32
	score     float64
	lexRank   int
	denseRank int
	name      bool
}

var nan32 = float32(math.NaN())

func (x *Index) getScratch(slots int) *scratch {
	s, _ := x.scratch.Get().(*scratch)
	if s == nil {
		s = &scratch{fused: map[uint32]*fusedDoc{}, subDone: map[uint32]bool{}}
	}
	if cap(s.bm25) < slots {
		s.bm25 = make([]float64, slots)
		s.mask = make([]uint64, slots)
		s.cov = make([]float64, slots)
		s.cos = make([]float32, slots)
		s.toolIdx = make([]int32, slots)
		for i := range s.cos {
			s.cos[i] = nan32
		}
	}
	s.bm25, s.mask, s.cov, s.cos, s.toolIdx = s.bm25[:slots], s.mask[:slots], s.cov[:slots], s.cos[:slots], s.toolIdx[:slots]
	return s
}

// putScratch resets what the query touched (not whole arrays: a query costs in proportion to its matches).
func (x *Index) putScratch(s *scratch) {
	for _, slot := range s.touched {
		s.bm25[slot], s.mask[slot], s.cov[slot] = 0, 0, 0
	}
	for _, slot := range s.scoredC {
		s.cos[slot] = nan32
	}
	s.touched, s.scoredC, s.cands = s.touched[:0], s.scoredC[:0], s.cands[:0]
	s.restrict = false
	s.vis = nil
	clear(s.subDone)
	for _, slot := range s.toolSlot {
		s.toolIdx[slot] = 0
	}
	s.toolSlot, s.tools, s.toolMask = s.toolSlot[:0], s.tools[:0], s.toolMask[:0]
	s.lexical, s.dense, s.expand = s.lexical[:0], s.dense[:0], s.expand[:0]
	clear(s.fused)
	s.fusedBuf = s.fusedBuf[:0]
	x.scratch.Put(s)
}

// qterm is a distinct query term with its expansions.
type qterm struct {
	idf  float64 // of the term itself; the maximum idf when the corpus lacks it
	from int     // expansions s.expand[from:to]
	to   int
}

// rescoreDepth is how many of the best documents of each list stage two re-scores against their tools and skills.
const rescoreDepth = 50

// lexicalDepth bounds the lexical list: below rank 200 an RRF contribution (1/(k+200)) no longer moves a result.
const lexicalDepth = 200

// selectTop returns the best k items of l, best first (reusing l's memory). It finds the k-th best score by a
// quickselect over the bare scores (expected linear time, primitive comparisons, three-way partitions so that ties
// cost nothing), keeps the items at or above it, and sorts only those.
func (x *Index) selectTop(l []scored, k int, vals []float64) ([]scored, []float64) {
	if len(l) > k {
		vals = vals[:0]
		for _, it := range l {
			vals = append(vals, it.score)
		}
		thr := kthLargest(vals, k)
		kept := l[:0]
		for _, it := range l {
			if it.score >= thr {
				kept = append(kept, it)
			}
		}
		l = kept
	}
	x.sortScored(l)
	if len(l) > k {
		l = l[:k]
	}
	return l, vals
}

// kthLargest returns the k-th largest value of v (1-based), reordering v.
func kthLargest(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	want := k - 1
	for lo < hi {
		p := v[lo+(hi-lo)/2]
		// Three-way partition, descending: [lo,lt) > p, [lt,gt] == p, (gt,hi] < p.
		lt, i, gt := lo, lo, hi
		for i <= gt {
			switch {
			case v[i] > p:
				v[lt], v[i] = v[i], v[lt]
				lt++
				i++
			case v[i] < p:
				v[i], v[gt] = v[gt], v[i]
				gt--
			default:
				i++
			}
		}
		switch {
		case want < lt:
			hi = lt - 1
		case want > gt:
			lo = gt + 1
		default:
			return p
		}
	}
	return v[want]
}

// before reports whether a ranks before b: a higher score, or an equal score and an earlier (type, key), so that
// rankings do not depend on the order documents were indexed in.
func (x *Index) before(a, b scored) bool {
	if a.score != b.score {
		return a.score > b.score
	}
	if a.slot == b.slot {
		return false
	}
	da, db := x.docs[a.slot].src, x.docs[b.slot].src
	if da.typ != db.typ {
		return typeIndex(da.typ) < typeIndex(db.typ)
	}
	return da.key < db.key
}

// sortScored orders best first.
func (x *Index) sortScored(l []scored) {
	slices.SortFunc(l, func(a, b scored) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		case x.before(a, b):
			return -1
		case x.before(b, a):
			return 1
		}
		return 0
	})
}

// Search ranks the assets v may see for q. Filtering by type, status and visibility happens before any ranking, so
// a restricted caller gets its own best results, never the survivors of a global top-k.
func (x *Index) Search(ctx context.Context, q Query, v Visibility) (Results, error) {
	if err := q.Validate(); err != nil {
		return Results{}, err
	}
	start := time.Now()
	mode := "lexical"

	// Embed the query before taking the lock: a remote embedder makes a network call.
	x.mu.RLock()
	emb, fast, model := x.emb, x.fast, x.model
	hasVectors := x.vecs.docs > 0
	x.mu.RUnlock()
	var qvec []float32
	if emb != nil && model.Dim > 0 && hasVectors {
		var err error
		if qvec, err = embedQuery(ctx, emb, fast, q.Text, model); err != nil {
			if ctx.Err() != nil {
				return Results{}, fmt.Errorf("search: %w", ctx.Err())
			}
			x.met.queryEmbedErrors.Inc()
			x.log.Warn("embedding the query failed; answering lexically", "err", err)
			qvec = nil
		}
	}

	x.mu.RLock()
	defer x.mu.RUnlock()
	s := x.getScratch(len(x.docs))
	defer x.putScratch(s)
	s.vis = v

	allow := x.filter(q, v, s)
	terms := x.lexicalScores(q.Text, allow, s)
	nameSlots := slices.DeleteFunc(slices.Clone(x.names[normName(q.Text)]), func(slot uint32) bool { return !allow(slot) })
	var c centred
	if qvec != nil && x.model.Compatible(model) {
		c = x.vecs.prepare(qvec)
		x.denseScores(c, allow, nameSlots, s)
		mode = "hybrid"
	}
	out := x.fuse(q, s, terms, nameSlots, c, v)
	x.met.observe(mode, time.Since(start), len(out))
	return Results{Results: out, Mode: mode}, nil
}

// embedQuery embeds the query text with the index's model; nil means the text has no vector (no known word).
func embedQuery(ctx context.Context, emb embed.Embedder, fast oneEmbedder, text string, model embed.ModelInfo) ([]float32, error) {
	if fast != nil {
		v, known := fast.EmbedOne(make([]float32, 0, model.Dim), text)
		if known == 0 || len(v) != model.Dim {
			return nil, nil
		}
		return v, nil
	}
	vs, err := emb.Embed(ctx, []string{text}, embed.KindQuery)
	if err != nil {
		return nil, fmt.Errorf("embed query: %w", err)
	}
	if len(vs) != 1 || len(vs[0]) != model.Dim {
		return nil, fmt.Errorf("embed query: %w", embed.ErrDimension)
	}
	if isZero(vs[0]) {
		return nil, nil
	}
	return vs[0], nil
}

// filter returns the admission test for a slot: type, status and visibility. It runs before any scoring.
func (x *Index) filter(q Query, v Visibility, s *scratch) func(slot uint32) bool {
	var types [4]bool
	if len(q.Types) == 0 {
		types = [4]bool{true, true, true, true}
	}
	for _, t := range q.Types {
		types[typeIndex(t)] = true
	}
	var statuses [4]bool
	if len(q.Statuses) == 0 {
		statuses[statusIndex(catalog.StatusEnabled)] = true
	}
	for _, st := range q.Statuses {
		statuses[statusIndex(st)] = true
	}
	a := x.allowed(v)
	// A caller who sees a quarter of the catalog or more is served by the full scan (one matrix-vector product,
	// invisible documents dropped before any ranking); below that, a dot product per visible document is cheaper.
	s.restrict = a != nil && a.any && a.count*4 < len(x.docs)
	meta := x.meta
	return func(slot uint32) bool {
		m := meta[slot]
		if !m.live || !types[m.typ] || !statuses[m.status] {
			return false
		}
		return a == nil || !a.restricted[m.typ] || a.bits[slot/64]&(1<<(slot%64)) != 0
	}
}

// allowSet is a caller's visible set as a bitmap over slots, for the kinds where the caller is restricted.
type allowSet struct {
	slots      uint64
	any        bool
	restricted [4]bool
	bits       []uint64
	count      int // slots set
}

// maxAllowCache bounds the cached bitmaps (one per distinct visible set in use: callers with the same effective
// scopes share one).
const maxAllowCache = 256

// allowed returns v's bitmap (nil when v sees everything). Bitmaps are cached per visible set (the registry's access
// control hands callers with the same scopes the same immutable set) while no slot is assigned or freed, so a
// restricted caller pays for its visible keys once, not per query. The read lock is held.
func (x *Index) allowed(v Visibility) *allowSet {
	cacheable := v != nil && reflect.TypeOf(v).Comparable()
	if cacheable {
		x.allowMu.Lock()
		a := x.allowCache[v]
		x.allowMu.Unlock()
		if a != nil && a.slots == x.slots {
			return a
		}
	}
	a := &allowSet{slots: x.slots}
	for i, t := range Types {
		keys := v.Keys(kindOf(t))
		if keys == nil {
			continue
		}
		if !a.any {
			a.bits = make([]uint64, (len(x.docs)+63)/64)
			a.any = true
		}
		a.restricted[i] = true
		m := x.byKey[kindOf(t)]
		for _, k := range keys {
			if slot, ok := m[k]; ok {
				a.bits[slot/64] |= 1 << (slot % 64)
				a.count++
			}
		}
	}
	if !a.any {
		a = nil
	}
	if cacheable {
		x.allowMu.Lock()
		if len(x.allowCache) >= maxAllowCache {
			clear(x.allowCache)
		}
		x.allowCache[v] = a
		x.allowMu.Unlock()
	}
	return a
}

func typeIndex(t Type) int {
	switch t {
	case TypeServer:
		return 0
	case TypeAgent:
		return 1
	case TypeSkill:
		return 2
	}
	return 3
}

// lexicalScores computes BM25F and coverage for every admitted document containing a query term, and fills the
// lexical list. It returns the distinct query terms.
func (x *Index) lexicalScores(text string, allow func(uint32) bool, s *scratch) []qterm {
	words := analyze(nil, text, false)
	slices.Sort(words)
	words = slices.Compact(words)
	if len(words) > 64 {
		words = words[:64] // the match mask has 64 bits; a longer query is prose, and 64 terms suffice
	}
	l := x.lex
	t := x.tune
	n := float64(max(l.docs, 1))
	var avg [numFields]float64
	for f := range numFields {
		avg[f] = max(l.fieldLen[f]/n, 1)
	}
	terms := make([]qterm, len(words))
	var total float64
	for i, w := range words {
		from := len(s.expand)
		s.expand = l.expand(w, t.FuzzyWeight, t.PrefixWeight, s.expand)
		terms[i] = qterm{idf: l.idf(0), from: from, to: len(s.expand)}
		if id, ok := l.ids[w]; ok && l.df(id) > 0 {
			terms[i].idf = l.idf(l.df(id))
		}
		total += terms[i].idf
		for _, e := range s.expand[from:] {
			idf := l.idf(l.df(e.id)) * e.weight
			for _, p := range l.postings[e.id] {
				if !allow(p.slot) {
					continue
				}
				lens := &l.lens[p.slot]
				// The tool fields of a server count only the tools the caller may call: a tool it may not call
				// must not raise (or, by its length, lower) the server's rank, or the ranking would reveal it.
				subTF, subLen := 1.0, 1.0
				if p.tf[fSubName] != 0 || p.tf[fSubText] != 0 {
					if ta := x.toolsFor(s, p.slot); ta != nil {
						subTF, subLen = x.docs[p.slot].termShare(ta, e.id), ta.lenShare
					}
				}
				tf := 0.0
				for f := range numFields {
					if p.tf[f] == 0 {
						continue
					}
					n, ln := float64(p.tf[f]), float64(lens[f])
					if f == fSubName || f == fSubText {
						n, ln = n*subTF, ln*subLen
					}
					norm := 1 - t.B + t.B*ln/avg[f]
					tf += t.FieldWeights[f] * n / norm
				}
				if tf == 0 {
					continue // the term is only in tools the caller may not call
				}
				if s.mask[p.slot] == 0 {
					s.touched = append(s.touched, p.slot)
				}
				s.bm25[p.slot] += idf * tf * (t.K1 + 1) / (tf + t.K1)
				s.mask[p.slot] |= 1 << i
			}
		}
	}
	// Coverage: the share of the query's idf mass a document matched, an approximate match at its weight.
	best := make([]float64, len(terms))
	for _, slot := range s.touched {
		m := s.mask[slot]
		got := 0.0
		for i, qt := range terms {
			if m&(1<<i) == 0 {
				continue
			}
			w := 0.0
			for _, e := range s.expand[qt.from:qt.to] {
				w = max(w, e.weight)
			}
			best[i] = w
			got += qt.idf * w
		}
		if total > 0 {
			s.cov[slot] = got / total
		}
		if s.cov[slot] >= t.LexicalFloor {
			s.lexical = append(s.lexical, scored{slot: slot, score: s.bm25[slot]})
		}
	}
	s.lexical, s.vals = x.selectTop(s.lexical, lexicalDepth, s.vals)
	return terms
}

// denseScores computes centred cosines in two stages and fills the dense list. Stage one scores each admitted
// document's own vector: below ExactBelow every one (one matrix-vector product for a caller who sees everything, a
// dot product per visible document otherwise), above it the graph's candidates. Stage two re-scores the promising
// documents (the best DenseDepth of stage one, the head of the lexical list and exact-name matches) against their
// tools and card skills: a document is as close to the query as its closest part, so "replay the dead-letter topic"
// finds the event-bus server through its replay tool. Documents outside the stage-one head cannot overtake it, so
// the dense list is the best DenseDepth of the re-scored ones.
func (x *Index) denseScores(c centred, allow func(uint32) bool, nameSlots []uint32, s *scratch) {
	depth := x.tune.DenseDepth
	top := s.dense[:0]
	score := func(slot uint32) {
		if !math.IsNaN(float64(s.cos[slot])) {
			return
		}
		d := x.docs[slot]
		if d == nil || d.vec < 0 {
			return
		}
		s.cos[slot] = x.vecs.sim(c, d.vec)
		s.scoredC = append(s.scoredC, slot)
	}
	ann := false
	if x.vecs.graph != nil {
		// Ask the graph for enough candidates that depth remain after the visibility filter; when fewer do, the
		// caller sees a small part of the catalog and the exact scan below is cheap.
		admitted := x.admitted(allow)
		want := min(x.vecs.docs, depth*2*max(1, x.vecs.docs/max(1, admitted)))
		s.cands, ann = x.vecs.annCandidates(c.q, want, allow, s.cands[:0])
		if ann && len(s.cands) < depth && len(s.cands) < admitted {
			s.cands, ann = s.cands[:0], false
		}
		for _, slot := range s.cands {
			score(slot)
		}
		for _, slot := range s.scoredC {
			top = append(top, scored{slot: slot, score: float64(s.cos[slot])})
		}
	}
	if !ann && !s.restrict {
		s.dots = x.vecs.scanDocs(c, s.dots)
		for slot, id := range x.vecs.docID {
			if id < 0 || !allow(uint32(slot)) {
				continue
			}
			s.cos[slot] = s.dots[slot]
			s.scoredC = append(s.scoredC, uint32(slot))
			top = append(top, scored{slot: uint32(slot), score: float64(s.dots[slot])})
		}
	} else if !ann {
		for slot := range x.docs {
			if allow(uint32(slot)) {
				n := len(s.scoredC)
				score(uint32(slot))
				if len(s.scoredC) > n {
					top = append(top, scored{slot: uint32(slot), score: float64(s.cos[slot])})
				}
			}
		}
	}
	top, s.vals = x.selectTop(top, depth, s.vals)
	// Stage two.
	s.cands = s.cands[:0]
	for i := 0; i < len(top) && i < rescoreDepth; i++ {
		s.cands = append(s.cands, top[i].slot)
	}
	for i := 0; i < len(s.lexical) && i < rescoreDepth; i++ {
		s.cands = append(s.cands, s.lexical[i].slot)
	}
	s.cands = append(s.cands, nameSlots...)
	for _, slot := range s.cands {
		score(slot)
		d := x.docs[slot]
		if d.vec < 0 || s.rescored(slot) {
			continue
		}
		best := s.cos[slot]
		ta := x.toolsFor(s, slot)
		for i, sb := range d.subs {
			if sb.vec >= 0 && ta.callable(i) {
				best = max(best, x.vecs.sim(c, sb.vec))
			}
		}
		s.cos[slot] = best
	}
	// The dense list: the head of stage one and the re-scored documents, by their (possibly raised) cosine.
	for _, t := range top {
		s.cands = append(s.cands, t.slot)
	}
	slices.Sort(s.cands)
	s.cands = slices.Compact(s.cands)
	top = top[:0]
	for _, slot := range s.cands {
		if c := s.cos[slot]; float64(c) >= x.tune.DenseFloor { // NaN (no vector) fails too
			top = append(top, scored{slot: slot, score: float64(c)})
		}
	}
	s.dense, s.vals = x.selectTop(top, depth, s.vals)
}

// toolAccess is what a query's caller may call of one server document's tools.
type toolAccess struct {
	mask     []bool  // by sub index; nil when none is callable
	lenShare float64 // the share of the tools' terms that are in callable tools
}

// callable reports whether the caller may call tool i; a nil toolAccess means every tool.
func (ta *toolAccess) callable(i int) bool { return ta == nil || ta.mask != nil && ta.mask[i] }

// toolsFor returns which tools of a server document the query's caller may call, or nil when it may call every one
// (or the document is no server with tools). Memoised per query by slot.
func (x *Index) toolsFor(s *scratch, slot uint32) *toolAccess {
	switch i := s.toolIdx[slot]; {
	case i > 0:
		return &s.tools[i-1]
	case i < 0:
		return nil
	}
	d := x.docs[slot]
	var keep func(string) bool
	if s.vis != nil && d != nil && d.src.typ == TypeServer && len(d.subs) > 0 {
		keep = s.vis.Tools(d.src.key)
	}
	s.toolSlot = append(s.toolSlot, slot)
	if keep == nil {
		s.toolIdx[slot] = -1
		return nil
	}
	from := len(s.toolMask)
	var lAll, lCall, n int
	for _, sb := range d.subs {
		ok := keep(sb.name)
		s.toolMask = append(s.toolMask, ok)
		lAll += len(sb.terms)
		if ok {
			lCall += len(sb.terms)
			n++
		}
	}
	if n == len(d.subs) {
		s.toolMask = s.toolMask[:from]
		s.toolIdx[slot] = -1
		return nil
	}
	ta := toolAccess{}
	if n > 0 {
		ta.mask = s.toolMask[from:len(s.toolMask):len(s.toolMask)]
	} else {
		s.toolMask = s.toolMask[:from]
	}
	if lAll > 0 {
		ta.lenShare = float64(lCall) / float64(lAll)
	}
	s.tools = append(s.tools, ta)
	s.toolIdx[slot] = int32(len(s.tools))
	return &s.tools[len(s.tools)-1]
}

// termShare returns the share of term id's occurrences in the document's tools that fall in tools the caller may
// call: the factor of the caller's term frequency in the tool fields.
func (d *doc) termShare(ta *toolAccess, id uint32) float64 {
	if ta.mask == nil {
		return 0
	}
	var nAll, nCall int
	for i, sb := range d.subs {
		lo, found := slices.BinarySearch(sb.terms, id)
		if !found {
			continue
		}
		hi := lo + 1
		for hi < len(sb.terms) && sb.terms[hi] == id {
			hi++
		}
		nAll += hi - lo
		if ta.mask[i] {
			nCall += hi - lo
		}
	}
	if nAll == 0 {
		return 0
	}
	return float64(nCall) / float64(nAll)
}

// admitted counts the documents allow admits (the HNSW path only: catalogs of tens of thousands).
func (x *Index) admitted(allow func(uint32) bool) int {
	n := 0
	for slot := range x.docs {
		if allow(uint32(slot)) {
			n++
		}
	}
	return n
}

// rescored marks slot as re-scored against its parts and reports whether it already was.
func (s *scratch) rescored(slot uint32) bool {
	if s.subDone[slot] {
		return true
	}
	s.subDone[slot] = true
	return false
}

// evidence is how strongly a document answers the query on its own: its coverage plus its centred cosine.
func (s *scratch) evidence(slot uint32) float64 {
	e := s.cov[slot]
	if c := s.cos[slot]; c > 0 {
		e += float64(c)
	}
	return e
}

// fuse combines the lists with weighted reciprocal rank fusion, applies the relevance floor and renders the top
// results.
func (x *Index) fuse(q Query, s *scratch, terms []qterm, nameSlots []uint32, c centred, v Visibility) []Result {
	t := x.tune
	get := func(slot uint32) *fusedDoc {
		f := s.fused[slot]
		if f == nil {
			s.fusedBuf = append(s.fusedBuf, fusedDoc{slot: slot})
			f = &s.fusedBuf[len(s.fusedBuf)-1]
			s.fused[slot] = f
		}
		return f
	}
	// Pointers into fusedBuf stay valid: it has room for every document of every list.
	s.fusedBuf = slices.Grow(s.fusedBuf[:0], len(s.lexical)+len(s.dense)+len(nameSlots))
	for i, l := range s.lexical {
		f := get(l.slot)
		f.lexRank = i + 1
		f.score += t.LexicalWeight / (t.RRFK + float64(i+1))
	}
	for i, d := range s.dense {
		f := get(d.slot)
		f.denseRank = i + 1
		f.score += t.DenseWeight / (t.RRFK + float64(i+1))
	}
	for _, slot := range nameSlots {
		f := get(slot)
		f.name = true
		f.score += t.NameWeight / (t.RRFK + 1)
	}

	// The relevance floor: per document, then for the query as a whole.
	cands := make([]*fusedDoc, 0, len(s.fusedBuf))
	top := 0.0
	for i := range s.fusedBuf {
		f := &s.fusedBuf[i]
		ev := s.evidence(f.slot)
		if f.name {
			ev = math.Inf(1)
		}
		top = max(top, ev)
		if ev >= t.DocFloor {
			cands = append(cands, f)
		}
	}
	if top < t.QueryFloor {
		cands = cands[:0]
	}
	// Equal fused scores are common (lexical rank 1 + dense rank 2 ties lexical rank 2 + dense rank 1); the
	// document with more evidence of its own goes first.
	slices.SortFunc(cands, func(a, b *fusedDoc) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		if c := cmp.Compare(s.evidence(b.slot), s.evidence(a.slot)); c != 0 {
			return c
		}
		da, db := x.docs[a.slot].src, x.docs[b.slot].src
		if c := cmp.Compare(typeIndex(da.typ), typeIndex(db.typ)); c != 0 {
			return c
		}
		return strings.Compare(da.key, db.key)
	})
	if len(cands) > q.Limit {
		cands = cands[:q.Limit]
	}
	best := (t.LexicalWeight + t.DenseWeight + t.NameWeight) / (t.RRFK + 1)
	out := make([]Result, len(cands))
	for i, f := range cands {
		d := x.docs[f.slot]
		r := Result{Type: d.src.typ, Name: d.src.name, EntityType: d.src.entityType, Score: round3(f.score / best),
			Title: d.src.title, Description: d.src.desc, Status: d.src.status}
		switch d.src.typ {
		case TypeServer:
			r.MatchedTools = x.matchSubs(d, terms, s, c, v.Tools(d.src.key))
		case TypeAgent:
			r.MatchedSkills = x.matchSubs(d, terms, s, c, nil)
		}
		if q.Explain {
			r.Explain = &Explain{LexicalRank: f.lexRank, BM25: round3(s.bm25[f.slot]), Coverage: round3(s.cov[f.slot]),
				DenseRank: f.denseRank, NameMatch: f.name}
			if cs := s.cos[f.slot]; !math.IsNaN(float64(cs)) {
				r.Explain.Cosine = round3(float64(cs))
			}
		}
		out[i] = r
	}
	return out
}

// matchSubs ranks a document's tools or card skills against the query: half the share of the query's idf mass a
// sub-item's words cover, half its centred cosine. Those with neither a lexical match nor a cosine above SubFloor
// are left out; callable (nil: all) drops tools the caller may not call.
func (x *Index) matchSubs(d *doc, terms []qterm, s *scratch, c centred, callable func(string) bool) []Match {
	var out []Match
	dense := c.q != nil
	var total float64
	for _, t := range terms {
		total += t.idf
	}
	for _, sb := range d.subs {
		if callable != nil && !callable(sb.name) {
			continue
		}
		var got float64
		for _, t := range terms {
			w := 0.0
			for _, e := range s.expand[t.from:t.to] {
				if _, found := slices.BinarySearch(sb.terms, e.id); found {
					w = max(w, e.weight)
				}
			}
			got += t.idf * w
		}
		lex := 0.0
		if total > 0 {
			lex = got / total
		}
		cos := 0.0
		if dense && sb.vec >= 0 {
			cos = float64(x.vecs.sim(c, sb.vec))
		}
		if lex == 0 && cos < x.tune.SubFloor {
			continue
		}
		out = append(out, Match{Name: sb.name, Score: round3(0.5*lex + 0.5*max(cos, 0))})
	}
	slices.SortStableFunc(out, func(a, b Match) int { return cmp.Compare(b.Score, a.Score) })
	if len(out) > MaxMatched {
		out = out[:MaxMatched]
	}
	return out
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
