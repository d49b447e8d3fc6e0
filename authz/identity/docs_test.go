package identity_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpgw/mcpgw/authz/identity"
)

func TestDocsExamplesParse(t *testing.T) {
	// Invariant: every YAML example in docs/identity.md is a valid configuration, so the documentation cannot drift
	// from the code.
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "identity.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := 0
	rest := string(data)
	for {
		_, after, ok := strings.Cut(rest, "```yaml\n")
		if !ok {
			break
		}
		block, tail, ok := strings.Cut(after, "```")
		if !ok {
			t.Fatal("unterminated yaml block")
		}
		rest = tail
		blocks++
		if _, err := identity.ParseConfig([]byte(block)); err != nil {
			t.Errorf("example %d does not parse: %v\n%s", blocks, err, block)
		}
	}
	if blocks < 8 {
		t.Fatalf("found %d yaml examples, want the reference plus seven providers", blocks)
	}
}
