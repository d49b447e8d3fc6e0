package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/client"
)

// The kinds mcpctl manages, with their table columns. Every table ends with REV, the revision a conditional
// delete (--rev) or an apply of a saved document checks.

func fixed[T catalog.Object](col func(*client.Client) *client.Collection[T]) func(*client.Client, *kindFlags) (*client.Collection[T], error) {
	return func(c *client.Client, _ *kindFlags) (*client.Collection[T], error) { return col(c), nil }
}

func keyOf[T catalog.Object](o T) string { return o.Key() }

func rev(m *catalog.Meta) string { return strconv.FormatInt(m.Rev, 10) }

// titleOr shows the title, or the description when there is none.
func titleOr(g *catalog.Governance) string {
	if g.Title != "" {
		return g.Title
	}
	return g.Description
}

func count[S ~[]E, E any](s S) string { return strconv.Itoa(len(s)) }

func list(s []string) string { return strings.Join(s, ",") }

func serverKind() kind[*catalog.Server] {
	return kind[*catalog.Server]{
		name: "servers", singular: "server", id: catalog.KindServer, nameArg: "NAMESPACE/NAME", namespaced: true,
		collection: fixed((*client.Client).Servers), address: keyOf[*catalog.Server],
		table: table[*catalog.Server]{
			columns: []string{"NAME", "TITLE/DESCRIPTION", "STATUS", "VERSIONS", "TOOLS", "REV"},
			row: func(s *catalog.Server) []string {
				return []string{s.Name, titleOr(&s.Governance), string(s.Status), serverVersions(s), serverTools(s), rev(&s.Meta)}
			},
		},
	}
}

// serverVersions lists the versions newest first, the default one marked with *.
func serverVersions(s *catalog.Server) string {
	vs := make([]string, len(s.Versions))
	for i, v := range s.Versions {
		vs[i] = v.Version
		if v.Default {
			vs[i] += "*"
		}
	}
	return list(vs)
}

// serverTools counts the tools of the default version (of the newest when none is default).
func serverTools(s *catalog.Server) string {
	v := s.DefaultVersion()
	if v == nil && len(s.Versions) > 0 {
		v = &s.Versions[0]
	}
	if v == nil {
		return "0"
	}
	return count(v.Tools)
}

func agentKind() kind[*catalog.Agent] {
	return kind[*catalog.Agent]{
		name: "agents", singular: "agent", id: catalog.KindAgent, nameArg: "NAMESPACE/NAME", namespaced: true,
		collection: fixed((*client.Client).Agents), address: keyOf[*catalog.Agent],
		table: table[*catalog.Agent]{
			columns: []string{"NAME", "TITLE/DESCRIPTION", "STATUS", "VERSION", "SKILLS", "URL", "REV"},
			row: func(a *catalog.Agent) []string {
				return []string{a.Name, titleOr(&a.Governance), string(a.Status), a.Card.Version, count(a.Card.Skills),
					a.Card.URL, rev(&a.Meta)}
			},
		},
	}
}

func skillKind() kind[*catalog.Skill] {
	return kind[*catalog.Skill]{
		name: "skills", singular: "skill", id: catalog.KindSkill, nameArg: "NAMESPACE/NAME", namespaced: true,
		collection: fixed((*client.Client).Skills), address: keyOf[*catalog.Skill],
		table: table[*catalog.Skill]{
			columns: []string{"NAME", "TITLE/DESCRIPTION", "STATUS", "SOURCE", "REV"},
			row: func(s *catalog.Skill) []string {
				src := ""
				if s.Source != nil {
					src = s.Source.Type
					if s.Source.URL != "" {
						src += " " + s.Source.URL
					}
				}
				return []string{s.Name, titleOr(&s.Governance), string(s.Status), src, rev(&s.Meta)}
			},
		},
	}
}

func entityTypeKind() kind[*catalog.EntityType] {
	return kind[*catalog.EntityType]{
		name: "entity-types", singular: "entity type", id: catalog.KindEntityType, nameArg: "NAME",
		collection: fixed((*client.Client).EntityTypes), address: keyOf[*catalog.EntityType],
		table: table[*catalog.EntityType]{
			columns: []string{"NAME", "PLURAL", "DESCRIPTION", "SEARCHABLE", "REV"},
			row: func(t *catalog.EntityType) []string {
				return []string{t.Name, t.Plural, t.Description, list(t.Searchable), rev(&t.Meta)}
			},
		},
	}
}

var errNeedType = errors.New("entities are addressed by type: pass --type TYPE")

