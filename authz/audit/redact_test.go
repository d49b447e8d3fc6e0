package audit

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func mustRedactor(t testing.TB, cfg RedactConfig) *Redactor {
	t.Helper()
	r, err := NewRedactor(cfg)
	if err != nil {
		t.Fatalf("NewRedactor: %v", err)
	}
	return r
}

func TestRedact(t *testing.T) {
	// Invariant: a matching key is removed or hashed at any depth (inside arrays too), the first matching rule
	// decides, non-matching keys are kept, and the input is never modified.
	r := mustRedactor(t, RedactConfig{HashKey: testKey, MaxStringBytes: 32, Rules: []Rule{
		{Key: "password", Action: ActionRemove},
		{Key: "*token*", Action: ActionHash},
		{Regex: `^(?i)x-api-key$`, Action: ActionRemove},
		{Key: "email", Action: ActionHash},
		{Key: "e?ail", Action: ActionRemove}, // shadowed for "email" by the rule above
	}})
	h := r.Hash
	tests := []struct {
		name string
		in   map[string]any
		want map[string]any
	}{
		{name: "nil", in: nil, want: nil},
		{name: "top level",
			in:   map[string]any{"Password": "p", "access_token": "t", "X-API-Key": "k", "city": "Paris"},
			want: map[string]any{"access_token": h("t"), "city": "Paris"}},
		{name: "nested objects and arrays",
			in: map[string]any{"auth": map[string]any{"password": "p", "user": "u", "RefreshToken": map[string]any{"v": 1}},
				"recipients": []any{map[string]any{"email": "a@x", "name": "A"}, "plain", json.Number("3")}},
			want: map[string]any{"auth": map[string]any{"user": "u", "RefreshToken": h(map[string]any{"v": 1})},
				"recipients": []any{map[string]any{"email": h("a@x"), "name": "A"}, "plain", json.Number("3")}}},
		{name: "case variants under Unicode folding",
			// "ſ" (U+017F) and "K" (Kelvin sign) fold to s and k: encoding/json reads "paſsword" into a Password field.
			in:   map[string]any{"paſsword": "p", "PAſſWORD": "p", "refresh_to\u212aen": "t", "CITY": "Paris"},
			want: map[string]any{"refresh_to\u212aen": h("t"), "CITY": "Paris"}},
		{name: "first rule wins", in: map[string]any{"email": "a@x", "eMail": "b@x", "exail": "c"},
			want: map[string]any{"email": h("a@x"), "eMail": h("b@x")}},
		{name: "long strings are cut at a rune boundary",
			in:   map[string]any{"q": strings.Repeat("é", 20)},
			want: map[string]any{"q": strings.Repeat("é", 9) + truncatedSuffix}},
		{name: "typed values are normalised so their keys are seen",
			in:   map[string]any{"h": map[string]string{"Token": "t", "k": "v"}, "n": []int{1, 2}},
			want: map[string]any{"h": map[string]any{"Token": h("t"), "k": "v"}, "n": []any{json.Number("1"), json.Number("2")}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := json.Marshal(tc.in)
			got := r.Redact(tc.in)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Redact mismatch (-want +got):\n%s", diff)
			}
			after, _ := json.Marshal(tc.in)
			if string(before) != string(after) {
				t.Errorf("input modified: %s -> %s", before, after)
			}
			if len(before) > 0 && len(got) > 0 {
				if b, _ := json.Marshal(got); len(b) > 0 && strings.Contains(string(b), `"p"`) {
					t.Errorf("password value leaked: %s", b)
				}
			}
		})
	}
}

func TestHash(t *testing.T) {
	// Invariant: equal values hash equally (map order does not matter), different values or keys differ, and the
	// output is HashPrefix plus 64 hex digits.
	a := mustRedactor(t, RedactConfig{HashKey: testKey, Rules: []Rule{{Key: "k", Action: ActionHash}}})
	b := mustRedactor(t, RedactConfig{HashKey: []byte("another key of 32 bytes........."), Rules: []Rule{{Key: "k", Action: ActionHash}}})
	m1 := map[string]any{"x": 1, "y": []any{"a", true}}
	m2 := map[string]any{"y": []any{"a", true}, "x": 1}
	if a.Hash(m1) != a.Hash(m2) {
		t.Errorf("equal maps hash differently")
	}
	if a.Hash("v") == a.Hash("w") || a.Hash("1") == a.Hash(1) {
		t.Errorf("different values hash equally")
	}
	if a.Hash("v") == b.Hash("v") {
		t.Errorf("different keys hash equally")
	}
	if h := a.Hash("v"); !strings.HasPrefix(h, HashPrefix) || len(h) != len(HashPrefix)+64 {
		t.Errorf("hash %q has the wrong shape", h)
	}
	if h := a.Hash(make(chan int)); !strings.HasPrefix(h, HashPrefix) {
		t.Errorf("unmarshalable value: %q", h)
	}
}

func TestRedactConfigValidate(t *testing.T) {
	// Invariant: a configuration that cannot redact as written is refused at start.
	tests := []struct {
		name string
		cfg  RedactConfig
		ok   bool
	}{
		{name: "empty", cfg: RedactConfig{}, ok: true},
		{name: "remove needs no key", cfg: RedactConfig{Rules: []Rule{{Key: "password", Action: ActionRemove}}}, ok: true},
		{name: "hash without key", cfg: RedactConfig{Rules: []Rule{{Key: "token", Action: ActionHash}}}},
		{name: "hash with short key", cfg: RedactConfig{HashKey: []byte("short"), Rules: []Rule{{Key: "token", Action: ActionHash}}}},
		{name: "no matcher", cfg: RedactConfig{Rules: []Rule{{Action: ActionRemove}}}},
		{name: "two matchers", cfg: RedactConfig{Rules: []Rule{{Key: "a", Regex: "a", Action: ActionRemove}}}},
		{name: "bad regex", cfg: RedactConfig{Rules: []Rule{{Regex: "(", Action: ActionRemove}}}},
		{name: "unknown action", cfg: RedactConfig{Rules: []Rule{{Key: "a", Action: "mask"}}}},
		{name: "negative max string", cfg: RedactConfig{MaxStringBytes: -1}},
		{name: "max string shorter than the marker", cfg: RedactConfig{MaxStringBytes: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRedactor(tc.cfg)
			if (err == nil) != tc.ok {
				t.Errorf("NewRedactor err = %v; want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestGlobIsLiteralExceptWildcards(t *testing.T) {
	// Invariant: only '*' and '?' are special in a key glob; regexp metacharacters match themselves.
	r := mustRedactor(t, RedactConfig{Rules: []Rule{{Key: "a.b+(c)", Action: ActionRemove}, {Key: "x?z*", Action: ActionRemove}}})
	got := r.Redact(map[string]any{"a.b+(c)": 1, "aXb+(c)": 2, "xyz": 3, "xyzzy": 4, "xz": 5})
	want := map[string]any{"aXb+(c)": 2, "xz": 5}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestGlobMatch(t *testing.T) {
	// Invariant: '*' matches any run (empty included), '?' exactly one rune, everything else itself, over the whole
	// name.
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything", true},
		{"a", "a", true},
		{"a", "ab", false},
		{"*token*", "access_token_v2", true},
		{"*token*", "tokens", true},
		{"*token*", "toke", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyyd", false},
		{"a*b", "abab", true},
		{"?", "é", true},
		{"??", "é", false},
		{"x?z", "x日z", true},
		{"*a", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", false},
		{"**", "x", true},
	}
	for _, tc := range tests {
		if got := globMatch(tc.pattern, tc.name); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v; want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}
