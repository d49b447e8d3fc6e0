package embed

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestOllamaRequestShapeAndRetry(t *testing.T) {
	rec := &recorder{}
	rec.answer = func(call int, body map[string]any) (int, http.Header, any) {
		if call == 0 {
			return 503, nil, map[string]any{"error": "model is loading"}
		}
		in := inputsOf(t, body, "input")
		vecs := make([][]float32, len(in))
		for i, s := range in {
			vecs[i] = vecFor(s, 5)
		}
		return 200, nil, map[string]any{"model": body["model"], "embeddings": vecs}
	}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cfg := testConfig(t, ProviderOllama, srv.URL)
	cfg.APIKey = ""
	cfg.QueryPrefix = "search_query: "
	cfg.MaxInputChars = 10
	e := mustNew(t, cfg)
	got, err := e.Embed(t.Context(), []string{"where is my parcel now", "hi"}, KindQuery)
	if err != nil {
		t.Fatal(err)
	}
	// Invariant: inputs are truncated to MaxInputChars, then prefixed for
	// their kind, sent in one POST /api/embed with truncate on, and a 503 is
	// retried; no Authorization header without a key.
	want := []string{"search_query: where is m", "search_query: hi"}
	assertVectors(t, got, want, 5)
	if rec.calls() != 2 {
		t.Fatalf("%d requests, want 2", rec.calls())
	}
	body := rec.bodies[1]
	if rec.paths[1] != "POST /api/embed" || body["model"] != "test-model" || body["truncate"] != true {
		t.Errorf("request %s %v", rec.paths[1], body)
	}
	if _, has := body["dimensions"]; has {
		t.Errorf("dimensions sent without being configured: %v", body)
	}
	if got := inputsOf(t, body, "input"); !slices.Equal(got, want) {
		t.Errorf("input %q, want %q", got, want)
	}
	if h := rec.hdrs[1].Get("Authorization"); h != "" {
		t.Errorf("Authorization = %q, want none", h)
	}
}
