package identity

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestClaimPath(t *testing.T) {
	// Invariant: dots separate segments that walk nested objects, `\.` and `\\` are literal, and a verbatim
	// namespaced name (no escapes) matches a top-level claim before any nested walk.
	var claims map[string]any
	if err := json.Unmarshal([]byte(`{
		"sub": "alice",
		"ext": {"groups": ["a", "b"], "deep": {"x": "y"}},
		"https://example.com/groups": ["ns"],
		"https://example": {"com/groups": ["nested"]},
		"a.b": {"c": "dotted-key"},
		"back\\slash": "bs",
		"num": 3
	}`), &claims); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want any // nil: not found
	}{
		{"sub", "alice"},
		{"ext.groups", []any{"a", "b"}},
		{"ext.deep.x", "y"},
		{"ext.missing", nil},
		{"sub.x", nil}, // walking into a string
		{"https://example.com/groups", []any{"ns"}},
		{`https://example\.com/groups`, []any{"ns"}},
		{`a\.b.c`, "dotted-key"},
		{`back\\slash`, "bs"},
		{"num", float64(3)},
	}
	for _, tc := range tests {
		cp, err := ClaimPath(tc.path).compile()
		if err != nil {
			t.Fatalf("compile %q: %v", tc.path, err)
		}
		got, ok := cp.lookup(claims)
		if tc.want == nil {
			if ok {
				t.Errorf("%q: found %v, want nothing", tc.path, got)
			}
			continue
		}
		if !ok {
			t.Errorf("%q: not found", tc.path)
			continue
		}
		if gs, ok := got.([]any); ok {
			if !slices.Equal(gs, tc.want.([]any)) {
				t.Errorf("%q = %v, want %v", tc.path, got, tc.want)
			}
		} else if got != tc.want {
			t.Errorf("%q = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestClaimPathErrors(t *testing.T) {
	// Invariant: empty segments and dangling or unknown escapes are configuration errors.
	for _, p := range []string{"", ".", "a.", ".a", "a..b", `a\`, `a\b`, `\`} {
		if _, err := ClaimPath(p).compile(); err == nil {
			t.Errorf("compile %q: no error", p)
		}
	}
}

func TestAppendStrings(t *testing.T) {
	// Invariant: arrays contribute their non-empty string elements, a string contributes itself (or its
	// space-separated words for scopes), other types contribute nothing.
	claims := map[string]any{
		"arr": []any{"x", 1.0, "", "y", nil}, "str": "read  write", "num": 2.0, "obj": map[string]any{},
	}
	tests := []struct {
		path  string
		split bool
		want  []string
	}{
		{"arr", false, []string{"x", "y"}},
		{"str", false, []string{"read  write"}},
		{"str", true, []string{"read", "write"}},
		{"num", false, nil},
		{"obj", true, nil},
		{"absent", true, nil},
	}
	for _, tc := range tests {
		cp, err := ClaimPath(tc.path).compile()
		if err != nil {
			t.Fatal(err)
		}
		if got := cp.appendStrings(nil, claims, tc.split); !slices.Equal(got, tc.want) {
			t.Errorf("%s split=%v: %q, want %q", tc.path, tc.split, got, tc.want)
		}
	}
}

func TestDedupe(t *testing.T) {
	// Invariant: the first occurrence of each value stays, in order, for short and long inputs alike.
	long := make([]string, 0, 40)
	for i := range 40 {
		long = append(long, string(rune('a'+i%20)))
	}
	tests := []struct{ in, want []string }{
		{nil, nil},
		{[]string{"a"}, []string{"a"}},
		{[]string{"a", "b", "a", "c", "b"}, []string{"a", "b", "c"}},
		{long, slices.Collect(func(yield func(string) bool) {
			for i := range 20 {
				if !yield(string(rune('a' + i))) {
					return
				}
			}
		})},
	}
	for _, tc := range tests {
		if got := dedupe(slices.Clone(tc.in)); !slices.Equal(got, tc.want) {
			t.Errorf("dedupe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
