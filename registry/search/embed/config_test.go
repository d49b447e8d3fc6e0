package embed

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	// Invariant: Validate accepts every documented configuration and refuses
	// every inconsistent one with an error matching ErrConfig, before any
	// network call.
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero value is builtin", Config{}, true},
		{"builtin explicit", Config{Provider: "builtin"}, true},
		{"builtin own dimension", Config{Provider: "builtin", Dimensions: builtinDim}, true},
		{"builtin other dimension", Config{Provider: "builtin", Dimensions: 1536}, false},
		{"openai defaults", Config{Provider: "openai", APIKey: "k"}, true},
		{"openai vllm", Config{Provider: "openai", BaseURL: "http://vllm:8000/v1", Model: "bge-m3"}, true},
		{"openai relative url", Config{Provider: "openai", BaseURL: "vllm:8000"}, false},
		{"openai ftp url", Config{Provider: "openai", BaseURL: "ftp://host/x"}, false},
		{"ollama", Config{Provider: "ollama", BaseURL: "http://127.0.0.1:11434", QueryPrefix: "search_query: "}, true},
		{"bedrock", Config{Provider: "bedrock", Region: "us-east-1", Dimensions: 512}, true},
		{"bedrock bad dims", Config{Provider: "bedrock", Dimensions: 300}, false},
		{"bedrock other model", Config{Provider: "bedrock", Model: "cohere.embed-english-v3"}, false},
		{"bedrock batch", Config{Provider: "bedrock", BatchSize: 8}, false},
		{"unknown provider", Config{Provider: "sidecar"}, false},
		{"negative timeout", Config{Provider: "openai", Timeout: -time.Second}, false},
		{"negative batch", Config{Provider: "ollama", BatchSize: -1}, false},
		{"negative dimensions", Config{Provider: "openai", Dimensions: -1}, false},
		{"key with newline", Config{Provider: "openai", APIKey: "k\nX-Evil: 1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.ok && err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrConfig) {
				t.Fatalf("Validate = %v, want ErrConfig", err)
			}
			if !tt.ok {
				if _, err := New(t.Context(), tt.cfg); !errors.Is(err, ErrConfig) {
					t.Fatalf("New = %v, want ErrConfig", err)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	// Invariant: zero fields get the documented defaults per provider.
	c := Config{Provider: "openai"}.withDefaults()
	if c.BaseURL != DefaultOpenAIBaseURL || c.Model != DefaultOpenAIModel || c.BatchSize != defaultOpenAIBatch ||
		c.Timeout != DefaultTimeout || c.Concurrency != DefaultConcurrency || c.MaxRetries != DefaultMaxRetries ||
		c.MaxInputChars != DefaultMaxInputChars || c.HTTPClient == nil || c.Logger == nil {
		t.Errorf("openai defaults: %+v", c)
	}
	c = Config{Provider: "ollama", BaseURL: "http://h:1/", MaxRetries: -1, MaxInputChars: -1}.withDefaults()
	if c.BaseURL != "http://h:1" || c.Model != DefaultOllamaModel || c.MaxRetries != 0 || c.MaxInputChars != 0 {
		t.Errorf("ollama defaults: %+v", c)
	}
	c = Config{Provider: "bedrock"}.withDefaults()
	if c.Model != DefaultBedrockModel || c.BatchSize != 1 || c.HTTPClient != nil {
		t.Errorf("bedrock defaults: %+v", c)
	}
	if c := (Config{}).withDefaults(); c.Provider != ProviderBuiltin || c.MaxInputChars != 0 {
		t.Errorf("builtin defaults: %+v", c)
	}
}

func TestModelInfoCompatible(t *testing.T) {
	a := ModelInfo{Provider: "openai", Model: "text-embedding-3-small", Dim: 1536}
	// Invariant: only provider, model and dimension decide compatibility.
	for _, tt := range []struct {
		b    ModelInfo
		want bool
	}{
		{ModelInfo{Provider: "openai", Model: "text-embedding-3-small", Dim: 1536, MaxBatch: 7}, true},
		{ModelInfo{Provider: "openai", Model: "text-embedding-3-small", Dim: 512}, false},
		{ModelInfo{Provider: "openai", Model: "text-embedding-3-large", Dim: 1536}, false},
		{ModelInfo{Provider: "ollama", Model: "text-embedding-3-small", Dim: 1536}, false},
	} {
		if got := a.Compatible(tt.b); got != tt.want {
			t.Errorf("Compatible(%+v) = %v, want %v", tt.b, got, tt.want)
		}
	}
}
