package catalog

import (
	"encoding/json"
	"strings"
)

// Agent is a registered A2A agent: its agent card plus the governance fields.
type Agent struct {
	Name       string `json:"name"`
	Governance `bson:",inline"`
	Card       AgentCard `json:"card"`
	Meta       `bson:",inline"`
}

// AgentCard is the A2A agent card (A2A specification field names, camelCase).
type AgentCard struct {
	ProtocolVersion                   string            `json:"protocolVersion,omitempty"`
	Name                              string            `json:"name"`
	Description                       string            `json:"description"`
	URL                               string            `json:"url"`
	PreferredTransport                string            `json:"preferredTransport,omitempty"`
	AdditionalInterfaces              []AgentInterface  `json:"additionalInterfaces,omitempty"`
	IconURL                           string            `json:"iconUrl,omitempty"`
	Provider                          *AgentProvider    `json:"provider,omitempty"`
	Version                           string            `json:"version"`
	DocumentationURL                  string            `json:"documentationUrl,omitempty"`
	Capabilities                      AgentCapabilities `json:"capabilities"`
	SecuritySchemes                   json.RawMessage   `json:"securitySchemes,omitempty"`
	Security                          json.RawMessage   `json:"security,omitempty"`
	DefaultInputModes                 []string          `json:"defaultInputModes,omitempty"`
	DefaultOutputModes                []string          `json:"defaultOutputModes,omitempty"`
	Skills                            []AgentSkill      `json:"skills"`
	SupportsAuthenticatedExtendedCard bool              `json:"supportsAuthenticatedExtendedCard,omitempty"`
	Signatures                        json.RawMessage   `json:"signatures,omitempty"`
}

// AgentInterface is a further transport an agent is reachable on.
type AgentInterface struct {
	URL       string `json:"url"`
	Transport string `json:"transport"`
}

// AgentProvider names the organisation behind an agent.
type AgentProvider struct {
	Organization string `json:"organization"`
	URL          string `json:"url,omitempty"`
}

// AgentCapabilities are the optional A2A features an agent supports.
type AgentCapabilities struct {
	Streaming              bool            `json:"streaming,omitempty"`
	PushNotifications      bool            `json:"pushNotifications,omitempty"`
	StateTransitionHistory bool            `json:"stateTransitionHistory,omitempty"`
	Extensions             json.RawMessage `json:"extensions,omitempty"`
}

// AgentSkill is one capability an agent advertises.
type AgentSkill struct {
	ID          string          `json:"id"`
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Tags        []string        `json:"tags,omitempty"`
	Examples    []string        `json:"examples,omitempty"`
	InputModes  []string        `json:"inputModes,omitempty"`
	OutputModes []string        `json:"outputModes,omitempty"`
	Security    json.RawMessage `json:"security,omitempty"`
}

// Key implements Object.
func (a *Agent) Key() string { return a.Name }

// Kind implements Object.
func (a *Agent) Kind() Kind { return KindAgent }

// Metadata implements Object.
func (a *Agent) Metadata() *Meta { return &a.Meta }

// Normalize implements Object. An agent without a description or title takes its card's.
func (a *Agent) Normalize() {
	if strings.TrimSpace(a.Description) == "" {
		a.Description = a.Card.Description
	}
	if a.Title == "" {
		a.Title = a.Card.Name
	}
	if a.Card.Skills == nil {
		a.Card.Skills = []AgentSkill{} // the A2A card requires the array; a card without skills has an empty one
	}
	a.Governance.normalize()
}

// Validate implements Object.
func (a *Agent) Validate() error {
	var p problems
	if err := checkName(a.Name); err != nil {
		p.add("name", "%v", err)
	}
	a.Governance.validate(&p, true)
	c := &a.Card
	if strings.TrimSpace(c.Name) == "" {
		p.add("card.name", "is required")
	} else if len(c.Name) > MaxTitleLen {
		p.add("card.name", "must be at most %d characters", MaxTitleLen)
	}
	if strings.TrimSpace(c.Description) == "" {
		p.add("card.description", "is required")
	} else if len(c.Description) > MaxDescriptionLen {
		p.add("card.description", "must be at most %d characters", MaxDescriptionLen)
	}
	if err := checkUpstreamURL(c.URL); err != nil {
		p.add("card.url", "%v", err)
	}
	if strings.TrimSpace(c.Version) == "" {
		p.add("card.version", "is required")
	} else if len(c.Version) > MaxVersionLen {
		p.add("card.version", "must be at most %d characters", MaxVersionLen)
	}
	for i, in := range c.AdditionalInterfaces {
		if err := checkUpstreamURL(in.URL); err != nil {
			p.add(indexed("card.additionalInterfaces", i)+".url", "%v", err)
		}
	}
	if c.Provider != nil && strings.TrimSpace(c.Provider.Organization) == "" {
		p.add("card.provider.organization", "is required when provider is set")
	}
	if len(c.Skills) > MaxAgentSkills {
		p.add("card.skills", "at most %d skills", MaxAgentSkills)
	}
	ids := map[string]bool{}
	for i, s := range c.Skills {
		f := indexed("card.skills", i)
		if strings.TrimSpace(s.ID) == "" {
			p.add(f+".id", "is required")
		} else if ids[s.ID] {
			p.add(f+".id", "duplicate skill id %q", s.ID)
		}
		ids[s.ID] = true
		if strings.TrimSpace(s.Name) == "" {
			p.add(f+".name", "is required")
		}
		if len(s.Description) > MaxToolDescLen {
			p.add(f+".description", "must be at most %d characters", MaxToolDescLen)
		}
		validateTags(&p, f+".tags", s.Tags)
	}
	checkJSONObject(&p, "card.securitySchemes", c.SecuritySchemes)
	if n := len(c.SecuritySchemes) + len(c.Security) + len(c.Signatures) + len(c.Capabilities.Extensions); n > MaxCardBytes {
		p.add("card", "must be at most %d bytes", MaxCardBytes)
	}
	for _, raw := range []struct {
		field string
		v     json.RawMessage
	}{{"card.security", c.Security}, {"card.signatures", c.Signatures}, {"card.capabilities.extensions", c.Capabilities.Extensions}} {
		if len(raw.v) > 0 && !json.Valid(raw.v) {
			p.add(raw.field, "must be valid JSON")
		}
	}
	return p.err()
}
