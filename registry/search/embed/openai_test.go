package embed

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"unicode/utf8"
)

// openAIAnswer answers like /v1/embeddings, with the items in reverse order.
func openAIAnswer(t *testing.T, dim int) func(int, map[string]any) (int, http.Header, any) {
	return func(_ int, body map[string]any) (int, http.Header, any) {
		in := inputsOf(t, body, "input")
		var data []map[string]any
		for i := len(in) - 1; i >= 0; i-- {
			data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": vecFor(in[i], dim)})
		}
		return 200, nil, map[string]any{"object": "list", "data": data, "model": body["model"]}
	}
}

func TestOpenAIRequestShapeAndOrder(t *testing.T) {
	rec := &recorder{}
	rec.answer = openAIAnswer(t, 8)
	srv := httptest.NewServer(rec)
	defer srv.Close()
	cfg := testConfig(t, ProviderOpenAI, srv.URL+"/v1/")
	cfg.BatchSize = 2
	cfg.Dimensions = 8
	cfg.DocumentPrefix = "passage: "
	e := mustNew(t, cfg)
	inputs := []string{"alpha", "", "gamma delta", "epsilon", "zeta eta theta"}
	got, err := e.Embed(t.Context(), inputs, KindDocument)
	if err != nil {
		t.Fatal(err)
	}
	// The server saw the prefixed texts; vectors come back in input order.
	prefixed := make([]string, len(inputs))
	for i, in := range inputs {
		if in != "" {
			prefixed[i] = "passage: " + in
		}
	}
	assertVectors(t, got, prefixed, 8)
	// Invariant: 4 non-empty inputs in batches of 2 make 2 requests, each
	// POST /v1/embeddings with the model, float encoding, dimensions and a
	// Bearer key; the empty input is never sent.
	if rec.calls() != 2 {
		t.Fatalf("%d requests, want 2", rec.calls())
	}
	var sent []string
	for i, body := range rec.bodies {
		if rec.paths[i] != "POST /v1/embeddings" {
			t.Errorf("request %d: %s", i, rec.paths[i])
		}
		if body["model"] != "test-model" || body["encoding_format"] != "float" || body["dimensions"] != float64(8) {
			t.Errorf("request %d body = %v", i, body)
		}
		if h := rec.hdrs[i].Get("Authorization"); h != "Bearer sk-test" {
			t.Errorf("request %d Authorization = %q", i, h)
		}
		sent = append(sent, inputsOf(t, body, "input")...)
	}
	slices.Sort(sent)
	if want := []string{"passage: alpha", "passage: epsilon", "passage: gamma delta", "passage: zeta eta theta"}; !slices.Equal(sent, want) {
		t.Errorf("sent %q, want %q", sent, want)
	}
	if info := e.Info(); info.ID() != "openai/test-model/8" || !info.Normalized || info.MaxBatch != 2 {
		t.Errorf("Info = %+v", info)
	}
}

