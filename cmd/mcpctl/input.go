package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxInput bounds a -f file; the registry takes at most 1 MiB per object.
const maxInput = 32 << 20

// maxNodes bounds the YAML nodes one file may expand to, so that aliases cannot blow a small file up.
const maxNodes = 1_000_000

// inputError is a file that cannot be read as documents. Doc is the 1-based document (and Item the 1-based list
// item) it is about; 0 when it is about the whole file.
type inputError struct {
	Source    string
	Doc, Item int
	Reason    string
}

func (e *inputError) Error() string {
	return "read " + where(e.Source, e.Doc, e.Item) + ": " + e.Reason
}

// where names a place in a file: "servers.yaml", "servers.yaml: item 2", "all.yaml: document 3, item 1".
func where(source string, doc, item int) string {
	s := source
	sep := ": "
	if doc > 0 {
		s += fmt.Sprintf(": document %d", doc)
		sep = ", "
	}
	if item > 0 {
		s += fmt.Sprintf("%sitem %d", sep, item)
	}
	return s
}

// document is one object read from a file, as JSON.
type document struct {
	JSON json.RawMessage
	// Where names it in messages: "servers.yaml: document 1, item 2".
	Where string
}

// readFile reads the documents of path, or of stdin for "-".
func (c *cli) readFile(path string) ([]document, error) {
	r, source := c.stdin, "stdin"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		defer f.Close()
		r, source = f, path
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", source, err)
	}
	if len(data) > maxInput {
		return nil, &inputError{Source: source, Reason: fmt.Sprintf("larger than %d MiB", maxInput>>20)}
	}
	return readDocuments(source, data)
}

// readDocuments splits data into objects. It is JSON or YAML: one object, a list of objects, or (YAML) several
// documents separated by "---", each an object or a list. A .json source must be JSON; anything else is read as
// YAML, which also reads JSON. Each object comes back as JSON with its keys in the order written.
func readDocuments(source string, data []byte) ([]document, error) {
	read := readYAML
	if strings.HasSuffix(strings.ToLower(source), ".json") {
		read = readJSON
	}
	docs, err := read(source, data)
	if err == nil && len(docs) == 0 {
		return nil, &inputError{Source: source, Reason: "holds no objects (an empty list)"}
	}
	return docs, err
}

func readJSON(source string, data []byte) ([]document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var top json.RawMessage
	if err := dec.Decode(&top); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &inputError{Source: source, Reason: "holds no documents"}
		}
		return nil, &inputError{Source: source, Reason: "not valid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &inputError{Source: source, Reason: "unexpected data after the JSON document"}
	}
	return split(source, 0, top)
}

// split turns one top-level value into documents: an object is one, a list gives one per item. doc numbers the
// value among several YAML documents; 0 when it is the only one.
func split(source string, doc int, top json.RawMessage) ([]document, error) {
	switch firstByte(top) {
	case '{':
		return []document{{JSON: top, Where: where(source, doc, 0)}}, nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(top, &items); err != nil {
			return nil, &inputError{Source: source, Doc: doc, Reason: err.Error()}
		}
		out := make([]document, 0, len(items))
		for i, it := range items {
			if firstByte(it) != '{' {
				return nil, &inputError{Source: source, Doc: doc, Item: i + 1, Reason: "is not an object"}
			}
			out = append(out, document{JSON: it, Where: where(source, doc, i+1)})
		}
		return out, nil
	}
	return nil, &inputError{Source: source, Doc: doc, Reason: "is not an object or a list of objects"}
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func readYAML(source string, data []byte) ([]document, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	type numbered struct {
		n   *yaml.Node
		doc int
	}
	var nodes []numbered
	for doc := 1; ; doc++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &inputError{Source: source, Doc: doc, Reason: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
		}
		// An empty document (comments only, or nothing between two ---) holds a null; it is skipped.
		if len(n.Content) > 0 && (n.Content[0].Kind != yaml.ScalarNode || n.Content[0].ShortTag() != "!!null") {
			nodes = append(nodes, numbered{n.Content[0], doc})
		}
	}
	if len(nodes) == 0 {
		return nil, &inputError{Source: source, Reason: "holds no documents"}
	}
	var out []document
	budget := maxNodes
	for _, nd := range nodes {
		doc := nd.doc
		if len(nodes) == 1 {
			doc = 0
		}
		var buf bytes.Buffer
		if err := yamlToJSON(&buf, nd.n, &budget, 0); err != nil {
			return nil, &inputError{Source: source, Doc: doc, Reason: err.Error()}
		}
		docs, err := split(source, doc, buf.Bytes())
		if err != nil {
			return nil, err
		}
		out = append(out, docs...)
	}
	return out, nil
}

