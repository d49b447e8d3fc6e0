package embed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
)

// titanV2Prefix matches amazon.titan-embed-text-v2:0 and its regional or
// inference-profile variants.
const titanV2Prefix = "amazon.titan-embed-text-v2"

// titanRequest is the InvokeModel body of Titan Text Embeddings v2.
type titanRequest struct {
	InputText  string `json:"inputText"`
	Dimensions int    `json:"dimensions,omitempty"`
	Normalize  bool   `json:"normalize"`
}

// titanResponse is its answer.
type titanResponse struct {
	Embedding []float32 `json:"embedding"`
}

// invoker is the one SDK call we use; *bedrockruntime.Client implements it.
type invoker interface {
	InvokeModel(ctx context.Context, in *bedrockruntime.InvokeModelInput, opts ...func(*bedrockruntime.Options)) (*bedrockruntime.InvokeModelOutput, error)
}

var _ invoker = (*bedrockruntime.Client)(nil)

// newBedrock loads the AWS default credential chain (environment, shared
// files, SSO, web identity, ECS and EC2 roles) and returns a Titan v2
// embedder. The SDK's own retries are off: remote applies one retry policy to
// every provider.
func newBedrock(ctx context.Context, cfg Config) (*remote, error) {
	var opts []func(*config.LoadOptions) error
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("new bedrock embedder: load AWS config: %w", err)
	}
	return newBedrockFromAWS(awsCfg, cfg), nil
}

// newBedrockFromAWS builds the embedder from an AWS config; tests pass static
// credentials and an httptest endpoint through Config.BaseURL.
func newBedrockFromAWS(awsCfg aws.Config, cfg Config) *remote {
	client := bedrockruntime.NewFromConfig(awsCfg, func(o *bedrockruntime.Options) {
		if cfg.BaseURL != "" {
			o.BaseEndpoint = aws.String(cfg.BaseURL)
		}
		o.Retryer = aws.NopRetryer{}
	})
	return newBedrockRemote(client, cfg)
}

func newBedrockRemote(client invoker, cfg Config) *remote {
	send := func(ctx context.Context, texts []string) ([][]float32, error) {
		out := make([][]float32, len(texts))
		for i, t := range texts {
			body, err := json.Marshal(titanRequest{InputText: t, Dimensions: cfg.Dimensions, Normalize: true})
			if err != nil {
				return nil, fmt.Errorf("encode titan request: %w", err)
			}
			resp, err := client.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{
				ModelId:     aws.String(cfg.Model),
				ContentType: aws.String("application/json"),
				Accept:      aws.String("application/json"),
				Body:        body,
			})
			if err != nil {
				return nil, bedrockError(err)
			}
			var tr titanResponse
			if err := json.Unmarshal(resp.Body, &tr); err != nil {
				return nil, fmt.Errorf("%w: decode titan response: %w", ErrResponse, err)
			}
			out[i] = tr.Embedding
		}
		return out, nil
	}
	return newRemote(cfg, send)
}

// bedrockError turns an SDK HTTP failure into a *StatusError (throttling is
// 429, service unavailability 503), keeping the SDK error in the chain.
func bedrockError(err error) error {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		msg := re.Err.Error()
		if len(msg) > maxErrorMessage {
			msg = strings.ToValidUTF8(msg[:maxErrorMessage], "") + "…"
		}
		return fmt.Errorf("invoke model: %w", errors.Join(&StatusError{Provider: ProviderBedrock, Code: re.HTTPStatusCode(), Message: msg}, err))
	}
	return fmt.Errorf("invoke model: %w", err)
}
