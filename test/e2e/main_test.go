// Package e2e runs mcpgw's binaries as separate processes, the way users and operators do, and checks what crosses
// process boundaries: durability across a crash, the command-line contract, and (with the test data plane) the
// gateway path.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// bin holds the binaries built once for the package.
var bin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mcpgw-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "github.com/mcpgw/mcpgw/cmd/mcpgw")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build mcpgw:", err)
		return 1
	}
	bin = dir
	return m.Run()
}