func entityKind() kind[*catalog.Entity] {
	return kind[*catalog.Entity]{
		name: "entities", singular: "entity", id: catalog.KindEntity, nameArg: "NAMESPACE/NAME", namespaced: true,
		collection: func(c *client.Client, f *kindFlags) (*client.Collection[*catalog.Entity], error) {
			if f.typ == "" {
				return nil, errNeedType
			}
			return c.Entities(f.typ), nil
		},
		// A document names its type; --type is the default for documents that do not.
		forDoc: func(c *client.Client, f *kindFlags, e *catalog.Entity) (*client.Collection[*catalog.Entity], error) {
			switch {
			case e.Type != "":
				return c.Entities(e.Type), nil
			case f.typ != "":
				return c.Entities(f.typ), nil
			}
			return nil, errors.New("the entity names no type: add a type field or pass --type TYPE")
		},
		address:  func(e *catalog.Entity) string { return e.Name },
		describe: func(e *catalog.Entity) string { return strings.TrimPrefix(e.Type+"/", "/") + e.Name },
		// Entity types are visible to every caller, so asking for the type reveals nothing the caller could not list.
		explainEmpty: func(ctx context.Context, c *client.Client, f *kindFlags) error {
			if _, err := c.EntityTypes().Get(ctx, f.typ); errors.Is(err, catalog.ErrNotFound) {
				return fmt.Errorf("there is no entity type %q ('mcpctl entity-types list' shows them)", f.typ)
			}
			return nil
		},
		flags: func(fs *flag.FlagSet, f *kindFlags, verb string) {
			usage := "the entity `TYPE` (required)"
			if verb == "register" || verb == "apply" {
				usage = "the entity `TYPE` of documents that name none"
			}
			fs.StringVar(&f.typ, "type", "", usage)
		},
		table: table[*catalog.Entity]{
			columns: []string{"TYPE", "NAME", "TITLE/DESCRIPTION", "STATUS", "REV"},
			row: func(e *catalog.Entity) []string {
				return []string{e.Type, e.Name, titleOr(&e.Governance), string(e.Status), rev(&e.Meta)}
			},
		},
	}
}

func virtualServerKind() kind[*catalog.VirtualServer] {
	return kind[*catalog.VirtualServer]{
		name: "virtual-servers", singular: "virtual server", id: catalog.KindVirtualServer, nameArg: "NAME",
		collection: fixed((*client.Client).VirtualServers), address: keyOf[*catalog.VirtualServer],
		table: table[*catalog.VirtualServer]{
			columns: []string{"NAME", "TITLE/DESCRIPTION", "STATUS", "TOOLS", "REV"},
			row: func(v *catalog.VirtualServer) []string {
				return []string{v.Name, titleOr(&v.Governance), string(v.Status), count(v.Tools), rev(&v.Meta)}
			},
		},
	}
}

func scopeKind() kind[*catalog.Scope] {
	return kind[*catalog.Scope]{
		name: "scopes", singular: "scope", id: catalog.KindScope, nameArg: "NAME",
		collection: fixed((*client.Client).Scopes), address: keyOf[*catalog.Scope],
		table: table[*catalog.Scope]{
			columns: []string{"NAME", "DESCRIPTION", "GRANTS", "PUBLISH", "REV"},
			row: func(s *catalog.Scope) []string {
				return []string{s.Name, s.Description, count(s.Grants), list(s.Publish), rev(&s.Meta)}
			},
		},
	}
}

// mappingFlags adds --issuer to the verbs that address one mapping.
func mappingFlags(fs *flag.FlagSet, f *kindFlags, verb string) {
	if verb == "get" || verb == "delete" {
		fs.StringVar(&f.issuer, "issuer", "", "the mapping limited to tokens of `ISSUER` (default: the one for every issuer)")
	}
}

func withIssuer(name, issuer string) string {
	if issuer == "" {
		return name
	}
	return name + " (issuer " + issuer + ")"
}

func groupMappingKind() kind[*catalog.GroupMapping] {
	return kind[*catalog.GroupMapping]{
		name: "group-mappings", singular: "group mapping", id: catalog.KindGroupMapping, nameArg: "GROUP",
		collection: func(c *client.Client, f *kindFlags) (*client.Collection[*catalog.GroupMapping], error) {
			return c.GroupMappings().Issuer(f.issuer), nil
		},
		forDoc: func(c *client.Client, _ *kindFlags, m *catalog.GroupMapping) (*client.Collection[*catalog.GroupMapping], error) {
			return c.GroupMappings().Issuer(m.Issuer), nil
		},
		address:  func(m *catalog.GroupMapping) string { return m.Group },
		describe: func(m *catalog.GroupMapping) string { return withIssuer(m.Group, m.Issuer) },
		flags:    mappingFlags,
		table: table[*catalog.GroupMapping]{
			columns: []string{"GROUP", "ISSUER", "SCOPES", "REV"},
			row: func(m *catalog.GroupMapping) []string {
				return []string{m.Group, m.Issuer, list(m.Scopes), rev(&m.Meta)}
			},
		},
	}
}

func clientMappingKind() kind[*catalog.ClientMapping] {
	return kind[*catalog.ClientMapping]{
		name: "client-mappings", singular: "client mapping", id: catalog.KindClientMapping, nameArg: "CLIENT_ID",
		collection: func(c *client.Client, f *kindFlags) (*client.Collection[*catalog.ClientMapping], error) {
			return c.ClientMappings().Issuer(f.issuer), nil
		},
		forDoc: func(c *client.Client, _ *kindFlags, m *catalog.ClientMapping) (*client.Collection[*catalog.ClientMapping], error) {
			return c.ClientMappings().Issuer(m.Issuer), nil
		},
		address:  func(m *catalog.ClientMapping) string { return m.Client },
		describe: func(m *catalog.ClientMapping) string { return withIssuer(m.Client, m.Issuer) },
		flags:    mappingFlags,
		table: table[*catalog.ClientMapping]{
			columns: []string{"CLIENT", "ISSUER", "SCOPES", "REV"},
			row: func(m *catalog.ClientMapping) []string {
				return []string{m.Client, m.Issuer, list(m.Scopes), rev(&m.Meta)}
			},
		},
	}
}
