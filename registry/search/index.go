package search

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/search/embed"
	"github.com/mcpgw/mcpgw/registry/view"
)

// Source is where the index reads the whole catalog: at start and on a reindex. The view implements it.
type Source interface {
	All(kind catalog.Kind) []catalog.Object
}

// Objects is a Source over a fixed set of objects: tests and offline evaluation feed the index without a view.
type Objects []catalog.Object

// All returns the objects of kind, in order.
func (o Objects) All(kind catalog.Kind) []catalog.Object {
	var out []catalog.Object
	for _, x := range o {
		if x.Kind() == kind {
			out = append(out, x)
		}
	}
	return out
}

// indexedKinds are the kinds the index reads, entity types first (entities need their type's searchable fields).
var indexedKinds = []catalog.Kind{catalog.KindEntityType, catalog.KindServer, catalog.KindAgent, catalog.KindSkill,
	catalog.KindEntity}

// Index is the hybrid search index: lexical (BM25F) and dense (embeddings) over servers, agents, skills and custom
// entities, kept current from the view's change events. Lexical indexing happens in the listener, so a write is
// findable by its words as soon as it is visible in the view; vectors are computed by Run in the background, and a
// document without a vector is found by the lexical half meanwhile (Status lists such documents as missing).
type Index struct {
	opts Options
	tune *Tuning
	log  *slog.Logger
	met  *metrics

	mu  sync.RWMutex
	emb embed.Embedder // nil: lexical only
	// fast embeds a query without allocating when the embedder is the builtin model.
	fast     oneEmbedder
	model    embed.ModelInfo // the model the vectors come from; zero until resolved
	docs     []*doc          // by slot; nil for a free slot
	meta     []docMeta       // by slot, contiguous for the filter
	free     []uint32
	byKey    map[catalog.Kind]map[string]uint32
	lex      *lexicon
	vecs     *vectorStore
	names    map[string][]uint32 // normName of a name or title → slots
	etypes   map[string]*catalog.EntityType
	pending  map[uint32]bool // slots whose vectors are missing or stale
	inflight int
	progress chan struct{} // closed and replaced whenever pending work finishes or fails
	wake     chan struct{}
	lastErr  error
	failures uint64 // embedding failures so far

	scratch sync.Pool

	// slots changes whenever a slot is assigned or freed: the visibility bitmaps in allowCache are valid for one
	// value of it.
	slots      uint64
	allowMu    sync.Mutex
	allowCache map[any]*allowSet
}

// doc is one indexed asset.
type doc struct {
	src   *source
	obj   catalog.Object
	lex   lexDoc
	hash  uint64 // textHash of src
	vec   int32  // document vector id, -1 when missing
	model string // ModelInfo.ID of the vectors; "" when missing
	subs  []sub
}

// docMeta is what the filter reads per slot.
type docMeta struct {
	live   bool
	typ    uint8 // typeIndex
	status uint8 // statusIndex
}

// statusIndex numbers the statuses for docMeta.
func statusIndex(s catalog.Status) uint8 {
	switch s {
	case catalog.StatusEnabled:
		return 0
	case catalog.StatusDisabled:
		return 1
	case catalog.StatusSecurityPending:
		return 2
	}
	return 3
}

// sub is an indexed tool or card skill.
type sub struct {
	name  string
	terms []uint32 // term ids of the name, title and text, sorted, with repeats
	vec   int32
}

// oneEmbedder is the builtin model's allocation-free single-text path.
type oneEmbedder interface {
	EmbedOne(dst []float32, text string) ([]float32, int)
}

// New returns an empty index; call Load (or feed it events) and Run.
func New(opts Options) (*Index, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	x := &Index{
		opts: opts, tune: opts.Tuning, log: opts.Logger.With("component", "search"),
		byKey: map[catalog.Kind]map[string]uint32{}, lex: newLexicon(), names: map[string][]uint32{},
		etypes: map[string]*catalog.EntityType{}, pending: map[uint32]bool{}, allowCache: map[any]*allowSet{},
		progress: make(chan struct{}), wake: make(chan struct{}, 1),
	}
	for _, k := range indexedKinds {
		x.byKey[k] = map[string]uint32{}
	}
	x.vecs = newVectorStore(0, opts.ExactBelow, opts.EfSearch, 1)
	x.setEmbedderLocked(opts.Embedder)
	if x.met, err = newMetrics(opts.Metrics, x); err != nil {
		return nil, err
	}
	return x, nil
}

