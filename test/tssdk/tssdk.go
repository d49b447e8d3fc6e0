// Package tssdk finds Node.js and the official TypeScript MCP SDK that test/e2e/ts pins (npm ci --prefix
// test/e2e/ts), for the tests that drive a TypeScript client. Without them such a test is skipped, or fails when
// MCPGW_REQUIRE_NODE is set, as CI sets it.
package tssdk

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// EnvRequire, when set, turns a missing Node.js or SDK into a failure instead of a skip.
const EnvRequire = "MCPGW_REQUIRE_NODE"

// Home returns the npm project that pins the SDK: test/e2e/ts in this repository.
func Home() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "e2e", "ts")
}

// Node returns the node binary and Home, or skips t (fails it under EnvRequire) when Node.js or the installed SDK
// is missing.
func Node(t testing.TB) (node, home string) {
	t.Helper()
	missing := func(msg string) {
		if os.Getenv(EnvRequire) != "" {
			t.Fatalf("%s is set: %s", EnvRequire, msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not found on PATH (Node.js 20 or later runs the TypeScript SDK scenarios)")
	}
	home = Home()
	if _, err := os.Stat(filepath.Join(home, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		missing("the TypeScript SDK is not installed: run npm ci --prefix test/e2e/ts")
	}
	return node, home
}
