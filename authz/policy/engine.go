package policy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/cache"
	"github.com/open-policy-agent/opa/v1/topdown/lineage"
)

// Options configure an Engine.
type Options struct {
	// Dir is an optional override directory of .rego files (package
	// mcpgw.authz) laid over the embedded default policy; Run reloads it
	// when it changes.
	Dir string
	// Logger receives reload and failure logs; nil discards them.
	Logger *slog.Logger
	// Debounce is how long Run waits for the directory to settle before
	// reloading; 0 means 250ms.
	Debounce time.Duration
}

// Engine evaluates the mcpgw policy. It is safe for concurrent use; the
// query methods never block on SetData or on a reload.
type Engine struct {
	log      *slog.Logger
	dir      string
	debounce time.Duration
	// values caches compiled glob patterns across evaluations. Rego's
	// process-wide fallback cache holds only 100 patterns.
	values cache.InterQueryValueCache

	// mu serializes writers (SetData, reloads); readers only Load state.
	mu    sync.Mutex
	state atomic.Pointer[state]
}

// state is one published (policy, data) pair with its prepared queries.
type state struct {
	generation uint64
	policy     *compiledPolicy
	data       ast.Object
	decision   rego.PreparedEvalQuery
	visible    rego.PreparedEvalQuery
	manage     rego.PreparedEvalQuery
	scopes     rego.PreparedEvalQuery
	why        rego.PreparedEvalQuery
	// memo caches decisions when the policy allows it (nil otherwise); see memo.go.
	memo *memo
}

