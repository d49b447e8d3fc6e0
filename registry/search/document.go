package search

import (
	"encoding/json"
	"hash/fnv"
	"strings"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// Type is the kind of asset a result is, as the API names it.
type Type string

// The searchable types.
const (
	TypeServer Type = "server"
	TypeAgent  Type = "agent"
	TypeSkill  Type = "skill"
	TypeEntity Type = "entity"
)

// Types lists every searchable type, in the order results of equal score are listed.
var Types = []Type{TypeServer, TypeAgent, TypeSkill, TypeEntity}

// ParseType returns the type an API name denotes.
func ParseType(s string) (Type, bool) {
	for _, t := range Types {
		if string(t) == s {
			return t, true
		}
	}
	return "", false
}

// kindOf is the catalog kind a searchable type lives in.
func kindOf(t Type) catalog.Kind {
	switch t {
	case TypeServer:
		return catalog.KindServer
	case TypeAgent:
		return catalog.KindAgent
	case TypeSkill:
		return catalog.KindSkill
	}
	return catalog.KindEntity
}

// field is a lexical field of a document. Each has its own weight and length normalisation (BM25F).
type field uint8

const (
	fName    field = iota // namespace/name split into words, and an entity's type
	fTitle                // title
	fTags                 // tags
	fDesc                 // description
	fSubName              // names and titles of tools (servers) or card skills (agents)
	fSubText              // descriptions, tags and examples of tools or card skills
	fBody                 // SKILL.md body; an entity's searchable fields
	numFields
)

var fieldNames = [numFields]string{"name", "title", "tags", "description", "sub_name", "sub_text", "body"}

// source is what the index extracts from a catalog object: the texts per field, the sub-items (tools of a server,
// skills of an agent) and the texts the embedder turns into vectors.
type source struct {
	typ        Type
	kind       catalog.Kind
	key        string // the view's key
	name       string // namespace/name as shown
	entityType string
	title      string
	desc       string
	status     catalog.Status
	rev        int64
	fields     [numFields][]string // raw texts per field
	subs       []subSource
	// names are the strings an exact-name query matches: the full name, its last segment and the title.
	names []string
}

// subSource is a tool of a server or a skill of an agent card.
type subSource struct {
	name  string // the tool name or skill id, as the caller uses it
	title string // display name, when it differs
	text  string // description, tags, examples
}

// denseText is what the document vector embeds: what the asset is for, in words. The name's words help when they
// are words ("patient-scheduling"); opaque names ("kestrel") add little, so the title and description dominate.
func (s *source) denseText() string {
	var b strings.Builder
	b.WriteString(humanize(s.name))
	if s.title != "" {
		b.WriteString(". ")
		b.WriteString(s.title)
	}
	if s.desc != "" {
		b.WriteString(". ")
		b.WriteString(s.desc)
	}
	if tags := s.fields[fTags]; len(tags) > 0 {
		b.WriteString(". ")
		b.WriteString(humanize(strings.Join(tags, ", ")))
	}
	return b.String()
}

// subDenseText is what a sub-item's vector embeds.
func (s *subSource) denseText() string {
	t := humanize(s.name)
	if s.title != "" && !strings.EqualFold(s.title, s.name) {
		t += ". " + s.title
	}
	if s.text != "" {
		t += ". " + s.text
	}
	return t
}

// humanize turns an identifier into words for the embedder: separators become spaces ("get_vehicle_location" →
// "get vehicle location", "velocargo/driver-hos" → "velocargo driver hos").
func humanize(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', '/', '.', ':':
			return ' '
		}
		return r
	}, s)
}

// textHash identifies the dense texts of a source: when an update leaves them unchanged, the vectors are kept and
// the embedder is not asked again.
func (s *source) textHash() uint64 {
	h := fnv.New64a()
	h.Write([]byte(s.denseText()))
	for i := range s.subs {
		h.Write([]byte{0})
		h.Write([]byte(s.subs[i].denseText()))
	}
	return h.Sum64()
}