// Load indexes every searchable object of src, replacing what the index holds. Call it once the view is loaded.
func (x *Index) Load(src Source) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.loadLocked(src, false)
}

func (x *Index) loadLocked(src Source, force bool) {
	seen := map[catalog.Kind]map[string]bool{}
	for _, k := range indexedKinds {
		seen[k] = map[string]bool{}
		for _, o := range src.All(k) {
			seen[k][o.Key()] = true
			x.putLocked(o, force)
		}
	}
	for _, k := range indexedKinds {
		for key := range x.byKey[k] {
			if !seen[k][key] {
				x.removeLocked(k, key)
			}
		}
	}
	for t := range x.etypes {
		if !seen[catalog.KindEntityType][t] {
			delete(x.etypes, t)
		}
	}
	x.signal()
}

// Listener returns the view listener that keeps the index current. It indexes the words at once and leaves the
// vectors to Run.
func (x *Index) Listener() view.Listener {
	return func(events []view.Event) { x.Apply(events) }
}

// Apply indexes a batch of view events.
func (x *Index) Apply(events []view.Event) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var retype []string
	for _, e := range events {
		switch {
		case e.Kind == catalog.KindEntityType:
			retype = append(retype, e.Key)
			if e.New == nil {
				delete(x.etypes, e.Key)
			} else if t, ok := e.New.(*catalog.EntityType); ok {
				x.etypes[e.Key] = t
			}
		case e.New == nil:
			x.removeLocked(e.Kind, e.Key)
		default:
			x.putLocked(e.New, false)
		}
	}
	if len(retype) > 0 {
		// An entity type's searchable fields changed (or the type came or went): re-extract its entities.
		for _, slot := range x.byKey[catalog.KindEntity] {
			if d := x.docs[slot]; slices.Contains(retype, d.src.entityType) {
				x.putLocked(d.obj, false)
			}
		}
	}
	x.signal()
}

// putLocked indexes o, replacing the document with the same key. The vectors are kept when the dense texts did not
// change and force is false.
func (x *Index) putLocked(o catalog.Object, force bool) {
	if t, ok := o.(*catalog.EntityType); ok {
		x.etypes[t.Name] = t
		return
	}
	src, ok := extract(o, func(name string) *catalog.EntityType { return x.etypes[name] })
	if !ok {
		return
	}
	slot, exists := x.byKey[src.kind][src.key]
	var old *doc
	if exists {
		old = x.docs[slot]
		x.unindexLocked(slot, old)
	} else {
		if n := len(x.free); n > 0 {
			slot = x.free[n-1]
			x.free = x.free[:n-1]
		} else {
			slot = uint32(len(x.docs))
			x.docs = append(x.docs, nil)
			x.meta = append(x.meta, docMeta{})
		}
		x.byKey[src.kind][src.key] = slot
		x.slots++
	}
	d := &doc{src: src, obj: o, hash: src.textHash(), vec: -1}
	var fields [numFields][]string
	for f := range numFields {
		keep := f == fName // names keep their stopwords: "the-hub" is a name
		for _, text := range src.fields[f] {
			eachTerm(text, keep, func(_ []byte, term string) {
				fields[f] = append(fields[f], term)
			})
		}
	}
	d.lex = x.lex.add(slot, &fields)
	d.subs = make([]sub, len(src.subs))
	var buf []string
	for i, s := range src.subs {
		buf = analyze(analyze(analyze(buf[:0], s.name, false), s.title, false), s.text, false)
		ids := make([]uint32, len(buf))
		for j, t := range buf {
			ids[j] = x.lex.termID(t)
		}
		slices.Sort(ids)
		d.subs[i] = sub{name: s.name, terms: ids, vec: -1}
	}
	for _, n := range src.names {
		k := normName(n)
		if k != "" && !slices.Contains(x.names[k], slot) {
			x.names[k] = append(x.names[k], slot)
		}
	}
	if old != nil && old.hash == d.hash && old.model != "" && old.model == x.modelID() && len(old.subs) == len(d.subs) {
		// Same texts, same model: the vectors stay valid (a forced recomputation replaces them when it lands).
		d.vec, d.model = old.vec, old.model
		for i := range d.subs {
			d.subs[i].vec = old.subs[i].vec
		}
		old.vec = -1
		for i := range old.subs {
			old.subs[i].vec = -1
		}
		if force {
			x.pending[slot] = true
		}
	} else if x.emb != nil {
		x.pending[slot] = true
	}
	if old != nil {
		x.freeVectorsLocked(old)
	}
	x.docs[slot] = d
	x.meta[slot] = docMeta{live: true, typ: uint8(typeIndex(src.typ)), status: statusIndex(src.status)}
}