// New loads and compiles the policy (the embedded default overlaid with
// opts.Dir) with empty data, under which only admins are allowed anything.
// Call SetData with the registry's data before serving.
func New(ctx context.Context, opts Options) (*Engine, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	debounce := opts.Debounce
	if debounce <= 0 {
		debounce = 250 * time.Millisecond
	}
	entries := 10_000
	e := &Engine{
		log:      log.With("component", "authz/policy"),
		dir:      opts.Dir,
		debounce: debounce,
		values: cache.NewInterQueryValueCache(ctx, &cache.Config{
			InterQueryBuiltinValueCache: cache.InterQueryBuiltinValueCacheConfig{MaxNumEntries: &entries},
		}),
	}
	srcs, err := readSources(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	p, err := compile(srcs)
	if err != nil {
		return nil, fmt.Errorf("load policy: %w", err)
	}
	data, err := Data{}.document()
	if err != nil {
		return nil, fmt.Errorf("load default data: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.publish(ctx, p, data); err != nil {
		return nil, err
	}
	e.log.Info("policy loaded", "files", p.files, "dir", opts.Dir)
	return e, nil
}

// publish prepares every entry point of p over data and swaps the result in.
// Only the queries are compiled here (the modules already are), so a data
// change costs the conversion plus five query compilations. e.mu must be
// held.
func (e *Engine) publish(ctx context.Context, p *compiledPolicy, data ast.Object) error {
	// The store is private to this state and never written, so evaluations
	// on it never wait for a writer.
	store := inmem.NewFromASTObject(data)
	prepare := func(q string) (rego.PreparedEvalQuery, error) {
		// Strict builtin errors: a builtin that fails (in a deny rule of an
		// override, say) makes the evaluation fail, and the caller fail
		// closed, instead of quietly leaving the rule undefined.
		pq, err := rego.New(
			rego.Query(q),
			rego.Compiler(p.compiler),
			rego.Store(store),
			rego.StrictBuiltinErrors(true),
		).PrepareForEval(ctx)
		if err != nil {
			return pq, fmt.Errorf("prepare %s: %w", q, err)
		}
		return pq, nil
	}
	next := &state{policy: p, data: data}
	if p.memoizable {
		next.memo = &memo{}
	}
	var err error
	for q, dst := range map[string]*rego.PreparedEvalQuery{
		queryDecision: &next.decision,
		queryVisible:  &next.visible,
		queryManage:   &next.manage,
		queryScopes:   &next.scopes,
		queryWhy:      &next.why,
	} {
		if *dst, err = prepare(q); err != nil {
			return err
		}
	}
	if err := e.smoke(ctx, next); err != nil {
		return err
	}
	if prev := e.state.Load(); prev != nil {
		next.generation = prev.generation + 1
	}
	e.state.Store(next)
	return nil
}

// smoke evaluates every entry point of a state once before it is published,
// so that a policy that compiles but cannot answer (two definitions of
// decision that conflict, a result of the wrong shape) is rejected like a
// syntax error instead of failing every request.
func (e *Engine) smoke(ctx context.Context, s *state) error {
	p := Principal{Issuer: "mcpgw:smoke", Subject: "smoke", Groups: []string{"smoke"}}
	in := Input{Principal: p, Target: Target{Kind: KindServer, Server: "mcpgw/smoke"}, MCP: MCP{Method: "tools/call", Name: "smoke", HTTPMethod: "POST"}}
	asset := []Asset{{Kind: KindServer, Name: "mcpgw/smoke", Tools: []string{"smoke"}}}
	check := func(entry string, pq rego.PreparedEvalQuery, input ast.Value, decode func(ast.Value) error) error {
		v, err := e.eval(ctx, pq, entry, input)
		if err == nil {
			err = decode(v)
		}
		if err != nil {
			return fmt.Errorf("check policy: %w: %w", ErrInvalidPolicy, err)
		}
		return nil
	}
	decisionInput, err := in.value()
	if err != nil {
		return err
	}
	batch, err := NewAssetBatch(asset)
	if err != nil {
		return err
	}
	assetsInput := batch.value(p)
	manageInput, err := manageValue(p, ActionCreate, KindServer, "mcpgw/smoke")
	if err != nil {
		return err
	}
	return errors.Join(
		check("decision", s.decision, decisionInput, func(v ast.Value) error { _, err := decodeDecision(v, "decision"); return err }),
		check("visible", s.visible, assetsInput, func(v ast.Value) error { _, err := decodeVisible(v, asset); return err }),
		check("manage", s.manage, manageInput, func(v ast.Value) error { _, err := decodeDecision(v, "manage"); return err }),
		check("effective_scopes", s.scopes, principalValue(p), func(v ast.Value) error {
			r := reader{entry: "effective_scopes"}
			r.strs(v, "effective_scopes")
			return r.err
		}),
		check("why", s.why, decisionInput, func(v ast.Value) error { _, err := decodeExplanation(v); return err }),
	)
}

// SetData validates d and swaps it in atomically: evaluations already
// running finish on the previous data, later ones see the new data. On
// error (wrapping ErrInvalidData) the previous data stays.
func (e *Engine) SetData(ctx context.Context, d Data) error {
	doc, err := d.document()
	if err != nil {
		return fmt.Errorf("set data: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.publish(ctx, e.state.Load().policy, doc); err != nil {
		return fmt.Errorf("set data: %w", err)
	}
	return nil
}

// Generation increases whenever the data or the policy changes. Caches of
// answers (the registry's visibility per scope set) should key on it.
func (e *Engine) Generation() uint64 {
	return e.state.Load().generation
}

func (e *Engine) eval(ctx context.Context, pq rego.PreparedEvalQuery, entry string, input ast.Value, opts ...rego.EvalOption) (ast.Value, error) {
	opts = append(opts,
		rego.EvalParsedInput(input),
		rego.EvalGenerateJSON(keepTerm),
		rego.EvalInterQueryBuiltinValueCache(e.values),
	)
	rs, err := pq.Eval(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("evaluate %s: %w", entry, err)
	}
	return single(rs, entry)
}

// Decide evaluates data.mcpgw.authz.decision for one gateway call. A
// denial is a Decision with Allow false; an error means the engine could
// not decide (ErrInvalidInput for a malformed Input, otherwise an engine
// failure the caller must fail closed on).
func (e *Engine) Decide(ctx context.Context, in Input) (Decision, error) {
	st := e.state.Load()
	var key string
	if st.memo != nil {
		key = memoKey(in)
		if d, ok := st.memo.get(key); ok {
			return d, nil
		}
	}
	v, err := in.value()
	if err != nil {
		return Decision{}, err
	}
	res, err := e.eval(ctx, st.decision, "decision", v)
	if err != nil {
		return Decision{}, err
	}
	d, err := decodeDecision(res, "decision")
	if err != nil {
		return Decision{}, err
	}
	if st.memo != nil {
		st.memo.put(key, d)
	}
	return d, nil
}

// Memoized reports whether the loaded policy's decisions are cached (it reads neither the call's arguments nor
// non-deterministic builtins).
func (e *Engine) Memoized() bool { return e.state.Load().memo != nil }

// EffectiveScopes returns the caller's mcpgw scopes, sorted: those of
// matching group and client mappings, token scopes naming a defined scope,
// and the admin scope for admin groups. Visibility depends on nothing else,
// so the sorted list (with Generation) keys a visibility cache, and
// Principal{Scopes: scopes} sees exactly what the caller sees.
func (e *Engine) EffectiveScopes(ctx context.Context, p Principal) ([]string, error) {
	res, err := e.eval(ctx, e.state.Load().scopes, "effective_scopes", principalValue(p))
	if err != nil {
		return nil, err
	}
	r := reader{entry: "effective_scopes"}
	scopes := r.strs(res, "effective_scopes")
	if r.err != nil {
		return nil, r.err
	}
	slices.Sort(scopes)
	return scopes, nil
}

// Visible evaluates data.mcpgw.authz.visible for a whole batch of assets in
// one evaluation and returns the visible ones in input order, each with the
// tools the caller may call. To evaluate the same assets for several scope
// sets, build an AssetBatch once and use VisibleIn.
func (e *Engine) Visible(ctx context.Context, p Principal, assets []Asset) ([]VisibleAsset, error) {
	b, err := NewAssetBatch(assets)
	if err != nil {
		return nil, err
	}
	return e.VisibleIn(ctx, p, b)
}

// VisibleIn is Visible over a prepared batch.
func (e *Engine) VisibleIn(ctx context.Context, p Principal, b *AssetBatch) ([]VisibleAsset, error) {
	res, err := e.eval(ctx, e.state.Load().visible, "visible", b.value(p))
	if err != nil {
		return nil, err
	}
	return decodeVisible(res, b.assets)
}

// VisibleTools returns the tools of one asset the caller may call (the
// tools/list filter inside a visible server); nil when the asset itself is
// not visible.
func (e *Engine) VisibleTools(ctx context.Context, p Principal, a Asset) ([]string, error) {
	vis, err := e.Visible(ctx, p, []Asset{a})
	if err != nil || len(vis) == 0 {
		return nil, err
	}
	return vis[0].Tools, nil
}

// CanManage evaluates data.mcpgw.authz.manage: whether p may create,
// update or delete the entry of kind named name (catalog kinds by publisher
// namespace; scopes, mappings and other kinds admin-only).
func (e *Engine) CanManage(ctx context.Context, p Principal, action Action, kind, name string) (Decision, error) {
	v, err := manageValue(p, action, kind, name)
	if err != nil {
		return Decision{}, err
	}
	res, err := e.eval(ctx, e.state.Load().manage, "manage", v)
	if err != nil {
		return Decision{}, err
	}
	return decodeDecision(res, "manage")
}

// Explain evaluates data.mcpgw.authz.why for the call (the decision itself,
// where each scope comes from, and for each grant the checks that passed and
// failed) and adds OPA's trace of the failed expressions. It traces, so it is
// slower than Decide: use it for people, not for traffic.
func (e *Engine) Explain(ctx context.Context, in Input) (Explanation, error) {
	v, err := in.value()
	if err != nil {
		return Explanation{}, err
	}
	s := e.state.Load()
	res, err := e.eval(ctx, s.why, "why", v)
	if err != nil {
		return Explanation{}, err
	}
	ex, err := decodeExplanation(res)
	if err != nil {
		return Explanation{}, err
	}
	tracer := topdown.NewBufferTracer()
	if _, err := e.eval(ctx, s.decision, "decision", v, rego.EvalQueryTracer(tracer)); err != nil {
		return Explanation{}, err
	}
	var buf bytes.Buffer
	topdown.PrettyTraceWithLocation(&buf, lineage.Fails(*tracer))
	ex.Trace = strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if n := len(ex.Trace); n > maxTraceLines {
		ex.Trace = append(ex.Trace[:maxTraceLines], fmt.Sprintf("... %d more lines", n-maxTraceLines))
	}
	return ex, nil
}

// maxTraceLines bounds Explanation.Trace: the trace grows with the number of
// scopes the denial path inspects, and the grant checks above it already say
// what failed.
const maxTraceLines = 400
