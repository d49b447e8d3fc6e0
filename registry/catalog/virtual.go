package catalog

import "strings"

// VirtualServer is an MCP server that mcpgw assembles from tools of registered servers, optionally renamed, and
// serves at /virtual/{name}.
type VirtualServer struct {
	Name       string `json:"name"`
	Governance `bson:",inline"`
	Gateways   []string      `json:"gateways,omitempty"`
	Tools      []VirtualTool `json:"tools"`
	Meta       `bson:",inline"`
}

// VirtualTool exposes one tool of a registered server under an optional alias.
type VirtualTool struct {
	Server  string `json:"server"`
	Version string `json:"version,omitempty"` // empty: the server's default version
	Tool    string `json:"tool"`
	Alias   string `json:"alias,omitempty"`
	// Scopes, when set, are required in addition to the grant on the virtual server.
	Scopes []string `json:"scopes,omitempty"`
}

// ExposedName is the tool's name on the virtual server.
func (t VirtualTool) ExposedName() string {
	if t.Alias != "" {
		return t.Alias
	}
	return t.Tool
}

// Key implements Object.
func (v *VirtualServer) Key() string { return v.Name }

// Kind implements Object.
func (v *VirtualServer) Kind() Kind { return KindVirtualServer }

// Metadata implements Object.
func (v *VirtualServer) Metadata() *Meta { return &v.Meta }

// Normalize implements Object.
func (v *VirtualServer) Normalize() {
	v.Governance.normalize()
	v.Gateways = normalizeTags(v.Gateways)
	for i := range v.Tools {
		v.Tools[i].Alias = strings.TrimSpace(v.Tools[i].Alias)
	}
}

// Validate implements Object. Whether the referenced servers and tools exist is checked by the service.
func (v *VirtualServer) Validate() error {
	var p problems
	if err := checkSimpleName(v.Name, 128, "-_."); err != nil || strings.ToLower(v.Name) != v.Name {
		p.add("name", "must be lowercase letters, digits, '-', '_' or '.' (it is the path /virtual/{name})")
	}
	v.Governance.validate(&p, false)
	if len(v.Gateways) > MaxGateways {
		p.add("gateways", "at most %d gateways", MaxGateways)
	}
	if len(v.Tools) == 0 {
		p.add("tools", "at least one tool is required")
	}
	if len(v.Tools) > MaxToolsPerVersion {
		p.add("tools", "at most %d tools", MaxToolsPerVersion)
	}
	exposed := map[string]bool{}
	for i, t := range v.Tools {
		f := indexed("tools", i)
		if err := checkName(t.Server); err != nil {
			p.add(f+".server", "%v", err)
		}
		if err := checkSimpleName(t.Tool, MaxToolNameLen, "_-./"); err != nil {
			p.add(f+".tool", "%v", err)
		}
		if t.Alias != "" {
			if err := checkSimpleName(t.Alias, MaxToolNameLen, "_-./"); err != nil {
				p.add(f+".alias", "%v", err)
			}
		}
		if exposed[t.ExposedName()] {
			p.add(f, "tool name %q is exposed twice; set an alias", t.ExposedName())
		}
		exposed[t.ExposedName()] = true
	}
	return p.err()
}
