package policies_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/cover"
	"github.com/open-policy-agent/opa/v1/tester"

	"github.com/mcpgw/mcpgw/policies"
)

// TestEmbedsEveryPolicyFile checks the invariant that the binary carries
// exactly the non-test .rego files of this directory.
func TestEmbedsEveryPolicyFile(t *testing.T) {
	onDisk, err := filepath.Glob("*.rego")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, name := range onDisk {
		if !strings.HasSuffix(name, "_test.rego") {
			want = append(want, name)
		}
	}
	got, err := fs.Glob(policies.Default(), "*")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("embedded %v, directory has %v: update the go:embed list", got, want)
	}
}

// TestRegoSuite runs the Rego unit tests (the same ones `opa test policies/`
// runs) so that `go test` alone guards the policy, and enforces the 90%
// coverage floor.
func TestRegoSuite(t *testing.T) {
	files, err := filepath.Glob("*.rego")
	if err != nil {
		t.Fatal(err)
	}
	modules := map[string]*ast.Module{}
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			t.Fatal(err)
		}
		modules[name] = m
	}
	cov := cover.New()
	ch, err := tester.NewRunner().
		SetModules(modules).
		SetCoverageQueryTracer(cov).
		SetCompiler(ast.NewCompiler().WithEnablePrintStatements(true)).
		RunTests(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for r := range ch {
		n++
		if r.Error != nil {
			t.Errorf("%s.%s: error: %v", r.Package, r.Name, r.Error)
		} else if r.Fail {
			t.Errorf("%s.%s: FAIL", r.Package, r.Name)
		}
	}
	if n == 0 {
		t.Fatal("no Rego tests ran")
	}
	report := cov.Report(modules)
	if report.Coverage < 90 {
		t.Errorf("Rego coverage %.1f%% is below 90%%", report.Coverage)
	}
	t.Logf("%d Rego tests, coverage %.1f%%", n, report.Coverage)
}
