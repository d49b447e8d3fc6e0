package catalog

import (
	"slices"
	"strings"
	"time"
)

// Kind names a kind of catalog object. Its value is also the collection name in the store.
type Kind string

// The kinds, in the order the store creates and loads them.
const (
	KindServer        Kind = "servers"
	KindAgent         Kind = "agents"
	KindSkill         Kind = "skills"
	KindEntityType    Kind = "entity_types"
	KindEntity        Kind = "entities"
	KindVirtualServer Kind = "virtual_servers"
	KindScope         Kind = "scopes"
	KindGroupMapping  Kind = "group_mappings"
	KindClientMapping Kind = "client_mappings"
)

// Kinds lists every kind in load order. An explicit slice, not init-time registration.
var Kinds = []Kind{KindServer, KindAgent, KindSkill, KindEntityType, KindEntity, KindVirtualServer, KindScope,
	KindGroupMapping, KindClientMapping}

// Meta is the bookkeeping every object carries. The server sets it; client-supplied values are ignored.
type Meta struct {
	Rev       int64     `json:"rev"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// Object is implemented by every catalog type.
type Object interface {
	// Key is the object's identity within its kind; the store's _id.
	Key() string
	// Kind tells which collection the object lives in.
	Kind() Kind
	// Metadata gives access to the bookkeeping fields.
	Metadata() *Meta
	// Normalize fills defaults and canonicalises values (lower-case tags, sorted versions) before validation.
	Normalize()
	// Validate checks the object on its own; rules that need other objects live in the service.
	Validate() error
}

// New returns an empty object of kind k, for decoding.
func New(k Kind) Object {
	switch k {
	case KindServer:
		return new(Server)
	case KindAgent:
		return new(Agent)
	case KindSkill:
		return new(Skill)
	case KindEntityType:
		return new(EntityType)
	case KindEntity:
		return new(Entity)
	case KindVirtualServer:
		return new(VirtualServer)
	case KindScope:
		return new(Scope)
	case KindGroupMapping:
		return new(GroupMapping)
	case KindClientMapping:
		return new(ClientMapping)
	}
	return nil
}

// Status is the lifecycle state of a governed asset.
type Status string

// Asset statuses.
const (
	StatusEnabled         Status = "enabled"
	StatusDisabled        Status = "disabled"
	StatusSecurityPending Status = "security-pending"
	StatusDeprecated      Status = "deprecated"
)

var statuses = []Status{StatusEnabled, StatusDisabled, StatusSecurityPending, StatusDeprecated}

// Visibility says who may discover an asset. Calling it is always decided by scopes.
type Visibility string

// Visibilities.
const (
	// VisibilityRestricted assets are seen only by callers whose scopes grant them (the default).
	VisibilityRestricted Visibility = "restricted"
	// VisibilityPublic assets are seen by every authenticated caller.
	VisibilityPublic Visibility = "public"
)

// Governance holds the fields every asset kind shares.
type Governance struct {
	Title       string     `json:"title,omitempty"`
	Description string     `json:"description"`
	Tags        []string   `json:"tags,omitempty"`
	Owner       string     `json:"owner,omitempty"` // the owning team
	Visibility  Visibility `json:"visibility,omitempty"`
	Status      Status     `json:"status,omitempty"`
}

func (g *Governance) normalize() {
	if g.Visibility == "" {
		g.Visibility = VisibilityRestricted
	}
	if g.Status == "" {
		g.Status = StatusEnabled
	}
	g.Title = strings.TrimSpace(g.Title)
	g.Description = strings.TrimSpace(g.Description)
	g.Tags = normalizeTags(g.Tags)
}

func (g *Governance) validate(p *problems, descriptionRequired bool) {
	if len(g.Title) > MaxTitleLen {
		p.add("title", "must be at most %d characters", MaxTitleLen)
	}
	switch {
	case descriptionRequired && g.Description == "":
		p.add("description", "is required")
	case len(g.Description) > MaxDescriptionLen:
		p.add("description", "must be at most %d characters", MaxDescriptionLen)
	}
	validateTags(p, "tags", g.Tags)
	if len(g.Owner) > MaxTagLen*2 {
		p.add("owner", "must be at most %d characters", MaxTagLen*2)
	}
	if g.Visibility != VisibilityRestricted && g.Visibility != VisibilityPublic {
		p.add("visibility", "must be one of restricted, public")
	}
	if !slices.Contains(statuses, g.Status) {
		p.add("status", "must be one of enabled, disabled, security-pending, deprecated")
	}
}

func normalizeTags(tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		t = strings.ToLower(strings.TrimSpace(t))
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func validateTags(p *problems, field string, tags []string) {
	if len(tags) > MaxTags {
		p.add(field, "at most %d tags", MaxTags)
	}
	for i, t := range tags {
		if len(t) > MaxTagLen {
			p.add(indexed(field, i), "must be at most %d characters", MaxTagLen)
		}
		for _, r := range t {
			if r < 0x20 || r == 0x7f {
				p.add(indexed(field, i), "must not contain control characters")
				break
			}
		}
	}
}