func TestOpenAIRetriesRateLimit(t *testing.T) {
	ok := openAIAnswer(t, 4)
	rec := &recorder{answer: func(call int, body map[string]any) (int, http.Header, any) {
		switch call {
		case 0:
			return 429, http.Header{"Retry-After": {"0"}}, map[string]any{"error": map[string]any{"message": "rate limited"}}
		case 1:
			return 502, nil, map[string]any{"error": map[string]any{"message": "bad gateway"}}
		}
		return ok(call, body)
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	e := mustNew(t, testConfig(t, ProviderOpenAI, srv.URL))
	got, err := e.Embed(t.Context(), []string{"one", "two"}, KindQuery)
	if err != nil {
		t.Fatal(err)
	}
	assertVectors(t, got, []string{"one", "two"}, 4)
	if rec.calls() != 3 {
		t.Errorf("%d requests, want 3 (429, 502, 200)", rec.calls())
	}
}

func TestOpenAIErrors(t *testing.T) {
	// Invariant: a client error is returned at once as a *StatusError; a
	// malformed answer matches ErrResponse; a vector of the wrong length
	// matches ErrDimension; none of them is retried.
	tests := []struct {
		name   string
		dims   int
		answer func(int, map[string]any) (int, http.Header, any)
		check  func(error) bool
	}{
		{"bad request", 0, func(int, map[string]any) (int, http.Header, any) {
			return 400, nil, map[string]any{"error": map[string]any{"message": "input too long"}}
		}, func(err error) bool {
			var se *StatusError
			return errors.As(err, &se) && se.Code == 400 && se.Message == "input too long" && !se.Retryable()
		}},
		{"dimension mismatch", 16, openAIAnswer(t, 8), func(err error) bool { return errors.Is(err, ErrDimension) }},
		{"missing items", 0, func(int, map[string]any) (int, http.Header, any) {
			return 200, nil, map[string]any{"data": []any{map[string]any{"index": 0, "embedding": []float32{1, 2}}}}
		}, func(err error) bool { return errors.Is(err, ErrResponse) }},
		{"repeated index", 0, func(int, map[string]any) (int, http.Header, any) {
			item := map[string]any{"index": 0, "embedding": []float32{1, 2}}
			return 200, nil, map[string]any{"data": []any{item, item}}
		}, func(err error) bool { return errors.Is(err, ErrResponse) }},
		{"not json", 0, func(int, map[string]any) (int, http.Header, any) {
			return 200, nil, "surprise"
		}, func(err error) bool { return errors.Is(err, ErrResponse) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{answer: tt.answer}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			cfg := testConfig(t, ProviderOpenAI, srv.URL)
			cfg.Dimensions = tt.dims
			_, err := mustNew(t, cfg).Embed(t.Context(), []string{"a", "b"}, KindDocument)
			if err == nil || !tt.check(err) {
				t.Fatalf("err = %v", err)
			}
			if rec.calls() != 1 {
				t.Errorf("%d requests, want 1", rec.calls())
			}
		})
	}
}

func TestOpenAIDimensionLearntFromAnswers(t *testing.T) {
	dim := 6
	rec := &recorder{answer: func(call int, body map[string]any) (int, http.Header, any) {
		return openAIAnswer(t, dim)(call, body)
	}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	e := mustNew(t, testConfig(t, ProviderOpenAI, srv.URL))
	if _, err := e.Embed(t.Context(), []string{"a"}, KindDocument); err != nil {
		t.Fatal(err)
	}
	dim = 5 // the server switched models under us
	if _, err := e.Embed(t.Context(), []string{"a"}, KindDocument); !errors.Is(err, ErrDimension) {
		t.Fatalf("err = %v, want ErrDimension", err)
	}
	// The new dimension is learnt, so that the index can recompute its vectors in the new space.
	if got := e.Info().Dim; got != 5 {
		t.Fatalf("Info().Dim = %d after the switch, want 5", got)
	}
	if _, err := e.Embed(t.Context(), []string{"a"}, KindDocument); err != nil {
		t.Fatalf("after the switch: %v", err)
	}
}

func TestOpenAIEndpoint(t *testing.T) {
	for base, want := range map[string]string{
		"https://api.openai.com":    "https://api.openai.com/v1/embeddings",
		"http://vllm:8000/v1":       "http://vllm:8000/v1/embeddings",
		"http://litellm:4000/proxy": "http://litellm:4000/proxy/v1/embeddings",
		"http://127.0.0.1:11434/v1": "http://127.0.0.1:11434/v1/embeddings",
	} {
		if got := openAIEndpoint(base); got != want {
			t.Errorf("openAIEndpoint(%q) = %q, want %q", base, got, want)
		}
	}
}

func FuzzDecodeOpenAI(f *testing.F) {
	f.Add([]byte(`{"data":[{"index":1,"embedding":[1,2]},{"index":0,"embedding":[3,4]}]}`), 2)
	f.Add([]byte(`{"data":[{"embedding":[1]}]}`), 1)
	f.Add([]byte(`{"data":[{"index":-1,"embedding":[1]}]}`), 1)
	f.Add([]byte(`{"data":null}`), 0)
	f.Add([]byte(`[]`), 3)
	// Invariant: never panics; on success every slot holds a non-empty
	// vector; every failure matches ErrResponse.
	f.Fuzz(func(t *testing.T, raw []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		out, err := decodeOpenAI(raw, n)
		if err != nil {
			if !errors.Is(err, ErrResponse) {
				t.Fatalf("error %v does not match ErrResponse", err)
			}
			return
		}
		if len(out) != n {
			t.Fatalf("%d vectors for %d inputs", len(out), n)
		}
		for i, v := range out {
			if len(v) == 0 {
				t.Fatalf("slot %d empty", i)
			}
		}
	})
}

func FuzzErrorMessage(f *testing.F) {
	f.Add([]byte(`{"error":{"message":"rate limited"}}`))
	f.Add([]byte(`{"error":"model not found"}`))
	f.Add([]byte(`{"message":"ThrottlingException"}`))
	f.Add([]byte("<html>502 Bad Gateway</html>"))
	// Invariant: never panics and never returns more than the bound plus the
	// ellipsis, always valid UTF-8.
	f.Fuzz(func(t *testing.T, data []byte) {
		msg := errorMessage(data)
		if len(msg) > maxErrorMessage+len("…") || !utf8.ValidString(msg) {
			t.Fatalf("errorMessage gave %d bytes, valid=%v", len(msg), utf8.ValidString(msg))
		}
	})
}
