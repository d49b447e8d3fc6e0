package search_test

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/search"
	"github.com/mcpgw/mcpgw/registry/search/embed"
	"github.com/mcpgw/mcpgw/registry/view"
)

var rev atomic.Int64

// stamp normalises o and gives it the next rev, as the registrar would.
func stamp[T catalog.Object](t testing.TB, o T) T {
	t.Helper()
	o.Normalize()
	if err := o.Validate(); err != nil {
		t.Fatalf("%s %s: %v", o.Kind(), o.Key(), err)
	}
	o.Metadata().Rev = rev.Add(1)
	return o
}

func server(t testing.TB, name, title, desc string, tools ...string) *catalog.Server {
	v := catalog.ServerVersion{Version: "1.0.0", URL: "https://mcp.example.com/" + name}
	for _, tool := range tools {
		n, d, _ := strings.Cut(tool, ":")
		v.Tools = append(v.Tools, catalog.Tool{Name: n, Description: d})
	}
	return stamp(t, &catalog.Server{Name: name, Governance: catalog.Governance{Title: title, Description: desc},
		Versions: []catalog.ServerVersion{v}})
}

func agent(t testing.TB, name, desc string, skills ...string) *catalog.Agent {
	card := catalog.AgentCard{Name: name, Description: desc, URL: "https://agents.example.com/" + name, Version: "1"}
	for _, s := range skills {
		id, d, _ := strings.Cut(s, ":")
		card.Skills = append(card.Skills, catalog.AgentSkill{ID: id, Name: id, Description: d})
	}
	return stamp(t, &catalog.Agent{Name: name, Governance: catalog.Governance{Description: desc}, Card: card})
}

func skill(t testing.TB, name, desc, body string) *catalog.Skill {
	_, slug, _ := strings.Cut(name, "/")
	return stamp(t, &catalog.Skill{Name: name, Governance: catalog.Governance{Description: desc},
		Content: "---\nname: " + slug + "\ndescription: " + desc + "\n---\n" + body + "\n"})
}

