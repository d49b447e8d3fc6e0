package client_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/client"
)

// Register a server, then change it only if nobody else did in between.
func Example() {
	ctx := context.TODO()
	c, err := client.New("http://127.0.0.1:8080", client.WithToken("TOKEN"))
	if err != nil {
		panic(err)
	}
	_, err = c.Servers().Create(ctx, &catalog.Server{
		Name:       "acme/weather",
		Governance: catalog.Governance{Description: "Forecasts"},
		Versions:   []catalog.ServerVersion{{Version: "1.0.0", URL: "https://weather.example.com/mcp"}},
	})
	var problem *client.Error
	switch {
	case errors.Is(err, catalog.ErrConflict):
		fmt.Println("already registered")
	case errors.As(err, &problem):
		for _, f := range problem.Errors {
			fmt.Printf("%s: %s\n", f.Field, f.Reason)
		}
		return
	case err != nil:
		panic(err)
	}

	s, err := c.Servers().Get(ctx, "acme/weather")
	if err != nil {
		panic(err)
	}
	s.Tags = append(s.Tags, "weather")
	if _, err := c.Servers().Replace(ctx, s, s.Rev); errors.Is(err, catalog.ErrRevMismatch) {
		fmt.Println("changed meanwhile: read it again")
	}
}

// Iterate over every server of a namespace, 100 per request.
func ExampleCollection_All() {
	c, _ := client.New("http://127.0.0.1:8080", client.WithToken("TOKEN"))
	for s, err := range c.Servers().All(context.TODO(), client.ListOptions{Namespace: "finance", Limit: 100}) {
		if err != nil {
			fmt.Println(err)
			break
		}
		fmt.Println(s.Name, s.Status)
	}
}

// Call an endpoint the client has no typed method for.
func ExampleClient_Do() {
	c, _ := client.New("http://127.0.0.1:8080", client.WithToken("TOKEN"))
	var out struct {
		Status string `json:"status"`
	}
	if _, err := c.Do(context.TODO(), "GET", "/readyz", nil, &out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Status)
}
