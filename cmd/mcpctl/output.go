package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// table is what a kind shows in table output.
type table[T any] struct {
	columns []string
	row     func(T) []string
}

// printItems prints a listing: a table, or a JSON or YAML sequence.
func printItems[T any](c *cli, t table[T], items []T, what string) error {
	switch c.output {
	case outJSON, outYAML:
		if items == nil {
			items = []T{}
		}
		return c.printValue(items)
	}
	if len(items) == 0 {
		fmt.Fprintf(c.stderr, "No %s found.\n", what)
		return nil
	}
	rows := make([][]string, len(items))
	for i, it := range items {
		rows[i] = t.row(it)
	}
	return writeTable(c.stdout, t.columns, rows)
}

// printValue writes v as indented JSON or as YAML, keeping the field order of the JSON encoding.
func (c *cli) printValue(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	if c.output != outYAML {
		_, err := c.stdout.Write(buf.Bytes())
		return err
	}
	node, err := jsonToYAML(buf.Bytes())
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	ye := yaml.NewEncoder(c.stdout)
	ye.SetIndent(2)
	if err := ye.Encode(node); err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	return ye.Close()
}

// writeTable aligns rows under a header with text/tabwriter. Cells are cleaned: registry data never reaches the
// terminal as control sequences, and a tab or newline cannot break the columns.
func writeTable(w io.Writer, columns []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(columns, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r))
		for i, s := range r {
			cells[i] = cell(s, maxCell)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// maxCell bounds a table cell; -o json shows everything.
const maxCell = 60

// cell cleans s for a table and cuts it to max runes, marking the cut; an empty cell shows as "-".
func cell(s string, max int) string {
	s = strings.Join(strings.Fields(clean(s)), " ")
	if s == "" {
		return "-"
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// clean replaces control characters (escape sequences, carriage returns, tabs, newlines) and invalid UTF-8 with a
// space, so text from the registry cannot rewrite the terminal it is printed to.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return ' '
		}
		return r
	}, s)
}

// jsonToYAML converts a JSON document to a YAML node tree in the same order, keeping numbers as written and
// quoting strings that YAML would read as another type ("1.0", "true", "null").
func jsonToYAML(data []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := jsonValue(dec)
	if err != nil {
		return nil, err
	}
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{n}}, nil
}

func jsonValue(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := jsonValue(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, strNode(k.(string)), v)
			}
			_, err := dec.Token() // }
			return n, err
		case '[':
			n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for dec.More() {
				v, err := jsonValue(dec)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, v)
			}
			_, err := dec.Token() // ]
			return n, err
		}
	case string:
		return strNode(t), nil
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(t.String(), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: t.String()}, nil
	case bool:
		v := "false"
		if t {
			v = "true"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: v}, nil
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
	return nil, errors.New("unexpected JSON token")
}

func strNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	// Multi-line text (a SKILL.md, a description) reads best as a literal block. yaml.v3 does not read back every
	// string it writes that way (newlines only, leading blanks), so those are written double-quoted.
	if strings.Contains(s, "\n") {
		n.Style = yaml.LiteralStyle
		if s[0] == ' ' || s[0] == '\n' || s[0] == '\t' || strings.TrimSpace(s) == "" {
			n.Style = yaml.DoubleQuotedStyle
		}
	}
	return n
}
