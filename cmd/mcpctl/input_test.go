package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestReadDocuments(t *testing.T) {
	// Invariant: a file becomes the objects it holds, as JSON with their keys in the order written and scalars of
	// the type YAML gives them; each names its place in the file.
	tests := []struct {
		name   string
		source string
		in     string
		want   []string // JSON of each document
		where  []string
	}{
		{"one JSON object", "s.json", `{"name":"a/b","n":1.50}`, []string{`{"name":"a/b","n":1.50}`}, []string{"s.json"}},
		{"a JSON list", "s.json", ` [{"a":1},{"b":2}] `, []string{`{"a":1}`, `{"b":2}`}, []string{"s.json: item 1", "s.json: item 2"}},
		{"JSON read as YAML", "-", `{"name": "a/b", "tags": ["x"]}`, []string{`{"name":"a/b","tags":["x"]}`}, []string{"-"}},
		{"YAML keeps key order", "s.yaml", "zeta: 1\nalpha: 2\nmid: {b: 1, a: 2}\n",
			[]string{`{"zeta":1,"alpha":2,"mid":{"b":1,"a":2}}`}, []string{"s.yaml"}},
		{"YAML scalars", "s.yaml", "a: 1.0\nb: \"1.0\"\nc: 1.0.0\nd: true\ne: null\nf: ~\ng: 0x10\nh: 2026-01-02\ni: 'yes'\nj: yes\nk: -7\nl: 1e3\n",
			[]string{`{"a":1,"b":"1.0","c":"1.0.0","d":true,"e":null,"f":null,"g":16,"h":"2026-01-02","i":"yes","j":"yes","k":-7,"l":1000}`},
			[]string{"s.yaml"}},
		{"YAML list", "s.yaml", "- name: a/b\n- name: c/d\n", []string{`{"name":"a/b"}`, `{"name":"c/d"}`},
			[]string{"s.yaml: item 1", "s.yaml: item 2"}},
		{"several YAML documents", "s.yaml", "---\nname: a/b\n---\n# only a comment\n---\n- name: c/d\n- name: e/f\n",
			[]string{`{"name":"a/b"}`, `{"name":"c/d"}`, `{"name":"e/f"}`},
			[]string{"s.yaml: document 1", "s.yaml: document 3, item 1", "s.yaml: document 3, item 2"}},
		{"anchors and merge keys", "s.yaml", "- &base {description: shared, tags: [t], status: enabled}\n- <<: *base\n  name: x/y\n  status: disabled\n",
			[]string{`{"description":"shared","tags":["t"],"status":"enabled"}`, `{"name":"x/y","status":"disabled","description":"shared","tags":["t"]}`},
			[]string{"s.yaml: item 1", "s.yaml: item 2"}},
		{"multi-line string", "s.yaml", "content: |\n  ---\n  name: pdf\n  ---\n  body\n",
			[]string{`{"content":"---\nname: pdf\n---\nbody\n"}`}, []string{"s.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs, err := readDocuments(tt.source, []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var got, where []string
			for _, d := range docs {
				got = append(got, string(d.JSON))
				where = append(where, d.Where)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("documents (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.where, where); diff != "" {
				t.Fatalf("places (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadDocumentsErrors(t *testing.T) {
	// Invariant: a file that does not hold objects is refused with an *inputError naming the place and the reason.
	tests := []struct {
		name, source, in, want string
	}{
		{"empty", "s.yaml", "", "read s.yaml: holds no documents"},
		{"comments only", "s.yaml", "# nothing\n", "read s.yaml: holds no documents"},
		{"empty JSON", "s.json", " ", "read s.json: holds no documents"},
		{"an empty list", "s.json", "[]", "read s.json: holds no objects"},
		{"an empty YAML list", "s.yaml", "---\n[]\n---\n", "read s.yaml: holds no objects"},
		{"a scalar", "s.yaml", "hello\n", "read s.yaml: is not an object or a list of objects"},
		{"a list of scalars", "s.yaml", "- a\n- b\n", "read s.yaml: item 1: is not an object"},
		{"a list with a scalar", "s.json", `[{"a":1}, 2]`, "read s.json: item 2: is not an object"},
		{"broken JSON", "s.json", `{"a":`, "read s.json: not valid JSON: unexpected EOF"},
		{"YAML in a .json file", "s.json", "name: a/b\n", "read s.json: not valid JSON: invalid character"},
		{"trailing JSON", "s.json", `{"a":1} {"b":2}`, "read s.json: unexpected data after the JSON document"},
		{"broken YAML", "s.yaml", "a: [1, 2\n", "read s.yaml: document 1: not valid YAML"},
		{"duplicate key", "s.yaml", "a: 1\nb: 2\na: 3\n", `read s.yaml: line 3: key "a" appears twice`},
		{"non-scalar key", "s.yaml", "? [a]\n: 1\n", "read s.yaml: line 1: keys must be strings"},
		{"infinity", "s.yaml", "a: .inf\n", "read s.yaml: line 1: .inf has no JSON equivalent"},
		{"custom tag", "s.yaml", "a: !vault secret\n", "read s.yaml: line 1: the tag !vault is not supported"},
		{"merge of a scalar", "s.yaml", "a: &x 1\nb:\n  <<: *x\n", "read s.yaml: line 3: a merge key (<<) needs a mapping"},
		{"second document broken", "s.yaml", "a: 1\n---\n- 1\n", "read s.yaml: document 2, item 1: is not an object"},
		{"alias bomb", "s.yaml", aliasBomb(), "too large once its aliases are expanded"},
		{"deep nesting", "s.yaml", "a: " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n", "nested deeper than 200 levels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readDocuments(tt.source, []byte(tt.in))
			var ie *inputError
			if !errors.As(err, &ie) {
				t.Fatalf("got %v (%T), want *inputError", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// aliasBomb is a small YAML document whose aliases expand to 10^9 nodes.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 10; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func FuzzReadDocuments(f *testing.F) {
	for _, s := range []string{twoServers, `{"name":"a/b"}`, "[{}]", "- &a {x: 1}\n- <<: *a\n", "---\na: 1\n---\n- {b: 2}\n",
		"a: !!binary aGVsbG8=\n", "a: 2001-12-14t21:59:43.10-05:00\n"} {
		f.Add("s.yaml", []byte(s))
	}
	f.Add("s.json", []byte(`[{"a":[1,2,{"b":null}]}]`))
	f.Fuzz(func(t *testing.T, source string, data []byte) {
		docs, err := readDocuments(source, data)
		if err != nil {
			var ie *inputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v is %T, not *inputError", err, err)
			}
			return
		}
		if len(docs) == 0 {
			t.Fatal("no documents and no error")
		}
		for _, d := range docs {
			var obj map[string]any
			if err := json.Unmarshal(d.JSON, &obj); err != nil || obj == nil {
				t.Fatalf("document %s is not a JSON object: %q (%v)", d.Where, d.JSON, err)
			}
		}
	})
}

// FuzzYAMLOutputRoundTrip checks that what -o yaml prints reads back, through -f, as the same JSON values.
func FuzzYAMLOutputRoundTrip(f *testing.F) {
	for _, s := range []string{`{"a":"1.0","b":1.5,"c":[true,null,"null"],"d":{"e":"line\nbreak\n"}}`,
		`{"version":"2.0.0","n":-3,"s":"  spaced  ","t":"# not a comment","u":"key: value","v":"\u00e9\t"}`,
		`{"content":"---\nname: x\n---\n  indented\n\ttab\n"}`, `{"x":"yes","y":"~","z":"0x10","w":"2026-01-02"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var want map[string]any
		if json.Unmarshal(in, &want) != nil || want == nil {
			return
		}
		var out bytes.Buffer
		c := &cli{stdout: &out, output: outYAML}
		if err := c.printValue(want); err != nil {
			t.Fatalf("print: %v", err)
		}
		docs, err := readDocuments("out.yaml", out.Bytes())
		if err != nil {
			t.Fatalf("read back %q: %v", out.String(), err)
		}
		var got map[string]any
		if len(docs) != 1 || json.Unmarshal(docs[0].JSON, &got) != nil {
			t.Fatalf("read back %d documents from %q", len(docs), out.String())
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("round trip through\n%s\n(-want +got):\n%s", out.String(), diff)
		}
	})
}

func TestCell(t *testing.T) {
	// Invariant: a table cell is one line of printable text of bounded width, never a terminal control sequence.
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"", "-"},
		{"two\nlines\twith tab", "two lines with tab"},
		{"\x1b]0;pwned\x07title", "]0;pwned title"},
		{"right-to-left \u202eevil", "right-to-left evil"},
		{"bad \xff utf8", "bad utf8"},
		{strings.Repeat("é", 70), strings.Repeat("é", maxCell-1) + "…"},
	}
	for _, tt := range tests {
		if got := cell(tt.in, maxCell); got != tt.want {
			t.Errorf("cell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestYAMLOutputQuotesAmbiguousStrings(t *testing.T) {
	var out bytes.Buffer
	c := &cli{stdout: &out, output: outYAML}
	if err := c.printValue(map[string]any{"a": "1.0", "b": "true", "c": 2.5, "d": "multi\nline\n"}); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := yaml.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back["a"] != "1.0" || back["b"] != "true" || back["c"] != 2.5 || back["d"] != "multi\nline\n" {
		t.Fatalf("YAML output read back as %#v:\n%s", back, out.String())
	}
	if !strings.Contains(out.String(), "d: |\n") {
		t.Fatalf("a multi-line string is not a literal block:\n%s", out.String())
	}
}

// BenchmarkReadDocuments reads a file of 500 servers with 10 tools each, as a catalog import would.
func BenchmarkReadDocuments(b *testing.B) {
	var sb strings.Builder
	for i := range 500 {
		fmt.Fprintf(&sb, "- name: team-%d/server-%d\n  description: Server %d\n  tags: [a, b]\n  versions:\n", i%20, i, i)
		sb.WriteString("    - version: 1.0.0\n      url: https://s.example.com/mcp\n      tools:\n")
		for j := range 10 {
			fmt.Fprintf(&sb, "        - {name: tool_%d, description: Does thing %d, inputSchema: {type: object}}\n", j, j)
		}
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		docs, err := readDocuments("s.yaml", data)
		if err != nil || len(docs) != 500 {
			b.Fatalf("%d documents, %v", len(docs), err)
		}
	}
}
