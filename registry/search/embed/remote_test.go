package embed

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// testLogger sends log lines to t.Logf.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, nil))
}

type tlogWriter struct{ t *testing.T }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Logf("%s", p)
	return len(p), nil
}

// recorder is an httptest handler that records request bodies and answers
// from a script of responses, one per call (the last one repeats).
type recorder struct {
	mu     sync.Mutex
	bodies []map[string]any
	hdrs   []http.Header
	paths  []string
	answer func(call int, body map[string]any) (status int, header http.Header, resp any)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	rec.mu.Lock()
	call := len(rec.bodies)
	rec.bodies = append(rec.bodies, body)
	rec.hdrs = append(rec.hdrs, r.Header.Clone())
	rec.paths = append(rec.paths, r.Method+" "+r.URL.Path)
	rec.mu.Unlock()
	status, hdr, resp := rec.answer(call, body)
	for k, vs := range hdr {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(resp)
}

func (rec *recorder) calls() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.bodies)
}

// vecFor is a deterministic non-normalised vector for a text, so tests can
// check that outputs land in the right slot and are normalised.
func vecFor(text string, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(len(text)+i) + 0.5
	}
	return v
}

func normalized(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / math.Sqrt(s))
	}
	return out
}

func inputsOf(t *testing.T, body map[string]any, key string) []string {
	t.Helper()
	raw, ok := body[key].([]any)
	if !ok {
		t.Fatalf("request has no %q array: %v", key, body)
	}
	out := make([]string, len(raw))
	for i, x := range raw {
		out[i], _ = x.(string)
	}
	return out
}

func testConfig(t *testing.T, provider, url string) Config {
	return Config{
		Provider:       provider,
		BaseURL:        url,
		Model:          "test-model",
		APIKey:         "sk-test",
		RetryBaseDelay: time.Millisecond,
		Timeout:        5 * time.Second,
		Logger:         testLogger(t),
	}
}

func mustNew(t *testing.T, cfg Config) Embedder {
	t.Helper()
	e, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func assertVectors(t *testing.T, got [][]float32, inputs []string, dim int) {
	t.Helper()
	if len(got) != len(inputs) {
		t.Fatalf("got %d vectors for %d inputs", len(got), len(inputs))
	}
	for i, in := range inputs {
		want := normalized(vecFor(in, dim))
		if in == "" {
			want = make([]float32, dim)
		}
		if len(got[i]) != dim {
			t.Fatalf("vector %d has length %d, want %d", i, len(got[i]), dim)
		}
		for j := range want {
			if math.Abs(float64(got[i][j]-want[j])) > 1e-5 {
				t.Fatalf("vector %d (%q) = %v…, want %v…", i, in, got[i][:3], want[:3])
			}
		}
	}
}

func TestBackoffIsBoundedAndJittered(t *testing.T) {
	// Invariant: a delay is positive, below base·2^attempt and never above
	// the cap, whatever the attempt number.
	for attempt := range 40 {
		limit := min(time.Millisecond<<min(attempt, 16), maxRetryDelay)
		for range 50 {
			d := backoff(time.Millisecond, attempt)
			if d <= 0 || d > limit {
				t.Fatalf("backoff(1ms, %d) = %v, want in (0, %v]", attempt, d, limit)
			}
		}
	}
}

func TestTruncateRunes(t *testing.T) {
	// Invariant: at most n runes are kept, and a cut never splits a rune.
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 0, "hello"},
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"héllo", 2, "hé"},
		{"日本語テキスト", 3, "日本語"},
	}
	for _, tt := range tests {
		if got := truncateRunes(tt.in, tt.n); got != tt.want {
			t.Errorf("truncateRunes(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestResolveLearnsDimension(t *testing.T) {
	rec := &recorder{answer: func(_ int, body map[string]any) (int, http.Header, any) {
		return 200, nil, map[string]any{"embeddings": [][]float32{vecFor("ping", 7)}}
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	e := mustNew(t, testConfig(t, ProviderOllama, srv.URL))
	if d := e.Info().Dim; d != 0 {
		t.Fatalf("Dim before any call = %d, want 0", d)
	}
	info, err := Resolve(t.Context(), e)
	if err != nil {
		t.Fatal(err)
	}
	if info.Dim != 7 || info.ID() != "ollama/test-model/7" {
		t.Errorf("Resolve = %+v (ID %s)", info, info.ID())
	}
}

func TestEmbedStopsOnCanceledContext(t *testing.T) {
	rec := &recorder{answer: func(int, map[string]any) (int, http.Header, any) {
		return 503, nil, map[string]any{"error": "overloaded"}
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cfg := testConfig(t, ProviderOllama, srv.URL)
	cfg.RetryBaseDelay = time.Hour // a retry would block until ctx ends
	e := mustNew(t, cfg)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for rec.calls() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	_, err := e.Embed(ctx, []string{"x"}, KindDocument)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestPerCallTimeoutAndTransportErrorsAreRetried(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // lets the server notice the client going away
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch n {
		case 1: // hang until the client's per-call timeout gives up
			<-r.Context().Done()
			return
		case 2: // drop the connection without an answer
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"embeddings": [][]float32{vecFor("slow", 3)}})
	}))
	defer srv.Close()
	cfg := testConfig(t, ProviderOllama, srv.URL)
	cfg.Timeout = 200 * time.Millisecond
	got, err := mustNew(t, cfg).Embed(t.Context(), []string{"slow"}, KindDocument)
	// Invariant: a call cut by the per-call timeout and a dropped connection
	// are both retried, and a later attempt's answer is returned (a slow
	// machine may need one more attempt, never fewer).
	if err != nil {
		t.Fatal(err)
	}
	assertVectors(t, got, []string{"slow"}, 3)
	mu.Lock()
	defer mu.Unlock()
	if calls < 3 {
		t.Errorf("%d calls, want at least 3", calls)
	}
}
