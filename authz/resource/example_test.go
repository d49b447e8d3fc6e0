package resource_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"

	"github.com/mcpgw/mcpgw/authz/resource"
)

// The URL a 401 challenge names, and the document served there.
func Example() {
	base, err := resource.ParseBase("https://gw.example.com")
	if err != nil {
		panic(err)
	}
	meta, _ := base.MetadataURL(resource.KindServer, "finance/ledger")
	fmt.Println(meta)

	h, err := resource.Handler(resource.Config{
		PublicBaseURL:        "https://gw.example.com",
		AuthorizationServers: []string{"https://keycloak.example.com/realms/prod"},
	}, func(_ context.Context, kind, name string) (string, bool, error) {
		return "Finance ledger", kind == resource.KindServer && name == "finance/ledger", nil
	}, nil)
	if err != nil {
		panic(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", meta, nil))
	body, _ := io.ReadAll(rec.Body)
	fmt.Println(rec.Code, string(body))
	// Output:
	// https://gw.example.com/.well-known/oauth-protected-resource/mcp/finance/ledger
	// 200 {"resource":"https://gw.example.com/mcp/finance/ledger","authorization_servers":["https://keycloak.example.com/realms/prod"],"bearer_methods_supported":["header"],"resource_name":"Finance ledger"}
}