// unindexLocked removes a document's words and names; its vectors stay until freeVectorsLocked.
func (x *Index) unindexLocked(slot uint32, d *doc) {
	x.lex.remove(slot, d.lex)
	for _, n := range d.src.names {
		k := normName(n)
		if s := x.names[k]; s != nil {
			s = slices.DeleteFunc(s, func(v uint32) bool { return v == slot })
			if len(s) == 0 {
				delete(x.names, k)
			} else {
				x.names[k] = s
			}
		}
	}
}

func (x *Index) freeVectorsLocked(d *doc) {
	x.vecs.remove(d.vec)
	for i := range d.subs {
		x.vecs.remove(d.subs[i].vec)
	}
	d.vec = -1
	for i := range d.subs {
		d.subs[i].vec = -1
	}
}

// removeLocked drops the document kind/key.
func (x *Index) removeLocked(kind catalog.Kind, key string) {
	slot, ok := x.byKey[kind][key]
	if !ok {
		return
	}
	d := x.docs[slot]
	x.unindexLocked(slot, d)
	x.freeVectorsLocked(d)
	delete(x.byKey[kind], key)
	delete(x.pending, slot)
	x.docs[slot] = nil
	x.meta[slot] = docMeta{}
	x.slots++
	x.free = append(x.free, slot)
}

func (x *Index) modelID() string {
	if x.model.Dim == 0 {
		return ""
	}
	return x.model.ID()
}

// signal wakes Run when there is embedding work.
func (x *Index) signal() {
	if len(x.pending) == 0 {
		return
	}
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// SetEmbedder replaces the embedder (nil: lexical search only). When the new model's identity differs from the
// vectors', every vector is dropped and recomputed by Run; until then search answers lexically.
func (x *Index) SetEmbedder(e embed.Embedder) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.setEmbedderLocked(e)
	x.signal()
}

func (x *Index) setEmbedderLocked(e embed.Embedder) {
	x.emb = e
	x.fast, _ = e.(oneEmbedder)
	var info embed.ModelInfo
	if e != nil {
		info = e.Info()
		if info.Dim > 0 && x.model.Dim > 0 && x.model.Compatible(info) {
			return // same vector space: the vectors stay
		}
	}
	if x.model.Dim > 0 {
		x.log.Info("embedding model changed; recomputing every vector", "from", x.model.ID(), "to", info.ID())
	}
	// A model that knows its dimension (the builtin one) is usable at once; a remote one is resolved by Run.
	x.model = embed.ModelInfo{}
	if info.Dim > 0 {
		x.model = info
	}
	x.dropVectorsLocked()
}

// dropVectorsLocked forgets every vector and queues every document for new ones (when there is an embedder).
//
// The invariant search relies on: whenever the model is known (Dim > 0), every vector held comes from it. The model
// only changes here (and is only cleared, never changed, elsewhere), and vectors are only added for the model they
// were computed with (embedPending checks), so search needs no per-document model test.
func (x *Index) dropVectorsLocked() {
	x.vecs.reset(x.model.Dim)
	clear(x.pending)
	for slot, d := range x.docs {
		if d == nil {
			continue
		}
		d.vec, d.model = -1, ""
		for i := range d.subs {
			d.subs[i].vec = -1
		}
		if x.emb != nil {
			x.pending[uint32(slot)] = true
		}
	}
}

// current returns the embedder and the model of the vectors.
func (x *Index) current() (embed.Embedder, oneEmbedder, embed.ModelInfo) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.emb, x.fast, x.model
}

