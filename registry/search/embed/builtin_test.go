package embed

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.json from the current table")

func builtin(t testing.TB) *Builtin {
	t.Helper()
	b, err := NewBuiltin()
	if err != nil {
		t.Fatalf("NewBuiltin: %v", err)
	}
	return b
}

func cosine(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func TestBuiltinInfo(t *testing.T) {
	info := builtin(t).Info()
	// Invariant: the default embedder needs no config and reports the
	// committed table's dimension and a digest-bearing model name.
	if info.Provider != ProviderBuiltin || info.Dim != builtinDim || !info.Normalized || len(info.Model) != len(builtinModelName)+1+12 {
		t.Errorf("Info = %+v", info)
	}
	e, err := New(t.Context(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if !e.Info().Compatible(info) {
		t.Errorf("New(Config{}) = %+v, want the builtin model", e.Info())
	}
}

// golden is testdata/golden.json: the first values of a few vectors.
type golden struct {
	Model   string               `json:"model"`
	Vectors map[string][]float32 `json:"vectors"`
}

const goldenPrefix = 8

func TestBuiltinGoldenVectors(t *testing.T) {
	b := builtin(t)
	texts := []string{
		"Create a Jira issue for the failing deployment",
		"send a Slack message to the on-call channel",
		"look up a patient's allergies",
	}
	got := golden{Model: b.Info().Model, Vectors: map[string][]float32{}}
	vecs, err := b.Embed(t.Context(), texts, KindDocument)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range texts {
		got.Vectors[text] = vecs[i][:goldenPrefix]
	}
	const path = "testdata/golden.json"
	if *update {
		data, _ := json.MarshalIndent(got, "", "  ")
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want golden
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	// Invariant: the builtin model is deterministic: the same table gives the
	// same vectors. The tolerance only absorbs float32 rounding differences
	// (fused multiply-add on some architectures), far below any change a
	// different table or pooling would make.
	if want.Model != got.Model {
		t.Fatalf("golden file is for %s, table is %s (run go test -update after retraining)", want.Model, got.Model)
	}
	for text, w := range want.Vectors {
		g := got.Vectors[text]
		for j := range w {
			if math.Abs(float64(g[j]-w[j])) > 1e-5 {
				t.Errorf("%q[%d] = %v, want %v", text, j, g[j], w[j])
			}
		}
	}
}

func TestBuiltinBasics(t *testing.T) {
	b := builtin(t)
	in := []string{"Send a Slack message", "", "zzqx vbnmw", "send a slack message!!", "SEND A SLACK MESSAGE"}
	vecs, err := b.Embed(t.Context(), in, KindQuery)
	if err != nil {
		t.Fatal(err)
	}
	// Invariant: known text gives a unit vector; empty or unknown text gives
	// the zero vector; case and punctuation do not change the vector.
	if n := cosine(vecs[0], vecs[0]); math.Abs(n-1) > 1e-5 {
		t.Errorf("|v|² = %v, want 1", n)
	}
	for _, i := range []int{1, 2} {
		if slices.ContainsFunc(vecs[i], func(x float32) bool { return x != 0 }) {
			t.Errorf("%q: want the zero vector", in[i])
		}
	}
	for _, i := range []int{3, 4} {
		if !slices.Equal(vecs[0], vecs[i]) {
			t.Errorf("%q differs from %q", in[i], in[0])
		}
	}
	if _, n := b.EmbedOne(nil, in[2]); n != 0 {
		t.Errorf("EmbedOne(%q) knew %d tokens, want 0", in[2], n)
	}
}

func TestBuiltinSanity(t *testing.T) {
	b := builtin(t)
	// Invariant: each anchor is closer to its paraphrase than to an
	// unrelated tool description.
	tests := []struct{ anchor, near, far string }{
		{"query the data warehouse", "SQL analytics over Snowflake", "send a Slack message"},
		{"send a Slack message", "post a notification to my team chat", "SQL analytics over Snowflake"},
		{"create a GitHub pull request", "open a code review for my branch", "book a flight to Paris"},
		{"where is my parcel", "track a shipment by tracking number", "reset a user's password"},
		{"is the patient allergic to penicillin", "retrieve a patient's allergy list", "refund a credit card payment"},
		{"I crashed my car", "file an insurance claim for vehicle damage", "schedule a team meeting"},
		{"fetch the database password securely", "read a secret from the vault", "summarise a PDF document"},
		{"who is on call tonight", "page the on-call engineer", "translate text into French"},
	}
	for _, tt := range tests {
		vecs, err := b.Embed(t.Context(), []string{tt.anchor, tt.near, tt.far}, KindQuery)
		if err != nil {
			t.Fatal(err)
		}
		near, far := cosine(vecs[0], vecs[1]), cosine(vecs[0], vecs[2])
		if near <= far {
			t.Errorf("%q: cos to %q = %.3f, not above cos to %q = %.3f", tt.anchor, tt.near, near, tt.far, far)
		}
	}
}

// retrievalSet is testdata/retrieval.json, a hand-written tool set.
type retrievalSet struct {
	Tools []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tools"`
	Queries []struct {
		Query  string `json:"query"`
		Expect string `json:"expect"`
	} `json:"queries"`
}

// minRetrievalMRR is the floor for the committed table on testdata/retrieval.json;
// PROVENANCE.md records the measured value.
const minRetrievalMRR = 0.7

func TestBuiltinRetrievalMRR(t *testing.T) {
	data, err := os.ReadFile("testdata/retrieval.json")
	if err != nil {
		t.Fatal(err)
	}
	var set retrievalSet
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	b := builtin(t)
	docs := make([]string, len(set.Tools))
	for i, tool := range set.Tools {
		docs[i] = tool.Name + " " + tool.Description
	}
	dv, err := b.Embed(t.Context(), docs, KindDocument)
	if err != nil {
		t.Fatal(err)
	}
	var mrr float64
	for _, q := range set.Queries {
		qv, _ := b.EmbedOne(nil, q.Query)
		target := slices.IndexFunc(set.Tools, func(tool struct {
			Name        string `json:"name"`
			Description string `json:"description"`
		}) bool {
			return tool.Name == q.Expect
		})
		if target < 0 {
			t.Fatalf("query %q expects unknown tool %q", q.Query, q.Expect)
		}
		score := cosine(qv, dv[target])
		rank := 1
		for i := range dv {
			if i != target && cosine(qv, dv[i]) > score {
				rank++
			}
		}
		if rank > 3 {
			t.Logf("rank %d: %q → %s", rank, q.Query, q.Expect)
		}
		mrr += 1 / float64(rank)
	}
	mrr /= float64(len(set.Queries))
	t.Logf("MRR %.3f over %d queries", mrr, len(set.Queries))
	// Invariant: paraphrased queries find their tool well above chance
	// (random ranking of 40 tools gives MRR ≈ 0.11).
	if mrr < minRetrievalMRR {
		t.Errorf("MRR %.3f < floor %.2f", mrr, minRetrievalMRR)
	}
}

var benchTexts = []string{
	"Create a Jira issue for the failing deployment",
	"where is my package",
	"Runs SQL against the Snowflake data warehouse for analytics and returns the rows as JSON.",
	"text my mom that I'm running late",
	"Retrieves the allergy list from a patient's electronic health record.",
	"scale the checkout deployment to five replicas before the sale",
	"Sends a document for electronic signature with DocuSign and reports its status.",
	"how many yen is 100 dollars",
}

func BenchmarkBuiltinEmbedOne(b *testing.B) {
	e := builtin(b)
	dst := make([]float32, 0, e.Info().Dim)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		dst, _ = e.EmbedOne(dst, benchTexts[i%len(benchTexts)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sentences/s")
}

func BenchmarkBuiltinEmbedBatch(b *testing.B) {
	e := builtin(b)
	batch := make([]string, 256)
	for i := range batch {
		batch[i] = benchTexts[i%len(benchTexts)]
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Embed(b.Context(), batch, KindDocument); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "sentences/s")
}

func BenchmarkBuiltinLoad(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseBuiltinTable(); err != nil {
			b.Fatal(err)
		}
	}
}
