package embed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Provider names accepted in Config.Provider.
const (
	ProviderBuiltin = "builtin"
	ProviderOpenAI  = "openai"
	ProviderOllama  = "ollama"
	ProviderBedrock = "bedrock"
)

// Defaults applied by New for zero Config fields.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultConcurrency    = 4
	DefaultMaxRetries     = 4
	DefaultRetryBaseDelay = 250 * time.Millisecond
	DefaultMaxInputChars  = 8000 // remote providers; builtin has no limit
	DefaultOpenAIBaseURL  = "https://api.openai.com"
	DefaultOpenAIModel    = "text-embedding-3-small"
	DefaultOllamaBaseURL  = "http://127.0.0.1:11434"
	DefaultOllamaModel    = "nomic-embed-text"
	DefaultBedrockModel   = "amazon.titan-embed-text-v2:0"
	defaultOpenAIBatch    = 256
	defaultOllamaBatch    = 64
	maxRetryDelay         = 10 * time.Second
)

// Config selects and tunes an Embedder. The zero value is the builtin model.
// cmd parses it from flags and environment and calls Validate once; this
// package never reads the environment itself.
type Config struct {
	// Provider is "builtin" (default when empty), "openai", "ollama" or "bedrock".
	Provider string
	// BaseURL of the provider. openai: the API root, with or without a
	// trailing /v1 ("https://api.openai.com", "http://vllm:8000/v1");
	// ollama: the server ("http://127.0.0.1:11434"); bedrock: an endpoint
	// override (VPC endpoint, tests), normally empty.
	BaseURL string
	// Model is the provider's model name. Defaults: openai
	// text-embedding-3-small, ollama nomic-embed-text, bedrock
	// amazon.titan-embed-text-v2:0. Ignored by builtin.
	Model string
	// Dimensions requests an output size from models that support it
	// (OpenAI text-embedding-3, Titan v2: 256, 512 or 1024) and is then
	// enforced on every answer. 0: the model's default, learnt from the first
	// answer and enforced afterwards.
	Dimensions int
	// APIKey is the secret itself, already resolved by the caller from its
	// reference (env var, file, secret store). Sent as a Bearer token by
	// openai and ollama; bedrock uses the AWS default credential chain.
	APIKey string
	// Region is the AWS region for bedrock; empty: from the AWS configuration.
	Region string
	// QueryPrefix and DocumentPrefix are prepended to inputs of each kind, for
	// asymmetric models (nomic-embed-text: "search_query: " and
	// "search_document: "; E5: "query: " and "passage: ").
	QueryPrefix, DocumentPrefix string
	// Timeout bounds each upstream call, retries excluded. Default 30s.
	Timeout time.Duration
	// BatchSize is the number of inputs per request. Default: openai 256,
	// ollama 64; bedrock Titan takes one text per call.
	BatchSize int
	// Concurrency bounds the requests in flight for one Embed call. Default 4.
	Concurrency int
	// MaxRetries is the number of retries after a 429, 408, 5xx or transport
	// error. Default 4; negative: no retries.
	MaxRetries int
	// RetryBaseDelay is the first backoff step; each retry doubles it (full
	// jitter, capped at 10s). A Retry-After header, when sent, is honoured
	// up to that cap. Default 250ms.
	RetryBaseDelay time.Duration
	// MaxInputChars truncates each input to this many runes. Default 8000 for
	// remote providers, unlimited for builtin; negative: no limit.
	MaxInputChars int
	// HTTPClient is used for openai and ollama (and by bedrock when set).
	// Default: a client without a global timeout (Timeout applies per call);
	// for bedrock, the AWS SDK's client.
	HTTPClient *http.Client
	// Logger receives retry and start-up messages. Default: discard.
	Logger *slog.Logger
}

