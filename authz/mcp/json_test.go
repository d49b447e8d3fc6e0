package mcp

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateJSON(t *testing.T) {
	// Invariant: the scanner accepts exactly RFC 8259 JSON minus what could be read two ways (duplicate keys, invalid
	// UTF-8, unpaired surrogates) and minus nesting beyond the limit; each refusal names its reason.
	tests := []struct {
		in   string
		want error // nil: accepted
	}{
		{`{}`, nil},
		{` [ ] `, nil},
		{`{"a":[1,-0,0.5,1e10,-2.5E-3,true,false,null,"s"]}`, nil},
		{`"\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00"`, nil},
		{`"é😀"`, nil},
		{`{"a":1,"b":{"a":2}}`, nil},
		{`{"a":1,"a":2}`, errDuplicateKey},
		{`{"a":1,"\u0061":2}`, errDuplicateKey},
		{`{"` + strings.Repeat(`k":0,"`, 1) + `k":1}`, errDuplicateKey},
		{"\"\xff\"", errInvalidUTF8},
		{"\"\xed\xa0\x80\"", errInvalidUTF8}, // a surrogate encoded directly in UTF-8
		{`"\ud800"`, errLoneSurrogate},
		{`"\udc00"`, errLoneSurrogate},
		{`"\ud800\u0041"`, errLoneSurrogate},
		{`{} {}`, errTrailingData},
		{`[1,]`, errSyntax},
		{`{"a":1,}`, errSyntax},
		{`{"a" 1}`, errSyntax},
		{`{a:1}`, errSyntax},
		{`01`, errTrailingData},
		{`1.`, errSyntax},
		{`.5`, errSyntax},
		{`1e`, errSyntax},
		{`-`, errSyntax},
		{`+1`, errSyntax},
		{`tru`, errSyntax},
		{`nul`, errSyntax},
		{"\"a\tb\"", errSyntax},
		{`"\x"`, errSyntax},
		{`"\u12"`, errSyntax},
		{`"abc`, errSyntax},
		{"\ufeff{}", errSyntax},
		{``, errSyntax},
		{`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, errDepth},
	}
	for _, tc := range tests {
		err := validateJSON([]byte(tc.in), DefaultMaxDepth)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("validateJSON(%q) = %v; want %v", tc.in, err, tc.want)
		}
	}
}

func TestDuplicateKeysInLargeObjects(t *testing.T) {
	// Invariant: duplicate detection is exact whether an object is small (linear scan) or large (map), and a
	// nested object's keys never collide with its parent's.
	var b strings.Builder
	b.WriteString("{")
	for i := range 100 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + strings.Repeat("x", i) + `":{"k":1,"kx":2}`)
	}
	doc := b.String() + "}"
	if err := validateJSON([]byte(doc), DefaultMaxDepth); err != nil {
		t.Fatalf("distinct keys refused: %v", err)
	}
	for _, dup := range []string{`"k"`, `"kxxxxxxxxxxxxxxxxxxxxx"`, `"k\u0078"`} {
		bad := doc[:len(doc)-1] + "," + dup + ":0}"
		if err := validateJSON([]byte(bad), DefaultMaxDepth); !errors.Is(err, errDuplicateKey) {
			t.Errorf("duplicate %s: err = %v", dup, err)
		}
	}
}

// FuzzJSON checks the scanner against encoding/json: whatever the scanner accepts, encoding/json accepts and decodes
// to the same values; whatever encoding/json refuses, the scanner refuses.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[1,"a",{"b":null}]`, `"\ud83d\ude00"`, `{"a":1,"a":2}`, `-0.0e+1`, `"\u00"`, "\"\xc3\"", `[[[]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := validateJSON(data, DefaultMaxDepth)
		if !json.Valid(data) {
			if err == nil {
				t.Fatalf("scanner accepted what encoding/json refuses: %q", data)
			}
			return
		}
		if err != nil {
			return // stricter than encoding/json by design
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("encoding/json: %v", err)
		}
		if diff := cmp.Diff(want, decodeValue(bytes.TrimLeft(data, " \t\r\n"))); diff != "" {
			t.Fatalf("decodeValue(%q) mismatch (-encoding/json +got):\n%s", data, diff)
		}
	})
}