// extract builds the source of a searchable object; ok is false for kinds search does not index. types resolves an
// entity's type (for its searchable fields); it may return nil.
func extract(o catalog.Object, types func(name string) *catalog.EntityType) (*source, bool) {
	s := &source{kind: o.Kind(), key: o.Key(), rev: o.Metadata().Rev}
	var g *catalog.Governance
	switch x := o.(type) {
	case *catalog.Server:
		s.typ, s.name, g = TypeServer, x.Name, &x.Governance
		s.subs = serverTools(x)
	case *catalog.Agent:
		s.typ, s.name, g = TypeAgent, x.Name, &x.Governance
		for _, sk := range x.Card.Skills {
			text := sk.Description
			if len(sk.Tags) > 0 {
				text += ". " + strings.Join(sk.Tags, ", ")
			}
			if len(sk.Examples) > 0 {
				text += ". " + strings.Join(sk.Examples, ". ")
			}
			s.subs = append(s.subs, subSource{name: sk.ID, title: sk.Name, text: text})
		}
		if x.Card.Description != "" && x.Card.Description != x.Description {
			s.fields[fBody] = append(s.fields[fBody], x.Card.Description)
		}
	case *catalog.Skill:
		s.typ, s.name, g = TypeSkill, x.Name, &x.Governance
		_, body, err := catalog.ParseSkillMarkdown(x.Content)
		if err != nil {
			body = x.Content
		}
		s.fields[fBody] = append(s.fields[fBody], body)
		if fm := x.FrontMatter; fm.Name != "" {
			s.fields[fName] = append(s.fields[fName], fm.Name)
			s.names = append(s.names, fm.Name)
			if fm.Description != "" && fm.Description != x.Description {
				s.fields[fDesc] = append(s.fields[fDesc], fm.Description)
			}
		}
	case *catalog.Entity:
		s.typ, s.name, s.entityType, g = TypeEntity, x.Name, x.Type, &x.Governance
		s.fields[fName] = append(s.fields[fName], x.Type)
		if t := types(x.Type); t != nil {
			s.fields[fBody] = append(s.fields[fBody], searchableFields(x.Fields, t.Searchable)...)
		}
	default:
		return nil, false
	}
	s.title, s.desc, s.status = g.Title, g.Description, g.Status
	s.fields[fName] = append(s.fields[fName], s.name)
	if s.title != "" {
		s.fields[fTitle] = append(s.fields[fTitle], s.title)
	}
	s.fields[fTags] = append(s.fields[fTags], g.Tags...)
	if s.desc != "" {
		s.fields[fDesc] = append(s.fields[fDesc], s.desc)
	}
	for _, sub := range s.subs {
		s.fields[fSubName] = append(s.fields[fSubName], sub.name)
		if sub.title != "" && sub.title != sub.name {
			s.fields[fSubName] = append(s.fields[fSubName], sub.title)
		}
		if sub.text != "" {
			s.fields[fSubText] = append(s.fields[fSubText], sub.text)
		}
	}
	s.names = append(s.names, s.name)
	if _, slug, ok := strings.Cut(s.name, "/"); ok {
		s.names = append(s.names, slug)
	}
	if s.title != "" {
		s.names = append(s.names, s.title)
	}
	return s, true
}

// serverTools lists a server's tools once each: the default version's first, then tools only older or newer
// versions have (a caller may pin any version).
func serverTools(x *catalog.Server) []subSource {
	var out []subSource
	seen := map[string]bool{}
	add := func(v *catalog.ServerVersion) {
		for _, t := range v.Tools {
			if seen[t.Name] {
				continue
			}
			seen[t.Name] = true
			title := t.Title
			if title == "" && t.Annotations != nil {
				title = t.Annotations.Title
			}
			out = append(out, subSource{name: t.Name, title: title, text: t.Description})
		}
	}
	if d := x.DefaultVersion(); d != nil {
		add(d)
	}
	for i := range x.Versions {
		if !x.Versions[i].Retired {
			add(&x.Versions[i])
		}
	}
	return out
}

// searchableFields returns the string values of the named top-level fields of an entity (strings and arrays of
// strings, as the entity type's validation guarantees; anything else is skipped).
func searchableFields(raw json.RawMessage, names []string) []string {
	if len(names) == 0 || len(raw) == 0 {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	var out []string
	for _, n := range names {
		v, ok := obj[n]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			out = append(out, s)
			continue
		}
		var list []string
		if json.Unmarshal(v, &list) == nil {
			out = append(out, list...)
		}
	}
	return out
}

// normName canonicalises a name or query for exact-name matching: lower case, separators as single spaces.
func normName(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r == ' ' || r == '\t' || r == '-' || r == '_' || r == '.' || r == ':':
			space = b.Len() > 0
			continue
		case space:
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
