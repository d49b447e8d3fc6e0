package policy_test

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcpgw/mcpgw/authz/policy"
	"github.com/mcpgw/mcpgw/policies"
)

// eventually polls cond until it holds; the deadline only bounds a hung
// test, it asserts nothing about speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func countLogs(recs []slog.Record, level slog.Level, prefix string) int {
	n := 0
	for _, r := range recs {
		if r.Level == level && strings.HasPrefix(r.Message, prefix) {
			n++
		}
	}
	return n
}

func TestHotReload(t *testing.T) {
	// Invariant: files written into the override directory change the
	// policy without a restart (added files extend it, a file named like an
	// embedded one replaces it); a broken policy keeps the last good one and
	// is logged once; data survives policy reloads.
	dir := t.TempDir()
	log, logs := newTLog(t)
	e, err := policy.New(t.Context(), policy.Options{Dir: dir, Logger: log, Debounce: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetData(t.Context(), testData(t)); err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { runDone <- e.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	balance := call(user("finance"), "finance/ledger", "tools/call", "get_balance")
	decide := func() policy.Decision {
		d, err := e.Decide(t.Context(), balance)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := decide(); !d.Allow {
		t.Fatalf("before reload: %+v", d)
	}
	gen := e.Generation()

	// 1. An added file with a deny rule vetoes the call.
	write(t, dir, "freeze.rego", "package mcpgw.authz\n\ndeny contains \"ledger frozen\" if input.target.server == \"finance/ledger\"\n")
	eventually(t, "the deny rule", func() bool { return decide().Rule == "deny" })
	if d := decide(); d.Allow || !strings.Contains(d.Reason, "ledger frozen") {
		t.Fatalf("after freeze: %+v", d)
	}
	if e.Generation() <= gen {
		t.Fatal("generation did not advance on reload")
	}

	// 2. A broken file is rejected once, loudly, and the freeze stays.
	write(t, dir, "broken.rego", "package mcpgw.authz\n\nallow if {\n")
	eventually(t, "the reload failure log", func() bool {
		return countLogs(logs(), slog.LevelError, "policy reload failed") == 1
	})
	write(t, dir, "broken.rego", "package mcpgw.authz\n\nallow if {\n") // same failure again
	eventually(t, "the repeated failure", func() bool {
		return countLogs(logs(), slog.LevelDebug, "policy reload failed again") >= 1
	})
	if n := countLogs(logs(), slog.LevelError, "policy reload failed"); n != 1 {
		t.Fatalf("failure logged %d times at error level", n)
	}
	if d := decide(); d.Rule != "deny" {
		t.Fatalf("broken policy replaced the good one: %+v", d)
	}

	// 3. A file named like an embedded one replaces it; removing files
	// returns to the defaults plus what remains.
	src, err := fs.ReadFile(policies.Default(), "authz.rego")
	if err != nil {
		t.Fatal(err)
	}
	custom := strings.Replace(string(src), `"x-mcpgw-subject"`, `"x-caller"`, 1)
	if custom == string(src) {
		t.Fatal("authz.rego no longer sets x-mcpgw-subject; update the test")
	}
	write(t, dir, "authz.rego", custom)
	remove(t, dir, "broken.rego")
	remove(t, dir, "freeze.rego")
	eventually(t, "the replaced authz.rego", func() bool {
		d := decide()
		return d.Allow && d.Headers["x-caller"] == "alice"
	})

	// 4. A policy without an entry point is rejected as well.
	write(t, dir, "authz.rego", "package mcpgw.authz\n\nallow := true\n")
	eventually(t, "the missing entry point failure", func() bool {
		return countLogs(logs(), slog.LevelError, "policy reload failed") == 2
	})
	if d := decide(); d.Headers["x-caller"] != "alice" {
		t.Fatalf("policy without decision replaced the good one: %+v", d)
	}
}

func TestNewRejectsBrokenOverride(t *testing.T) {
	// Invariant: New fails with ErrInvalidPolicy on a policy that does not
	// compile, and on a missing directory.
	for name, src := range map[string]string{
		"syntax error":         "package mcpgw.authz\n\nallow if {\n",
		"type error":           "package mcpgw.authz\n\nx := y if y := 1 + \"a\"\n",
		"conflicting decision": "package mcpgw.authz\n\ndecision := 1\n",
		"malformed decision":   "package mcpgw.authz\n\nwhy := 1\n",
		"decision that errors": "package mcpgw.authz\n\ndeny contains x if x := 1 / 0\n",
	} {
		dir := t.TempDir()
		write(t, dir, "bad.rego", src)
		if _, err := policy.New(t.Context(), policy.Options{Dir: dir}); !errors.Is(err, policy.ErrInvalidPolicy) {
			t.Errorf("%s: err = %v, want ErrInvalidPolicy", name, err)
		}
	}
	dir := t.TempDir()
	if _, err := policy.New(t.Context(), policy.Options{Dir: filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("missing directory accepted")
	}
}

func TestOverrideSkipsTestsAndHiddenFiles(t *testing.T) {
	// Invariant: only top-level, non-hidden, non-test .rego files load, so
	// a ConfigMap mount (symlinks into a hidden ..data directory) loads each
	// file once.
	dir := t.TempDir()
	hidden := filepath.Join(dir, "..2026_01_01")
	if err := os.Mkdir(hidden, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, hidden, "freeze.rego", "package mcpgw.authz\n\ndeny contains \"frozen\" if true\n")
	if err := os.Symlink(filepath.Join(hidden, "freeze.rego"), filepath.Join(dir, "freeze.rego")); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "freeze_test.rego", "package mcpgw.authz\n\nthis is not rego\n")
	write(t, dir, "notes.txt", "not rego either")
	e, err := policy.New(t.Context(), policy.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetData(t.Context(), testData(t)); err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(t.Context(), call(user("finance"), "finance/ledger", "tools/call", "get_balance"))
	if err != nil || d.Rule != "deny" {
		t.Fatalf("symlinked override: %+v, %v", d, err)
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	// Write then rename, as editors and ConfigMap updates do.
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}
