package catalog

import (
	"bytes"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Skill is an agent skill: a SKILL.md document (YAML front matter with name and description, then Markdown) and where
// it came from.
type Skill struct {
	Name       string `json:"name"`
	Governance `bson:",inline"`
	Source     *SkillSource `json:"source,omitempty"`
	Content    string       `json:"content"`
	// FrontMatter is parsed from Content by the server; client values are ignored.
	FrontMatter SkillFrontMatter `json:"front_matter"`
	Meta        `bson:",inline"`
}

// SkillSource says where a skill's content is maintained.
type SkillSource struct {
	Type string `json:"type"` // git or inline
	URL  string `json:"url,omitempty"`
	Ref  string `json:"ref,omitempty"`
	Path string `json:"path,omitempty"`
}

// SkillFrontMatter is the YAML header of a SKILL.md.
type SkillFrontMatter struct {
	Name         string            `json:"name" yaml:"name"`
	Description  string            `json:"description" yaml:"description"`
	License      string            `json:"license,omitempty" yaml:"license"`
	AllowedTools []string          `json:"allowed_tools,omitempty" yaml:"allowed-tools"`
	Metadata     map[string]string `json:"metadata,omitempty" yaml:"metadata"`
}

// Key implements Object.
func (s *Skill) Key() string { return s.Name }

// Kind implements Object.
func (s *Skill) Kind() Kind { return KindSkill }

// Metadata implements Object.
func (s *Skill) Metadata() *Meta { return &s.Meta }

// Normalize implements Object: the front matter is parsed from the content, and a skill without a description takes
// the front matter's.
func (s *Skill) Normalize() {
	s.FrontMatter = SkillFrontMatter{}
	if fm, _, err := ParseSkillMarkdown(s.Content); err == nil {
		s.FrontMatter = fm
		if strings.TrimSpace(s.Description) == "" {
			s.Description = fm.Description
		}
	}
	if s.Source == nil {
		s.Source = &SkillSource{Type: "inline"}
	}
	s.Governance.normalize()
}

// Validate implements Object.
func (s *Skill) Validate() error {
	var p problems
	if err := checkName(s.Name); err != nil {
		p.add("name", "%v", err)
	}
	s.Governance.validate(&p, true)
	switch {
	case s.Content == "":
		p.add("content", "is required (the SKILL.md document)")
	case len(s.Content) > MaxSkillContentLen:
		p.add("content", "must be at most %d bytes", MaxSkillContentLen)
	default:
		if _, _, err := ParseSkillMarkdown(s.Content); err != nil {
			p.add("content", "%v", err)
		}
	}
	if src := s.Source; src != nil {
		switch src.Type {
		case "inline":
			if src.URL != "" {
				p.add("source.url", "inline skills have no url")
			}
		case "git":
			if err := checkGitURL(src.URL); err != nil {
				p.add("source.url", "%v", err)
			}
		default:
			p.add("source.type", "must be git or inline")
		}
	}
	return p.err()
}

func checkGitURL(raw string) error {
	if strings.HasPrefix(raw, "git@") && strings.Contains(raw, ":") {
		return nil
	}
	return checkUpstreamURL(raw)
}

// ParseSkillMarkdown splits a SKILL.md into its YAML front matter and body and validates the front matter: it must
// open the document between "---" lines and carry a name and a description.
func ParseSkillMarkdown(doc string) (SkillFrontMatter, string, error) {
	var fm SkillFrontMatter
	rest, ok := strings.CutPrefix(strings.TrimPrefix(doc, "\ufeff"), "---")
	if !ok || !(strings.HasPrefix(rest, "\n") || strings.HasPrefix(rest, "\r\n")) {
		return fm, "", fmt.Errorf("must start with YAML front matter between --- lines")
	}
	rest = strings.TrimLeft(rest, "\r\n")
	end := strings.Index(rest, "\n---")
	if end < 0 {
		if strings.HasPrefix(rest, "---") {
			return fm, "", fmt.Errorf("front matter is empty; name and description are required")
		}
		return fm, "", fmt.Errorf("front matter is not closed by a --- line")
	}
	header, body := rest[:end], rest[end+len("\n---"):]
	if i := strings.IndexByte(body, '\n'); i >= 0 {
		if strings.TrimSpace(body[:i]) != "" {
			return fm, "", fmt.Errorf("front matter is not closed by a --- line")
		}
		body = body[i+1:]
	} else if strings.TrimSpace(body) != "" {
		return fm, "", fmt.Errorf("front matter is not closed by a --- line")
	} else {
		body = ""
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(header)))
	dec.KnownFields(false)
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return fm, "", fmt.Errorf("front matter is not valid YAML: %s", yamlReason(err))
	}
	if err := yaml.Unmarshal([]byte(header), &fm); err != nil {
		return fm, "", fmt.Errorf("front matter has a field of the wrong type: %s", yamlReason(err))
	}
	fm.Name, fm.Description = strings.TrimSpace(fm.Name), strings.TrimSpace(fm.Description)
	if fm.Name == "" {
		return fm, "", fmt.Errorf("front matter: name is required")
	}
	if len(fm.Name) > 64 || checkSimpleName(fm.Name, 64, "-_.") != nil {
		return fm, "", fmt.Errorf("front matter: name must be at most 64 letters, digits, '-', '_' or '.'")
	}
	if fm.Description == "" {
		return fm, "", fmt.Errorf("front matter: description is required")
	}
	if len(fm.Description) > 1024 {
		return fm, "", fmt.Errorf("front matter: description must be at most 1024 characters")
	}
	return fm, body, nil
}

func yamlReason(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: ")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
