package static

import (
	"slices"
	"strings"
	"testing"
	"unicode"
)

func TestTokenize(t *testing.T) {
	// Invariant: tokens are lower-cased runs of letters and digits; an
	// apostrophe survives only inside a word; everything else separates.
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   ", nil},
		{"Hello, World!", []string{"hello", "world"}},
		{"create_jira-issue v2", []string{"create", "jira", "issue", "v2"}},
		{"don't stop", []string{"don't", "stop"}},
		{"don’t", []string{"don't"}},
		{"'quoted' users'", []string{"quoted", "users"}},
		{"user's guide", []string{"user's", "guide"}},
		{"Übergröße café", []string{"übergröße", "café"}},
		{"ΑΘΗΝΑ", []string{"αθηνα"}},
		{"k8s/S3 ec2", []string{"k8s", "s3", "ec2"}},
		{"a\u00a0b\tc\nd", []string{"a", "b", "c", "d"}},
		{"''''", nil},
		{"x'", []string{"x"}},
		{"日本語 text", []string{"日本語", "text"}},
	}
	for _, tt := range tests {
		if got := Tokenize(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"", "Hello, World", "don't", "’'’", "\xff\xfe", "ǅungla", "İstanbul"} {
		f.Add(s)
	}
	// Invariant: never panics; every token is non-empty, holds no separator,
	// does not start or end with an apostrophe, and tokenizes to itself.
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range Tokenize(s) {
			if tok == "" || strings.HasPrefix(tok, "'") || strings.HasSuffix(tok, "'") {
				t.Fatalf("bad token %q from %q", tok, s)
			}
			for _, r := range tok {
				if r != '\'' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					t.Fatalf("token %q from %q holds separator %q", tok, s, r)
				}
			}
			if again := Tokenize(tok); len(again) != 1 || again[0] != tok {
				t.Fatalf("token %q re-tokenizes to %q", tok, again)
			}
		}
	})
}