// Validate checks the configuration without contacting any provider.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...)))
	}
	switch c.Provider {
	case "", ProviderBuiltin:
		if c.Dimensions != 0 && c.Dimensions != builtinDim {
			bad("builtin model has dimension %d, not %d", builtinDim, c.Dimensions)
		}
	case ProviderOpenAI, ProviderOllama:
		if c.BaseURL != "" {
			u, err := url.Parse(c.BaseURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("base URL %q is not an absolute http(s) URL", c.BaseURL)
			}
		}
	case ProviderBedrock:
		if c.BaseURL != "" {
			u, err := url.Parse(c.BaseURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("bedrock endpoint %q is not an absolute http(s) URL", c.BaseURL)
			}
		}
		if m := c.Model; m != "" && !strings.HasPrefix(m, titanV2Prefix) {
			bad("bedrock model %q is not supported (only %s)", m, DefaultBedrockModel)
		}
		switch c.Dimensions {
		case 0, 256, 512, 1024:
		default:
			bad("titan v2 dimensions must be 256, 512 or 1024, not %d", c.Dimensions)
		}
		if c.BatchSize > 1 {
			bad("bedrock titan v2 embeds one text per call; batch size %d", c.BatchSize)
		}
	default:
		bad("unknown provider %q (want builtin, openai, ollama or bedrock)", c.Provider)
	}
	if c.Dimensions < 0 {
		bad("dimensions %d < 0", c.Dimensions)
	}
	if c.Timeout < 0 || c.RetryBaseDelay < 0 {
		bad("timeout and retry delay must not be negative")
	}
	if c.BatchSize < 0 || c.Concurrency < 0 {
		bad("batch size and concurrency must not be negative")
	}
	if strings.ContainsAny(c.APIKey, "\r\n") {
		bad("API key contains a line break")
	}
	return errors.Join(errs...)
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Provider == "" {
		c.Provider = ProviderBuiltin
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries < 0:
		c.MaxRetries = 0
	}
	if c.RetryBaseDelay == 0 {
		c.RetryBaseDelay = DefaultRetryBaseDelay
	}
	switch {
	case c.MaxInputChars == 0 && c.Provider != ProviderBuiltin:
		c.MaxInputChars = DefaultMaxInputChars
	case c.MaxInputChars < 0:
		c.MaxInputChars = 0
	}
	if c.HTTPClient == nil && c.Provider != ProviderBedrock {
		// Bedrock keeps the SDK's own client unless one is given: it honours
		// AWS_CA_BUNDLE and the SDK's transport settings.
		c.HTTPClient = &http.Client{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Logger = c.Logger.With("component", "embed", "provider", c.Provider)
	switch c.Provider {
	case ProviderOpenAI:
		c.BaseURL = strings.TrimRight(cmpOr(c.BaseURL, DefaultOpenAIBaseURL), "/")
		c.Model = cmpOr(c.Model, DefaultOpenAIModel)
		c.BatchSize = cmpOr(c.BatchSize, defaultOpenAIBatch)
	case ProviderOllama:
		c.BaseURL = strings.TrimRight(cmpOr(c.BaseURL, DefaultOllamaBaseURL), "/")
		c.Model = cmpOr(c.Model, DefaultOllamaModel)
		c.BatchSize = cmpOr(c.BatchSize, defaultOllamaBatch)
	case ProviderBedrock:
		c.Model = cmpOr(c.Model, DefaultBedrockModel)
		c.BatchSize = 1
	}
	return c
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// New validates cfg and returns the selected Embedder. ctx is used only while
// constructing (bedrock loads the AWS shared configuration); no provider is
// contacted.
func New(ctx context.Context, cfg Config) (Embedder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new embedder: %w", err)
	}
	cfg = cfg.withDefaults()
	switch cfg.Provider {
	case ProviderBuiltin:
		return NewBuiltin()
	case ProviderOpenAI:
		return newOpenAI(cfg), nil
	case ProviderOllama:
		return newOllama(cfg), nil
	case ProviderBedrock:
		return newBedrock(ctx, cfg)
	}
	return nil, fmt.Errorf("new embedder: %w: unknown provider %q", ErrConfig, cfg.Provider)
}