// maxDepth bounds nesting, as the registry's decoder would anyway.
const maxDepth = 200

// yamlToJSON writes a YAML node as JSON, keeping the key order. Scalars keep the type YAML 1.2's core schema gives
// them (as yaml.v3 resolves them): unquoted 1.0 is a number and "1.0" a string.
func yamlToJSON(w *bytes.Buffer, n *yaml.Node, budget *int, depth int) error {
	if *budget--; *budget < 0 {
		return errors.New("too large once its aliases are expanded")
	}
	if depth > maxDepth {
		return fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	switch n.Kind {
	case yaml.AliasNode:
		return yamlToJSON(w, n.Alias, budget, depth+1)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			w.WriteString("null")
			return nil
		}
		return yamlToJSON(w, n.Content[0], budget, depth)
	case yaml.SequenceNode:
		w.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				w.WriteByte(',')
			}
			if err := yamlToJSON(w, c, budget, depth+1); err != nil {
				return err
			}
		}
		w.WriteByte(']')
		return nil
	case yaml.MappingNode:
		return mappingToJSON(w, n, budget, depth)
	case yaml.ScalarNode:
		return scalarToJSON(w, n)
	}
	return fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// mappingToJSON writes a mapping; merge keys (<<) add the keys of the merged mappings that it does not set itself.
func mappingToJSON(w *bytes.Buffer, n *yaml.Node, budget *int, depth int) error {
	type pair struct {
		key string
		val *yaml.Node
	}
	var own, merged []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			srcs := []*yaml.Node{v}
			if resolve(v).Kind == yaml.SequenceNode {
				srcs = resolve(v).Content
			}
			for _, s := range srcs {
				m := resolve(s)
				if m.Kind != yaml.MappingNode {
					return fmt.Errorf("line %d: a merge key (<<) needs a mapping", k.Line)
				}
				for j := 0; j+1 < len(m.Content); j += 2 {
					if mk := resolve(m.Content[j]); mk.Kind == yaml.ScalarNode {
						merged = append(merged, pair{mk.Value, m.Content[j+1]})
					}
				}
			}
			continue
		}
		k = resolve(k)
		if k.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: keys must be strings", k.Line)
		}
		if seen[k.Value] {
			return fmt.Errorf("line %d: key %q appears twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		own = append(own, pair{k.Value, v})
	}
	for _, p := range merged {
		if !seen[p.key] {
			seen[p.key] = true
			own = append(own, p)
		}
	}
	w.WriteByte('{')
	for i, p := range own {
		if i > 0 {
			w.WriteByte(',')
		}
		writeJSONString(w, p.key)
		w.WriteByte(':')
		if err := yamlToJSON(w, p.val, budget, depth+1); err != nil {
			return err
		}
	}
	w.WriteByte('}')
	return nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func scalarToJSON(w *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!null":
		w.WriteString("null")
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return fmt.Errorf("line %d: %q is not a boolean", n.Line, n.Value)
		}
		w.WriteString(strconv.FormatBool(b))
	case "!!int":
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %q is not an integer", n.Line, n.Value)
		}
		switch x := v.(type) {
		case int:
			w.WriteString(strconv.Itoa(x))
		case int64:
			w.WriteString(strconv.FormatInt(x, 10))
		case uint64:
			w.WriteString(strconv.FormatUint(x, 10))
		case float64:
			return writeFloat(w, n, x)
		default:
			return fmt.Errorf("line %d: %q is not an integer", n.Line, n.Value)
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return fmt.Errorf("line %d: %q is not a number", n.Line, n.Value)
		}
		return writeFloat(w, n, f)
	case "!!str", "!!timestamp", "!!binary":
		// A timestamp or binary stays the text it was written as; the registry decides what it means.
		writeJSONString(w, n.Value)
	default:
		return fmt.Errorf("line %d: the tag %s is not supported", n.Line, n.Tag)
	}
	return nil
}

func writeFloat(w *bytes.Buffer, n *yaml.Node, f float64) error {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("line %d: %s has no JSON equivalent", n.Line, n.Value)
	}
	w.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	return nil
}

func writeJSONString(w *bytes.Buffer, s string) {
	if plain(s) {
		w.WriteByte('"')
		w.WriteString(s)
		w.WriteByte('"')
		return
	}
	b, _ := json.Marshal(s) // a string always encodes
	w.Write(b)
}

// plain reports whether s needs no escaping in JSON: printable ASCII without quotes or backslashes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