// newIndex returns an index with the builtin embedder whose Run loop lives as long as the test.
func newIndex(t testing.TB, opts search.Options) *search.Index {
	t.Helper()
	if opts.Embedder == nil {
		emb, err := embed.NewBuiltin()
		if err != nil {
			t.Fatal(err)
		}
		opts.Embedder = emb
	}
	x, err := search.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() { defer close(done); _ = x.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return x
}

func flush(t testing.TB, x *search.Index) {
	t.Helper()
	if err := x.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func names(r search.Results) []string {
	out := make([]string, len(r.Results))
	for i, x := range r.Results {
		out[i] = string(x.Type) + " " + x.Name
	}
	return out
}

func find(t testing.TB, x *search.Index, q string, v search.Visibility) search.Results {
	t.Helper()
	if v == nil {
		v = search.Everything{}
	}
	r, err := x.Search(t.Context(), search.Query{Text: q, Explain: true}, v)
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	return r
}

// fixture is a small catalog in three domains.
func fixture(t testing.TB) search.Objects {
	return search.Objects{
		server(t, "platform/hermes", "Hermes", "Administration for the company event bus: topics, consumer lag and dead-letter inspection.",
			"list_topics:List topics with partition counts.", "replay_messages:Replay messages from an offset or from the dead-letter topic.",
			"get_consumer_lag:Return lag per partition for a consumer group."),
		server(t, "platform/secrets-vault", "Secrets Vault", "Stores and rotates credentials, API keys and database passwords.",
			"rotate_secret:Rotate a stored secret and notify its owners.", "read_secret:Read a secret the caller may see."),
		server(t, "clinic/patient-scheduling", "Patient Scheduling", "Books, moves and cancels outpatient appointments.",
			"book_appointment:Reserve a slot for a patient.", "cancel_appointment:Cancel an appointment."),
		agent(t, "clinic/scheduling-concierge", "Conversational agent that helps patients find and book clinic appointments.",
			"find-slot:Searches calendars for the soonest visit.", "book-visit:Books the chosen slot."),
		skill(t, "platform/incident-postmortem", "Write a blameless postmortem after an incident.",
			"# Postmortem\n1. Timeline.\n2. Impact.\n3. Contributing factors, never blame."),
	}
}

func TestSearchRanks(t *testing.T) {
	// Invariant: the best asset comes first for a name, a tool's words, a typo, a skill's purpose and an agent's
	// purpose; matched tools are ranked, the best first.
	x := newIndex(t, search.Options{})
	x.Load(fixture(t))
	flush(t, x)
	for _, c := range []struct{ q, want, tool string }{
		{"platform/hermes", "server platform/hermes", ""},
		{"hermes", "server platform/hermes", ""},
		{"Secrets Vault", "server platform/secrets-vault", ""},
		{"replay messages from the dead-letter topic", "server platform/hermes", "replay_messages"},
		{"rotate the database password", "server platform/secrets-vault", "rotate_secret"},
		{"apointment scheduling", "server clinic/patient-scheduling", ""},
		{"blameless postmortem", "skill platform/incident-postmortem", ""},
		{"agent that books clinic appointments", "agent clinic/scheduling-concierge", ""},
	} {
		r := find(t, x, c.q, nil)
		if len(r.Results) == 0 || names(r)[0] != c.want {
			t.Errorf("q=%q: %v, want %s first", c.q, names(r), c.want)
			continue
		}
		if c.tool != "" {
			if m := r.Results[0].MatchedTools; len(m) == 0 || m[0].Name != c.tool {
				t.Errorf("q=%q: matched tools %v, want %s first", c.q, m, c.tool)
			}
		}
		if r.Results[0].Score <= 0 || r.Results[0].Score > 1 {
			t.Errorf("q=%q: score %v outside (0, 1]", c.q, r.Results[0].Score)
		}
	}
}

func TestSearchNoAnswer(t *testing.T) {
	// Invariant: a query about nothing in the catalog returns no results rather than the least bad ones.
	x := newIndex(t, search.Options{})
	x.Load(fixture(t))
	flush(t, x)
	for _, q := range []string{"live football scores and betting odds", "zzqx vvbn", "photorealistic kitchen renders"} {
		if r := find(t, x, q, nil); len(r.Results) != 0 {
			t.Errorf("q=%q returned %v", q, names(r))
		}
	}
}

func TestSearchFilters(t *testing.T) {
	// Invariant: type, status and visibility filters apply before ranking: a filtered-out asset never appears, and
	// the caller's own best assets fill the page.
	x := newIndex(t, search.Options{})
	objs := fixture(t)
	dep := server(t, "platform/old-bus", "Old bus", "Deprecated event bus administration: topics and dead-letter replay.",
		"replay_messages:Replay messages.")
	dep.Status = catalog.StatusDeprecated
	x.Load(append(objs, dep))
	flush(t, x)

	r, err := x.Search(t.Context(), search.Query{Text: "event bus dead-letter replay", Types: []search.Type{search.TypeAgent}},
		search.Everything{})
	if err != nil || len(r.Results) != 0 {
		t.Fatalf("agents only: %v %v", names(r), err)
	}
	if r := find(t, x, "event bus dead-letter replay", nil); slices.Contains(names(r), "server platform/old-bus") {
		t.Fatalf("deprecated server returned by default: %v", names(r))
	}
	r, _ = x.Search(t.Context(), search.Query{Text: "event bus dead-letter replay",
		Statuses: []catalog.Status{catalog.StatusDeprecated}}, search.Everything{})
	if got := names(r); !slices.Equal(got, []string{"server platform/old-bus"}) {
		t.Fatalf("deprecated only: %v", got)
	}
	// A caller who sees only the vault: hermes never shows, and the vault is found for its own words.
	v := keysVisible{catalog.KindServer: {"platform/secrets-vault"}}
	if r := find(t, x, "hermes event bus", v); len(r.Results) != 0 {
		t.Fatalf("restricted caller sees %v", names(r))
	}
	if r := find(t, x, "rotate credentials", v); !slices.Equal(names(r), []string{"server platform/secrets-vault"}) {
		t.Fatalf("restricted caller: %v", names(r))
	}
}

// keysVisible sees the listed keys per kind and nothing else; the vault's read_secret tool and the ledger's
// launch_zeppelin are not callable.
type keysVisible map[catalog.Kind][]string

func (k keysVisible) Sees(kind catalog.Kind, key string) bool { return slices.Contains(k[kind], key) }
func (k keysVisible) Keys(kind catalog.Kind) []string {
	if ks := k[kind]; ks != nil {
		return ks
	}
	return []string{}
}
func (keysVisible) Tools(server string) func(string) bool {
	return func(tool string) bool { return tool != "read_secret" && tool != "launch_zeppelin" }
}

func TestSearchMatchedToolsCallable(t *testing.T) {
	// Invariant: matched_tools never names a tool the caller may not call.
	x := newIndex(t, search.Options{})
	x.Load(fixture(t))
	flush(t, x)
	v := keysVisible{catalog.KindServer: {"platform/secrets-vault"}}
	r := find(t, x, "read or rotate a secret", v)
	if len(r.Results) != 1 {
		t.Fatalf("results %v", names(r))
	}
	for _, m := range r.Results[0].MatchedTools {
		if m.Name == "read_secret" {
			t.Fatalf("matched_tools lists read_secret: %v", r.Results[0].MatchedTools)
		}
	}
	if r := find(t, x, "read or rotate a secret", nil); len(r.Results[0].MatchedTools) < 2 {
		t.Fatalf("unrestricted caller: %v", r.Results[0].MatchedTools)
	}
}

func TestSearchRanksOnlyCallableTools(t *testing.T) {
	// Invariant: a server is ranked for a caller only by the tools it may call. A tool it may not call neither finds
	// the server (lexically, or by the tool's vector) nor changes its score, so a search cannot reveal the tool.
	x := newIndex(t, search.Options{})
	objs := fixture(t)
	objs = append(objs, server(t, "corp/ledger", "Ledger", "Account balances and statements.",
		"get_balance:Balance of an account.", "launch_zeppelin:Launch the zeppelin fleet over the harbour."))
	x.Load(objs)
	flush(t, x)
	ledger := keysVisible{catalog.KindServer: {"corp/ledger", "platform/secrets-vault"}}
	for _, q := range []string{"zeppelin fleet harbour", "launch zeppelins", "launch_zeppelin"} {
		if r := find(t, x, q, ledger); slices.Contains(names(r), "server corp/ledger") {
			t.Errorf("%q: a caller who may not call launch_zeppelin finds corp/ledger: %+v", q, r.Results)
		}
		if r := find(t, x, q, nil); !slices.Contains(names(r), "server corp/ledger") {
			t.Errorf("%q: an unrestricted caller does not find corp/ledger: %v", q, names(r))
		}
	}
	// Words of callable tools still count.
	if r := find(t, x, "balance of an account", ledger); len(r.Results) == 0 || r.Results[0].Name != "corp/ledger" {
		t.Errorf("balance of an account: %v", names(r))
	}
}

func TestIncremental(t *testing.T) {
	// Invariant: the index follows the view's events: an added asset is found at once by its words (before its
	// vectors exist) and by meaning after Run embeds it; a changed one is found by its new words only; a removed one
	// is not found; Status counts documents, vectors and missing vectors.
	x := newIndex(t, search.Options{})
	x.Load(fixture(t))
	flush(t, x)
	n := len(fixture(t))
	if st := x.Status(); st.Documents != n || st.Vectors != n || st.Missing != 0 || st.DenseSearch != "exact" {
		t.Fatalf("status %+v", st)
	}
	kb := server(t, "corp/wiki", "Wiki", "Search the company knowledge base articles.", "search_articles:Full-text search.")
	x.Apply([]view.Event{{Kind: catalog.KindServer, Key: kb.Name, New: kb}})
	if r := find(t, x, "knowledge base articles", nil); len(r.Results) == 0 || r.Results[0].Name != "corp/wiki" {
		t.Fatalf("added server not found lexically: %v", names(r))
	}
	flush(t, x)
	if st := x.Status(); st.Documents != n+1 || st.Missing != 0 {
		t.Fatalf("status after add %+v", st)
	}
	kb2 := server(t, "corp/wiki", "Wiki", "Team handbook and onboarding guides.", "read_guide:Read a guide.")
	x.Apply([]view.Event{{Kind: catalog.KindServer, Key: kb.Name, Old: kb, New: kb2}})
	if r := find(t, x, "knowledge base articles", nil); slices.Contains(names(r), "server corp/wiki") {
		t.Fatalf("old words still match: %v", names(r))
	}
	if r := find(t, x, "onboarding handbook", nil); len(r.Results) == 0 || r.Results[0].Name != "corp/wiki" {
		t.Fatalf("new words do not match: %v", names(r))
	}
	x.Apply([]view.Event{{Kind: catalog.KindServer, Key: kb.Name, Old: kb2}})
	if r := find(t, x, "onboarding handbook", nil); slices.Contains(names(r), "server corp/wiki") {
		t.Fatalf("removed server found: %v", names(r))
	}
	flush(t, x)
	if st := x.Status(); st.Documents != n || st.Vectors != n {
		t.Fatalf("status after remove %+v", st)
	}
}

func TestEntities(t *testing.T) {
	// Invariant: an entity is found by its type's searchable fields, and only those; changing the type's searchable
	// list re-indexes its entities.
	x := newIndex(t, search.Options{})
	typ := stamp(t, &catalog.EntityType{Name: "dataset", Searchable: []string{"owner"},
		Schema: json.RawMessage(`{"type":"object","properties":{"owner":{"type":"string"},"secret":{"type":"string"}}}`)})
	ent := stamp(t, &catalog.Entity{Type: "dataset", Name: "finance/ledger-2025", Governance: catalog.Governance{
		Description: "Monthly ledger extracts."}, Fields: json.RawMessage(`{"owner":"treasury operations","secret":"zebra"}`)})
	x.Load(search.Objects{typ, ent})
	flush(t, x)
	r := find(t, x, "treasury operations", nil)
	if len(r.Results) != 1 || r.Results[0].Type != search.TypeEntity || r.Results[0].EntityType != "dataset" {
		t.Fatalf("entity by searchable field: %+v", r.Results)
	}
	if r := find(t, x, "zebra", nil); len(r.Results) != 0 {
		t.Fatalf("found by a field that is not searchable: %v", names(r))
	}
	typ2 := stamp(t, &catalog.EntityType{Name: "dataset", Searchable: []string{"owner", "secret"}, Schema: typ.Schema})
	x.Apply([]view.Event{{Kind: catalog.KindEntityType, Key: "dataset", Old: typ, New: typ2}})
	if r := find(t, x, "zebra", nil); len(r.Results) != 1 {
		t.Fatalf("after the type made secret searchable: %v", names(r))
	}
}

func TestQueryValidation(t *testing.T) {
	// Invariant: a bad query is a *QueryError naming the field (errors.Is ErrQuery), never a search.
	x := newIndex(t, search.Options{})
	for _, c := range []struct {
		q     search.Query
		field string
	}{
		{search.Query{Text: "  "}, "q"},
		{search.Query{Text: strings.Repeat("a", search.MaxQueryBytes+1)}, "q"},
		{search.Query{Text: "\xff"}, "q"},
		{search.Query{Text: "x", Limit: -1}, "limit"},
		{search.Query{Text: "x", Limit: search.MaxLimit + 1}, "limit"},
		{search.Query{Text: "x", Types: []search.Type{"robot"}}, "types"},
		{search.Query{Text: "x", Statuses: []catalog.Status{"archived"}}, "status"},
	} {
		_, err := x.Search(t.Context(), c.q, search.Everything{})
		var qe *search.QueryError
		if !errors.As(err, &qe) || !errors.Is(err, search.ErrQuery) || qe.Field != c.field {
			t.Errorf("%+v: error %v, want a QueryError on %s", c.q, err, c.field)
		}
	}
}

func TestOptionsValidate(t *testing.T) {
	// Invariant: out-of-range tuning is refused with ErrOptions; DefaultTuning is accepted.
	d := search.DefaultTuning()
	if _, err := search.New(search.Options{Tuning: &d}); err != nil {
		t.Fatalf("default tuning refused: %v", err)
	}
	for _, mut := range []func(*search.Tuning){
		func(t *search.Tuning) { t.RRFK = -1 },
		func(t *search.Tuning) { t.LexicalFloor = 2 },
		func(t *search.Tuning) { t.B = -0.1 },
		func(t *search.Tuning) { t.DenseDepth = -5 },
		func(t *search.Tuning) { t.FieldWeights[0] = -1 },
	} {
		bad := search.DefaultTuning()
		mut(&bad)
		if _, err := search.New(search.Options{Tuning: &bad}); !errors.Is(err, search.ErrOptions) {
			t.Errorf("tuning %+v: error %v, want ErrOptions", bad, err)
		}
	}
}

// hashEmbeddings is an OpenAI-compatible embeddings server (the far side of a real provider): each word of a
// text adds a signed hash vector, so texts sharing words are close. dim can change while it runs.
type hashEmbeddings struct {
	dim   atomic.Int64
	calls atomic.Int64
	fail  atomic.Bool
}

func (h *hashEmbeddings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.calls.Add(1)
	if h.fail.Load() {
		http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusBadRequest)
		return
	}
	var req struct {
		Input []string `json:"input"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	dim := int(h.dim.Load())
	type item struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	var out struct {
		Data []item `json:"data"`
	}
	for i, text := range req.Input {
		v := make([]float32, dim)
		for _, w := range strings.Fields(strings.ToLower(text)) {
			f := fnv.New64a()
			f.Write([]byte(strings.Trim(w, ".,:")))
			s := f.Sum64()
			v[s%uint64(dim)] += 1
			v[(s>>20)%uint64(dim)] -= 0.5
		}
		var n float64
		for _, x := range v {
			n += float64(x * x)
		}
		for j := range v {
			v[j] /= float32(math.Sqrt(n) + 1e-9)
		}
		out.Data = append(out.Data, item{Index: i, Embedding: v})
	}
	_ = json.NewEncoder(w).Encode(out)
}

func TestEmbedderChange(t *testing.T) {
	// Invariant: vectors record the model they come from; replacing the embedder with another model drops them,
	// search answers lexically until Run has embedded everything again with the new model, and Status names the
	// new model with no missing documents afterwards.
	h := &hashEmbeddings{}
	h.dim.Store(64)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	remote, err := embed.New(t.Context(), embed.Config{Provider: embed.ProviderOpenAI, BaseURL: srv.URL, Model: "hash-64",
		MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	x := newIndex(t, search.Options{Embedder: remote})
	x.Load(fixture(t))
	flush(t, x)
	st := x.Status()
	if !strings.HasPrefix(st.Model, "openai/hash-64/64") || st.Missing != 0 || st.Vectors != len(fixture(t)) {
		t.Fatalf("remote status %+v", st)
	}
	if r := find(t, x, "replay dead-letter messages", nil); r.Mode != "hybrid" || len(r.Results) == 0 {
		t.Fatalf("remote search: %s %v", r.Mode, names(r))
	}

	builtin, err := embed.NewBuiltin()
	if err != nil {
		t.Fatal(err)
	}
	x.SetEmbedder(builtin)
	flush(t, x)
	st = x.Status()
	if !strings.HasPrefix(st.Model, "builtin/") || st.Missing != 0 || st.Vectors != len(fixture(t)) {
		t.Fatalf("after the model change %+v", st)
	}
	if r := find(t, x, "replay dead-letter messages", nil); r.Mode != "hybrid" || names(r)[0] != "server platform/hermes" {
		t.Fatalf("after the model change: %s %v", r.Mode, names(r))
	}

	// Without an embedder search is lexical and nothing is missing.
	x.SetEmbedder(nil)
	if r := find(t, x, "replay dead-letter messages", nil); r.Mode != "lexical" || names(r)[0] != "server platform/hermes" {
		t.Fatalf("lexical only: %s %v", r.Mode, names(r))
	}
}

func TestEmbedderChangesDimension(t *testing.T) {
	// Invariant: a remote model that starts answering in another dimension is learnt again: every vector is
	// recomputed in the new space, and nothing stays missing.
	h := &hashEmbeddings{}
	h.dim.Store(64)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	remote, err := embed.New(t.Context(), embed.Config{Provider: embed.ProviderOpenAI, BaseURL: srv.URL, Model: "hash",
		MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	x := newIndex(t, search.Options{Embedder: remote})
	fx := fixture(t)
	x.Load(fx)
	flush(t, x)
	h.dim.Store(32)
	if _, err := x.Reindex(t.Context(), fx); err != nil {
		t.Fatal(err)
	}
	for range 20 { // the first attempt meets the new dimension and fails; Run retries after a second
		if x.Flush(t.Context()) == nil {
			break
		}
	}
	st := x.Status()
	if !strings.HasPrefix(st.Model, "openai/hash/32") || st.Missing != 0 || st.Vectors != len(fx) {
		t.Fatalf("after the provider changed dimension: %+v", st)
	}
}

func TestEmbedderFailure(t *testing.T) {
	// Invariant: when the embedder fails, documents stay findable lexically, Status lists them as missing with the
	// error, and Flush reports the failure instead of waiting forever.
	h := &hashEmbeddings{}
	h.dim.Store(32)
	h.fail.Store(true)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	remote, err := embed.New(t.Context(), embed.Config{Provider: embed.ProviderOpenAI, BaseURL: srv.URL, Model: "hash",
		Dimensions: 32, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	x := newIndex(t, search.Options{Embedder: remote})
	x.Load(fixture(t))
	if err := x.Flush(t.Context()); err == nil {
		t.Fatal("flush succeeded although the embedder fails")
	}
	st := x.Status()
	if st.Missing != len(fixture(t)) || len(st.MissingAssets) != st.Missing || st.LastError == "" {
		t.Fatalf("status %+v", st)
	}
	if r := find(t, x, "platform/hermes", nil); r.Mode != "lexical" || names(r)[0] != "server platform/hermes" {
		t.Fatalf("lexical fallback: %s %v", r.Mode, names(r))
	}
}

func TestConcurrentSearchAndUpdates(t *testing.T) {
	// Invariant: searches running while the catalog changes never fail or race (run with -race), and afterwards
	// the index holds exactly the final catalog.
	x := newIndex(t, search.Options{})
	x.Load(fixture(t))
	flush(t, x)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 4)
	for range 4 {
		go func() {
			for ctx.Err() == nil {
				if _, err := x.Search(ctx, search.Query{Text: "event bus replay"}, search.Everything{}); err != nil && ctx.Err() == nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for i := range 200 {
		s := server(t, "load/s", "S", "Server number "+strings.Repeat("x", i%7)+" for the event bus.", "t:tool")
		x.Apply([]view.Event{{Kind: catalog.KindServer, Key: s.Name, New: s}})
		if i%3 == 0 {
			x.Apply([]view.Event{{Kind: catalog.KindServer, Key: s.Name, Old: s}})
		}
	}
	cancel()
	for range 4 {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	flush(t, x)
	if st := x.Status(); st.Documents != len(fixture(t))+1 || st.Missing != 0 {
		t.Fatalf("status %+v", st)
	}
}

func FuzzSearch(f *testing.F) {
	for _, s := range []string{"platform/hermes", "replay dead-letter", "apointment", "\xff\xfe", "CrashLoopBackOff",
		strings.Repeat("a ", 100), "k8s", "ÀÉ/ÎÕ-ü"} {
		f.Add(s, 5)
	}
	x := newIndex(f, search.Options{})
	x.Load(fixture(f))
	flush(f, x)
	f.Fuzz(func(t *testing.T, q string, limit int) {
		// Invariant: any query text never panics: it is answered (at most limit results, scores in (0, 1],
		// matched tools at most MaxMatched) or refused with a *QueryError.
		r, err := x.Search(context.Background(), search.Query{Text: q, Limit: limit}, search.Everything{})
		if err != nil {
			var qe *search.QueryError
			if !errors.As(err, &qe) {
				t.Fatalf("q=%q limit=%d: untyped error %v", q, limit, err)
			}
			return
		}
		if len(r.Results) > max(limit, search.DefaultLimit) {
			t.Fatalf("q=%q: %d results for limit %d", q, len(r.Results), limit)
		}
		for _, res := range r.Results {
			if !(res.Score > 0 && res.Score <= 1) || len(res.MatchedTools) > search.MaxMatched {
				t.Fatalf("q=%q: bad result %+v", q, res)
			}
		}
	})
}

// setVisible is a comparable (pointer) visible set, like the registry's access sets, so the index caches its bitmap.
type setVisible struct{ servers []string }

func (s *setVisible) Sees(k catalog.Kind, key string) bool {
	return k == catalog.KindServer && slices.Contains(s.servers, key)
}
func (s *setVisible) Keys(k catalog.Kind) []string {
	if k == catalog.KindServer {
		return s.servers
	}
	return []string{}
}
func (*setVisible) Tools(string) func(string) bool { return nil }

func TestVisibilityCache(t *testing.T) {
	// Invariant: a cached visible-set bitmap never outlives the slots it was built for: an asset the set names
	// that is indexed (or removed) after the first query is found (or not found) by the next one.
	x := newIndex(t, search.Options{})
	x.Load(fixture(t))
	flush(t, x)
	v := &setVisible{servers: []string{"platform/hermes", "corp/wiki"}}
	if r := find(t, x, "knowledge base articles", v); len(r.Results) != 0 {
		t.Fatalf("before the wiki exists: %v", names(r))
	}
	if r := find(t, x, "hermes event bus", v); len(r.Results) == 0 {
		t.Fatal("visible hermes not found")
	}
	kb := server(t, "corp/wiki", "Wiki", "Search the company knowledge base articles.", "search_articles:Full-text search.")
	x.Apply([]view.Event{{Kind: catalog.KindServer, Key: kb.Name, New: kb}})
	if r := find(t, x, "knowledge base articles", v); len(r.Results) == 0 || r.Results[0].Name != "corp/wiki" {
		t.Fatalf("after the wiki was added: %v", names(r))
	}
	x.Apply([]view.Event{{Kind: catalog.KindServer, Key: "platform/hermes", Old: fixture(t)[0]}})
	if r := find(t, x, "hermes event bus", v); slices.Contains(names(r), "server platform/hermes") {
		t.Fatalf("after hermes was removed: %v", names(r))
	}
	if r := find(t, x, "rotate credentials", v); len(r.Results) != 0 {
		t.Fatalf("invisible vault found: %v", names(r))
	}
}