// Run computes missing vectors until ctx ends: at start, after every change, and again after a failure (with
// backoff). It resolves the embedder's identity first; when it differs from the vectors' model every vector is
// recomputed (a model change triggers a reindex).
func (x *Index) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		emb, _, _ := x.current()
		if emb == nil {
			select {
			case <-ctx.Done():
				return nil
			case <-x.wake:
				continue
			}
		}
		if err := x.resolve(ctx, emb); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			x.failed(err)
			backoff = nextBackoff(backoff)
			x.log.Warn("embedder unavailable; serving lexical search only", "err", err, "retry_in", backoff)
			if !sleep(ctx, backoff) {
				return nil
			}
			continue
		}
		err := x.embedPending(ctx, emb)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			x.failed(err)
			backoff = nextBackoff(backoff)
			x.log.Warn("embedding failed; affected documents are found lexically until it succeeds", "err", err,
				"retry_in", backoff)
			if !sleep(ctx, backoff) {
				return nil
			}
			continue
		}
		backoff = 0
		// Once a burst of changes is over, make the centring exact, so that results do not depend on the order in
		// which the catalog was loaded.
		settle := time.NewTimer(settleAfter)
		select {
		case <-ctx.Done():
			settle.Stop()
			return nil
		case <-x.wake:
			settle.Stop()
		case <-settle.C:
			x.settleCentre()
			select {
			case <-ctx.Done():
				return nil
			case <-x.wake:
			}
		}
	}
}

// settleAfter is how long the vectors must stay unchanged before the mean is recomputed exactly.
const settleAfter = 500 * time.Millisecond

// settleCentre recomputes the mean exactly if vectors changed since it was.
func (x *Index) settleCentre() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.vecs.stale() {
		x.vecs.recentre(true)
	}
}

