package app

import (
	"flag"
	"strings"
	"testing"

	"github.com/mcpgw/mcpgw/authz/audit"
)

func TestDefaultAuditRedaction(t *testing.T) {
	// Invariant: with the default --audit-redact, the usual spellings of credentials in tool arguments are hashed
	// at any depth (API keys with a dash or an underscore, client secrets, access and refresh tokens, cookies,
	// private keys, passwords), and ordinary arguments are kept as sent.
	var cfg Config
	cfg.Register(flag.NewFlagSet("serve", flag.ContinueOnError))
	red, err := auditRedactor(cfg.AuditRedact, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	secret := []string{"password", "db_passwd", "client_secret", "access_token", "refresh_token", "Authorization",
		"X-Api-Key", "api_key", "apiKey", "Cookie", "private_key", "ssh-private-key", "aws_credentials"}
	plain := []string{"account", "amount_cents", "query", "path", "name", "keyword", "author"}
	args := map[string]any{"nested": map[string]any{}}
	for _, k := range append(secret, plain...) {
		args[k] = "value-of-" + k
		args["nested"].(map[string]any)[k] = "value-of-" + k
	}
	got := red.Redact(args)
	for _, m := range []map[string]any{got, got["nested"].(map[string]any)} {
		for _, k := range secret {
			if v, _ := m[k].(string); !strings.HasPrefix(v, audit.HashPrefix) {
				t.Errorf("%s kept as %q", k, m[k])
			}
		}
		for _, k := range plain {
			if m[k] != "value-of-"+k {
				t.Errorf("%s changed to %q", k, m[k])
			}
		}
	}
}
