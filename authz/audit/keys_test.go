package audit

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEscapeKey(t *testing.T) {
	// Invariant: stored keys never start with '$' nor contain '.' or NUL, ordinary keys are unchanged, and UnescapeKey
	// restores the original exactly.
	tests := []struct{ key, stored string }{
		{"city", "city"},
		{"", ""},
		{"$schema", "%24schema"},
		{"a$b", "a$b"},
		{"user.name", "user%2Ename"},
		{"100%", "100%25"},
		{"%2E", "%252E"},
		{"$.%", "%24%2E%25"},
		{"é.日", "é%2E日"},
		{"a\x00b", "a%00b"},
		{"\x00%00", "%00%2500"},
	}
	for _, tc := range tests {
		if got := EscapeKey(tc.key); got != tc.stored {
			t.Errorf("EscapeKey(%q) = %q; want %q", tc.key, got, tc.stored)
		}
		if got := UnescapeKey(tc.stored); got != tc.key {
			t.Errorf("UnescapeKey(%q) = %q; want %q", tc.stored, got, tc.key)
		}
	}
}

func FuzzEscapeKey(f *testing.F) {
	for _, s := range []string{"", "$", ".", "%", "%24", "a.b", "$$..%%", "%2", "%2e", "\x00", "%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		stored := EscapeKey(key)
		if strings.HasPrefix(stored, "$") || strings.ContainsAny(stored, ".\x00") {
			t.Fatalf("EscapeKey(%q) = %q is not storable", key, stored)
		}
		if back := UnescapeKey(stored); back != key {
			t.Fatalf("UnescapeKey(EscapeKey(%q)) = %q", key, back)
		}
	})
}

func TestStorableArguments(t *testing.T) {
	// Invariant: keys are escaped at every depth, inside arrays too; the input is not modified; a map that needs
	// no change is returned as is.
	in := map[string]any{
		"$schema": "x",
		"ok":      map[string]any{"plain": 1},
		"list":    []any{map[string]any{"a.b": true}, "s"},
	}
	got := storableArguments(in)
	want := map[string]any{
		"%24schema": "x",
		"ok":        map[string]any{"plain": 1},
		"list":      []any{map[string]any{"a%2Eb": true}, "s"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
	if _, ok := in["$schema"]; !ok || in["list"].([]any)[0].(map[string]any)["a.b"] != true {
		t.Errorf("input modified: %v", in)
	}
	plain := map[string]any{"a": []any{map[string]any{"b": 1}}}
	out := storableArguments(plain)
	out["c"] = 2
	if _, shared := plain["c"]; !shared {
		t.Errorf("an unchanged map was copied")
	}
}
