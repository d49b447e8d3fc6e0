package embed

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// titanServer imitates bedrock-runtime InvokeModel for Titan v2: it checks
// the SigV4 signature header is present and answers {"embedding": [...]}.
type titanServer struct {
	t        *testing.T
	mu       sync.Mutex
	requests []titanRequest
	paths    []string
	throttle int // answer this many first calls with 429 ThrottlingException
	dim      int // answer vectors of this length; 0: the requested dimensions
}

func (s *titanServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req titanRequest
	if err := json.Unmarshal(b, &req); err != nil {
		http.Error(w, "bad body", 400)
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.paths = append(s.paths, r.Method+" "+r.URL.EscapedPath())
	throttled := s.throttle > 0
	if throttled {
		s.throttle--
	}
	s.mu.Unlock()
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDTEST/") {
		http.Error(w, "unsigned", http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if throttled {
		w.Header().Set("X-Amzn-ErrorType", "ThrottlingException")
		w.WriteHeader(429)
		w.Write([]byte(`{"message":"Too many requests, please wait before trying again."}`))
		return
	}
	dim := cmpOr(s.dim, req.Dimensions)
	json.NewEncoder(w).Encode(map[string]any{"embedding": vecFor(req.InputText, dim), "inputTextTokenCount": 3})
}

func newTestBedrock(t *testing.T, srv *httptest.Server, dims int) Embedder {
	t.Helper()
	cfg := testConfig(t, ProviderBedrock, srv.URL)
	cfg.Model = ""
	cfg.Dimensions = dims
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg = cfg.withDefaults()
	awsCfg := aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:  srv.Client(),
	}
	return newBedrockFromAWS(awsCfg, cfg)
}

func TestBedrockTitanCodec(t *testing.T) {
	ts := &titanServer{t: t, throttle: 1}
	srv := httptest.NewServer(ts)
	defer srv.Close()
	e := newTestBedrock(t, srv, 256)
	inputs := []string{"first text", "second", "third one"}
	got, err := e.Embed(t.Context(), inputs, KindDocument)
	if err != nil {
		t.Fatal(err)
	}
	assertVectors(t, got, inputs, 256)
	// Invariant: one signed InvokeModel per text on the Titan v2 model path,
	// body {inputText, dimensions, normalize:true}; a throttled call is retried.
	if len(ts.requests) != len(inputs)+1 {
		t.Fatalf("%d requests, want %d", len(ts.requests), len(inputs)+1)
	}
	seen := map[string]bool{}
	for i, r := range ts.requests {
		if ts.paths[i] != "POST /model/amazon.titan-embed-text-v2%3A0/invoke" {
			t.Errorf("request %d path %s", i, ts.paths[i])
		}
		if r.Dimensions != 256 || !r.Normalize {
			t.Errorf("request %d body %+v", i, r)
		}
		seen[r.InputText] = true
	}
	for _, in := range inputs {
		if !seen[in] {
			t.Errorf("input %q never sent", in)
		}
	}
	if info := e.Info(); info.ID() != "bedrock/amazon.titan-embed-text-v2:0/256" || info.MaxBatch != 1 {
		t.Errorf("Info = %+v", info)
	}
}

func TestBedrockDimensionMismatchAndErrors(t *testing.T) {
	srv := httptest.NewServer(&titanServer{t: t, dim: 4})
	defer srv.Close()
	// The fake answers 4-d vectors; a 512-d configuration must refuse them.
	e := newTestBedrock(t, srv, 512)
	if _, err := e.Embed(t.Context(), []string{"x"}, KindQuery); !errors.Is(err, ErrDimension) {
		t.Fatalf("err = %v, want ErrDimension", err)
	}
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
		w.WriteHeader(403)
		w.Write([]byte(`{"message":"not authorized to invoke this model"}`))
	}))
	defer forbidden.Close()
	_, err := newTestBedrock(t, forbidden, 0).Embed(t.Context(), []string{"x"}, KindQuery)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 403 || se.Retryable() {
		t.Fatalf("err = %v, want a non-retryable 403 StatusError", err)
	}
}

func TestBedrockThroughNewWithDefaultCredentialChain(t *testing.T) {
	ts := &titanServer{t: t}
	srv := httptest.NewServer(ts)
	defer srv.Close()
	// The default chain finds static keys in the environment; shared files
	// point nowhere and IMDS is off, so nothing leaves the machine.
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CA_BUNDLE", "")
	cfg := testConfig(t, ProviderBedrock, srv.URL)
	cfg.Model = ""
	cfg.Region = "us-east-1"
	cfg.Dimensions = 512
	e := mustNew(t, cfg)
	got, err := e.Embed(t.Context(), []string{"hello bedrock"}, KindQuery)
	if err != nil {
		t.Fatal(err)
	}
	// Invariant: New wires the default credential chain, the region and the
	// endpoint override into a signed Titan v2 call.
	assertVectors(t, got, []string{"hello bedrock"}, 512)
	if len(ts.requests) != 1 || ts.requests[0].Dimensions != 512 {
		t.Errorf("requests %+v", ts.requests)
	}
}