func nextBackoff(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return time.Second
	case d >= 30*time.Second:
		return time.Minute
	}
	return 2 * d
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// resolve learns the embedder's identity and, when it changed, drops every vector and queues every document.
func (x *Index) resolve(ctx context.Context, emb embed.Embedder) error {
	_, _, model := x.current()
	info := emb.Info()
	if model.Dim == 0 || info.Dim == 0 {
		var err error
		if info, err = embed.Resolve(ctx, emb); err != nil {
			return fmt.Errorf("resolve embedder: %w", err)
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.emb != emb || x.model.Dim > 0 && x.model.Compatible(info) {
		return nil // replaced meanwhile (the next round resolves the new one), or unchanged
	}
	if x.model.Dim > 0 {
		x.log.Info("embedding model changed; recomputing every vector", "from", x.model.ID(), "to", info.ID())
	}
	x.model = info
	x.dropVectorsLocked()
	return nil
}

// job is one document's texts to embed.
type job struct {
	slot  uint32
	d     *doc
	texts []string
}

// embedPending embeds queued documents in batches until none is left. The lock is not held while the embedder
// works; a document that changed meanwhile is queued again by the change and its stale vectors are dropped.
func (x *Index) embedPending(ctx context.Context, emb embed.Embedder) error {
	for {
		x.mu.Lock()
		if x.emb != emb || x.model.Dim == 0 {
			x.mu.Unlock()
			return nil // replaced meanwhile, or not resolved yet
		}
		if model := x.model; x.vecs.priorModel != model.ID() {
			x.mu.Unlock()
			if err := x.embedPrior(ctx, emb, model); err != nil {
				return err
			}
			continue
		}
		var jobs []job
		n := 0
		for slot := range x.pending {
			d := x.docs[slot]
			texts := make([]string, 0, 1+len(d.src.subs))
			texts = append(texts, d.src.denseText())
			for i := range d.src.subs {
				texts = append(texts, d.src.subs[i].denseText())
			}
			if n > 0 && n+len(texts) > x.opts.BatchSize {
				break
			}
			jobs = append(jobs, job{slot: slot, d: d, texts: texts})
			n += len(texts)
			delete(x.pending, slot)
		}
		model := x.model
		x.inflight += len(jobs)
		x.mu.Unlock()
		if len(jobs) == 0 {
			return nil
		}
		texts := make([]string, 0, n)
		for _, j := range jobs {
			texts = append(texts, j.texts...)
		}
		vecs, err := x.embedDocuments(ctx, emb, model, texts)
		x.mu.Lock()
		x.inflight -= len(jobs)
		if err != nil {
			for _, j := range jobs {
				if x.docs[j.slot] == j.d {
					x.pending[j.slot] = true
				}
			}
			x.mu.Unlock()
			return fmt.Errorf("embed %d documents: %w", len(jobs), err)
		}
		i := 0
		for _, j := range jobs {
			vs := vecs[i : i+len(j.texts)]
			i += len(j.texts)
			d := x.docs[j.slot]
			if d != j.d || x.emb != emb || !x.model.Compatible(model) {
				continue // replaced or removed meanwhile, or the model changed: the newer state is queued
			}
			x.freeVectorsLocked(d)
			if !isZero(vs[0]) {
				d.vec = x.vecs.add(vs[0], int(j.slot))
			}
			for k := range d.subs {
				if !isZero(vs[k+1]) {
					d.subs[k].vec = x.vecs.add(vs[k+1], -1)
				}
			}
			d.model = model.ID()
		}
		x.vecs.recentre(false)
		x.lastErr = nil
		x.notifyLocked()
		x.mu.Unlock()
	}
}

// embedDocuments embeds texts as documents and checks that every vector is in model's space. When the provider
// answers in another one, the model is forgotten, so that Run learns it again (and recomputes every vector).
func (x *Index) embedDocuments(ctx context.Context, emb embed.Embedder, model embed.ModelInfo, texts []string) ([][]float32, error) {
	start := time.Now()
	vecs, err := emb.Embed(ctx, texts, embed.KindDocument)
	x.met.embedSeconds.Observe(time.Since(start).Seconds())
	for _, v := range vecs {
		if err == nil && len(v) != model.Dim {
			err = fmt.Errorf("%w: got %d, want %d", embed.ErrDimension, len(v), model.Dim)
		}
	}
	if errors.Is(err, embed.ErrDimension) { // the provider's own check, or ours
		x.mu.Lock()
		if x.emb == emb {
			x.model = embed.ModelInfo{}
		}
		x.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	return vecs, nil
}

// embedPrior embeds the reference texts with model and makes their mean the centring prior (reference.go).
func (x *Index) embedPrior(ctx context.Context, emb embed.Embedder, model embed.ModelInfo) error {
	sum := make([]float64, model.Dim)
	n := 0
	for texts := range slices.Chunk(referenceTexts, x.opts.BatchSize) {
		vecs, err := x.embedDocuments(ctx, emb, model, texts)
		if err != nil {
			return fmt.Errorf("embed reference texts: %w", err)
		}
		for _, v := range vecs {
			if isZero(v) {
				continue
			}
			for i, f := range v {
				sum[i] += float64(f)
			}
			n++
		}
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.emb != emb || x.model.ID() != model.ID() {
		return nil // replaced meanwhile: the next round starts over
	}
	var mean []float32 // none when the model knows no word of the reference texts
	if n > 0 {
		mean = make([]float32, model.Dim)
		for i, s := range sum {
			mean[i] = float32(s / float64(n))
		}
	}
	x.vecs.setPrior(mean, model.ID())
	x.vecs.recentre(true)
	return nil
}

// isZero reports a vector with no information (an embedder's answer for a text with no known word).
func isZero(v []float32) bool {
	for _, f := range v {
		if f != 0 {
			return false
		}
	}
	return true
}

func (x *Index) failed(err error) {
	x.mu.Lock()
	x.lastErr = err
	x.failures++
	x.notifyLocked()
	x.mu.Unlock()
	x.met.embedErrors.Inc()
}

func (x *Index) notifyLocked() {
	close(x.progress)
	x.progress = make(chan struct{})
}

// Flush waits until every document has its vectors (or the embedder failed on the last attempt, whose error it
// returns), or ctx ends. Tests, the evaluation and a reindex caller use it; serving never waits.
func (x *Index) Flush(ctx context.Context) error {
	for {
		x.mu.RLock()
		busy := x.emb != nil && (len(x.pending) > 0 || x.inflight > 0)
		ch, failures := x.progress, x.failures
		x.mu.RUnlock()
		if !busy {
			x.settleCentre()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("flush search index: %w", ctx.Err())
		case <-ch:
		}
		x.mu.RLock()
		failedNow := x.failures != failures
		err := x.lastErr
		x.mu.RUnlock()
		if failedNow {
			return fmt.Errorf("flush search index: %w", err)
		}
	}
}

// Reindex rebuilds the index from src and queues every document for new vectors, re-resolving the embedder's
// identity first. It returns at once; Run does the embedding (Flush waits for it). Until a document's new vectors
// land it keeps its old ones when the model is unchanged.
func (x *Index) Reindex(ctx context.Context, src Source) (Status, error) {
	x.mu.Lock()
	if x.emb != nil {
		if info := x.emb.Info(); info.Dim == 0 || !x.model.Compatible(info) {
			x.model = embed.ModelInfo{} // Run resolves it, and recomputes every vector if it changed
		}
	}
	x.loadLocked(src, true)
	x.mu.Unlock()
	x.met.reindexes.Inc()
	x.log.Info("reindex requested")
	return x.Status(), ctx.Err()
}
