package embed_test

import (
	"context"
	"fmt"

	"github.com/mcpgw/mcpgw/registry/search/embed"
)

// The zero Config selects the builtin model: no network, no key.
func ExampleNew() {
	ctx := context.Background()
	e, err := embed.New(ctx, embed.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	docs, _ := e.Embed(ctx, []string{
		"Runs SQL against the Snowflake data warehouse.",
		"Posts a message to a Slack channel.",
	}, embed.KindDocument)
	q, _ := e.Embed(ctx, []string{"query the data warehouse"}, embed.KindQuery)
	dot := func(a, b []float32) (s float32) {
		for i := range a {
			s += a[i] * b[i]
		}
		return s
	}
	fmt.Println(e.Info().Provider, e.Info().Dim)
	fmt.Println(dot(q[0], docs[0]) > dot(q[0], docs[1]))
	// Output:
	// builtin 256
	// true
}

// A remote provider is configured, not coded: here any OpenAI-compatible
// server such as vLLM. The API key is resolved by the caller.
func ExampleConfig_openAICompatible() {
	cfg := embed.Config{
		Provider:    embed.ProviderOpenAI,
		BaseURL:     "http://vllm.internal:8000/v1",
		Model:       "BAAI/bge-m3",
		QueryPrefix: "",
		Concurrency: 2,
		APIKey:      "resolved-by-the-caller",
	}
	fmt.Println(cfg.Validate())
	// Output: <nil>
}
