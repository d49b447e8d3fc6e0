package catalog

import (
	"path"
	"slices"
	"strings"
)

// Scope is a named set of grants. Callers get scopes through group mappings, client mappings or their token's scope
// claim; the policy (policies/*.rego) turns scopes into decisions.
type Scope struct {
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
	Grants      []Grant `json:"grants,omitempty"`
	// Publish lists namespace globs in which holders may register, update and delete assets.
	Publish []string `json:"publish,omitempty"`
	Meta    `bson:",inline"`
}

// Grant allows methods and tools on the assets whose names match Server (a glob such as "finance/*").
type Grant struct {
	// Kind is the asset kind the grant covers: server (default), agent, skill, entity, virtual, or * for all.
	Kind    string   `json:"kind,omitempty"`
	Server  string   `json:"server"`
	Methods []string `json:"methods,omitempty"`
	Tools   []string `json:"tools,omitempty"`
}

// GroupMapping gives the members of an identity-provider group a set of scopes. An empty issuer matches every issuer.
type GroupMapping struct {
	Issuer string   `json:"issuer,omitempty"`
	Group  string   `json:"group"`
	Scopes []string `json:"scopes"`
	Meta   `bson:",inline"`
}

// ClientMapping gives a machine identity (an OAuth client id) a set of scopes.
type ClientMapping struct {
	Issuer string   `json:"issuer,omitempty"`
	Client string   `json:"client"`
	Scopes []string `json:"scopes"`
	Meta   `bson:",inline"`
}

// MappingKey is the key of a group or client mapping: the subject alone, or issuer and subject joined by a space
// (which neither may contain at the ends) when the mapping is limited to one issuer.
func MappingKey(issuer, subject string) string {
	if issuer == "" {
		return subject
	}
	return subject + " " + issuer
}

var grantKinds = []string{"", "server", "agent", "skill", "entity", "virtual", "*"}

// Key implements Object.
func (s *Scope) Key() string { return s.Name }

// Kind implements Object.
func (s *Scope) Kind() Kind { return KindScope }

// Metadata implements Object.
func (s *Scope) Metadata() *Meta { return &s.Meta }

// Normalize implements Object.
func (s *Scope) Normalize() {
	s.Description = strings.TrimSpace(s.Description)
	for i := range s.Grants {
		g := &s.Grants[i]
		if g.Kind == "" {
			g.Kind = "server"
		}
		if len(g.Methods) == 0 {
			g.Methods = []string{"*"}
		}
	}
}

// Validate implements Object.
func (s *Scope) Validate() error {
	var p problems
	if err := checkSimpleName(s.Name, 128, "-_.:"); err != nil {
		p.add("name", "%v", err)
	}
	if len(s.Description) > MaxDescriptionLen {
		p.add("description", "must be at most %d characters", MaxDescriptionLen)
	}
	if len(s.Grants) > MaxGrants {
		p.add("grants", "at most %d grants", MaxGrants)
	}
	for i, g := range s.Grants {
		f := indexed("grants", i)
		if !slices.Contains(grantKinds, g.Kind) {
			p.add(f+".kind", "must be one of server, agent, skill, entity, virtual, *")
		}
		if g.Server == "" {
			p.add(f+".server", "is required (a name or glob such as finance/*)")
		} else if err := checkGlob(g.Server); err != nil {
			p.add(f+".server", "%v", err)
		}
		for j, m := range g.Methods {
			if m == "" || len(m) > 128 || strings.ContainsAny(m, " \t\n") {
				p.add(f+"."+indexed("methods", j), "must be an MCP method name or *")
			}
		}
		for j, t := range g.Tools {
			if err := checkGlob(t); err != nil || t == "" {
				p.add(f+"."+indexed("tools", j), "must be a tool name, a glob, or *")
			}
		}
	}
	for i, ns := range s.Publish {
		if err := checkGlob(ns); err != nil || ns == "" || strings.Contains(ns, "/") {
			p.add(indexed("publish", i), "must be a namespace or a namespace glob")
		}
	}
	return p.err()
}

func checkGlob(g string) error {
	if len(g) > MaxNameLen {
		return errorf("must be at most %d characters", MaxNameLen)
	}
	if _, err := path.Match(g, ""); err != nil {
		return errorf("is not a valid glob")
	}
	return nil
}

// Key implements Object.
func (m *GroupMapping) Key() string { return MappingKey(m.Issuer, m.Group) }

// Kind implements Object.
func (m *GroupMapping) Kind() Kind { return KindGroupMapping }

// Metadata implements Object.
func (m *GroupMapping) Metadata() *Meta { return &m.Meta }

// Normalize implements Object.
func (m *GroupMapping) Normalize() { m.Scopes = dedupe(m.Scopes) }

// Validate implements Object.
func (m *GroupMapping) Validate() error {
	var p problems
	validateMapping(&p, "group", m.Group, m.Issuer, m.Scopes)
	return p.err()
}

// Key implements Object.
func (m *ClientMapping) Key() string { return MappingKey(m.Issuer, m.Client) }

// Kind implements Object.
func (m *ClientMapping) Kind() Kind { return KindClientMapping }

// Metadata implements Object.
func (m *ClientMapping) Metadata() *Meta { return &m.Meta }

// Normalize implements Object.
func (m *ClientMapping) Normalize() { m.Scopes = dedupe(m.Scopes) }

// Validate implements Object.
func (m *ClientMapping) Validate() error {
	var p problems
	validateMapping(&p, "client", m.Client, m.Issuer, m.Scopes)
	return p.err()
}

func validateMapping(p *problems, field, subject, issuer string, scopes []string) {
	switch {
	case subject == "":
		p.add(field, "is required")
	case len(subject) > 256:
		p.add(field, "must be at most 256 characters")
	case strings.TrimSpace(subject) != subject || strings.ContainsAny(subject, "\n\r\t"):
		p.add(field, "must not have surrounding whitespace or control characters")
	}
	if len(issuer) > MaxURLLen || strings.ContainsAny(issuer, " \n\r\t") {
		p.add("issuer", "must be an issuer identifier without whitespace")
	}
	if len(scopes) == 0 {
		p.add("scopes", "at least one scope is required")
	}
	if len(scopes) > MaxScopesPerMapping {
		p.add("scopes", "at most %d scopes", MaxScopesPerMapping)
	}
	for i, s := range scopes {
		if err := checkSimpleName(s, 128, "-_.:"); err != nil {
			p.add(indexed("scopes", i), "%v", err)
		}
	}
}

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
