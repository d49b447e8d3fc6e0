package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// EntityType is an admin-defined kind of asset: its fields are described by a JSON Schema (draft 2020-12), and the
// fields named in Searchable feed the search index.
type EntityType struct {
	Name        string          `json:"name"`   // singular, e.g. "dataset"
	Plural      string          `json:"plural"` // e.g. "datasets"
	Description string          `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema"`
	Searchable  []string        `json:"searchable,omitempty"`
	Meta        `bson:",inline"`
}

// Entity is one asset of a custom type.
type Entity struct {
	Type       string `json:"type"`
	Name       string `json:"name"`
	Governance `bson:",inline"`
	Fields     json.RawMessage `json:"fields"`
	Meta       `bson:",inline"`
}

// EntityKey is the key of an entity: its type and its name.
func EntityKey(typ, name string) string { return typ + ":" + name }

// Key implements Object.
func (t *EntityType) Key() string { return t.Name }

// Kind implements Object.
func (t *EntityType) Kind() Kind { return KindEntityType }

// Metadata implements Object.
func (t *EntityType) Metadata() *Meta { return &t.Meta }

// Normalize implements Object.
func (t *EntityType) Normalize() {
	t.Name = strings.TrimSpace(t.Name)
	t.Plural = strings.TrimSpace(t.Plural)
	if t.Plural == "" && t.Name != "" {
		t.Plural = t.Name + "s"
	}
	t.Description = strings.TrimSpace(t.Description)
}

// Validate implements Object. The schema must compile as JSON Schema 2020-12, must describe an object, and every
// searchable field must be a top-level string or string-array property.
func (t *EntityType) Validate() error {
	var p problems
	if err := checkTypeName(t.Name); err != nil {
		p.add("name", "%v", err)
	}
	if err := checkTypeName(t.Plural); err != nil {
		p.add("plural", "%v", err)
	}
	if len(t.Description) > MaxDescriptionLen {
		p.add("description", "must be at most %d characters", MaxDescriptionLen)
	}
	if len(t.Searchable) > MaxSearchableFields {
		p.add("searchable", "at most %d fields", MaxSearchableFields)
	}
	switch {
	case len(t.Schema) == 0:
		p.add("schema", "is required")
	case len(t.Schema) > MaxSchemaBytes:
		p.add("schema", "must be at most %d bytes", MaxSchemaBytes)
	default:
		if _, err := CompileSchema(t.Schema); err != nil {
			p.add("schema", "%v", err)
			break
		}
		var top struct {
			Type       any                        `json:"type"`
			Properties map[string]json.RawMessage `json:"properties"`
		}
		_ = json.Unmarshal(t.Schema, &top)
		if top.Type != "object" {
			p.add("schema.type", "must be \"object\"")
		}
		for i, f := range t.Searchable {
			raw, ok := top.Properties[f]
			if !ok {
				p.add(indexed("searchable", i), "%q is not a property of the schema", f)
				continue
			}
			var prop struct {
				Type  any `json:"type"`
				Items struct {
					Type any `json:"type"`
				} `json:"items"`
			}
			_ = json.Unmarshal(raw, &prop)
			if prop.Type != "string" && !(prop.Type == "array" && prop.Items.Type == "string") {
				p.add(indexed("searchable", i), "%q must be a string or an array of strings", f)
			}
		}
	}
	return p.err()
}

func checkTypeName(s string) error {
	if s == "" {
		return fmt.Errorf("is required")
	}
	if len(s) > 63 {
		return fmt.Errorf("must be at most 63 characters")
	}
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' && i > 0 || r == '-' && i > 0) {
			return fmt.Errorf("must start with a lowercase letter and contain only lowercase letters, digits and '-'")
		}
	}
	return nil
}

// Key implements Object.
func (e *Entity) Key() string { return EntityKey(e.Type, e.Name) }

// Kind implements Object.
func (e *Entity) Kind() Kind { return KindEntity }

// Metadata implements Object.
func (e *Entity) Metadata() *Meta { return &e.Meta }

// Normalize implements Object.
func (e *Entity) Normalize() { e.Governance.normalize() }

// Validate implements Object. Validation against the type's schema needs the type: see ValidateFields.
func (e *Entity) Validate() error {
	var p problems
	if err := checkTypeName(e.Type); err != nil {
		p.add("type", "%v", err)
	}
	if err := checkName(e.Name); err != nil {
		p.add("name", "%v", err)
	}
	e.Governance.validate(&p, false)
	switch {
	case len(e.Fields) == 0:
		p.add("fields", "is required")
	case len(e.Fields) > MaxSchemaBytes:
		p.add("fields", "must be at most %d bytes", MaxSchemaBytes)
	}
	return p.err()
}

// Schema is a compiled entity-type schema.
type Schema struct {
	s *jsonschema.Schema
}

// noLoader refuses every external reference: a schema may not make the registry read files or fetch URLs.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external reference %q is not allowed; schemas must be self-contained", url)
}

// CompileSchema compiles a JSON Schema (draft 2020-12 unless it says otherwise). External $refs are refused.
func CompileSchema(raw json.RawMessage) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("is not valid JSON")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	const loc = "mcpgw:///entity-type.json"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("is not a valid schema: %s", firstLine(err.Error()))
	}
	s, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("is not a valid JSON Schema 2020-12: %s", firstLine(err.Error()))
	}
	return &Schema{s: s}, nil
}

// ValidateFields checks an entity's fields against its type's compiled schema and names every failing field.
func (s *Schema) ValidateFields(fields json.RawMessage) error {
	var p problems
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(fields))
	if err != nil {
		p.add("fields", "must be valid JSON")
		return p.err()
	}
	err = s.s.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		p.add("fields", "%s", firstLine(err.Error()))
		return p.err()
	}
	collectLeaves(&p, ve.BasicOutput())
	if len(p.fields) == 0 {
		p.add("fields", "does not match the entity type's schema")
	}
	return p.err()
}

func collectLeaves(p *problems, u *jsonschema.OutputUnit) {
	if u == nil {
		return
	}
	if u.Error != nil && len(u.Errors) == 0 {
		field := "fields"
		if loc := strings.Trim(u.InstanceLocation, "/"); loc != "" {
			field += "." + strings.ReplaceAll(loc, "/", ".")
		}
		p.add(field, "%s", u.Error.String())
	}
	for i := range u.Errors {
		collectLeaves(p, &u.Errors[i])
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}
