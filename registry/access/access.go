// Package access is where the registry asks the policy what a caller may see and change, so that discovery and
// authorization never disagree: the same Rego package (data.mcpgw.authz) that decides a tool call at the gateway
// decides which assets and tools a caller finds in listings, gets and search.
//
// Visibility is computed for the whole catalog in one policy evaluation per distinct set of effective scopes (what
// the policy maps a caller's groups, client id and token scopes to) and cached until the catalog or the access data
// change, so a restricted caller's listing walks only what it may see.
package access

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/mcpgw/mcpgw/authz/identity"
	"github.com/mcpgw/mcpgw/authz/policy"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/registrar"
	"github.com/mcpgw/mcpgw/registry/view"
)

// Engine is the part of the policy engine this package uses.
type Engine interface {
	SetData(ctx context.Context, d policy.Data) error
	EffectiveScopes(ctx context.Context, p policy.Principal) ([]string, error)
	Visible(ctx context.Context, p policy.Principal, assets []policy.Asset) ([]policy.VisibleAsset, error)
	CanManage(ctx context.Context, p policy.Principal, action policy.Action, kind, name string) (policy.Decision, error)
}

// Catalog is the part of the view this package reads.
type Catalog interface {
	All(kind catalog.Kind) []catalog.Object
	Version() int64
}

// Control answers visibility and management questions for the registry.
type Control struct {
	engine Engine
	cat    Catalog
	log    *slog.Logger
	admin  policy.Data // AdminGroups/AdminScope settings merged into every data push

	mu      sync.Mutex
	cache   map[string]*Set
	version int64 // catalog version the cache and the engine's data reflect
	assets  *assetList
	group   singleflight.Group
}

// Options configure a Control.
type Options struct {
	// AdminGroups and AdminScope are passed to the policy data (nil/"" take the policy's defaults).
	AdminGroups []string
	AdminScope  string
	Logger      *slog.Logger
}

// New returns a Control. Call Sync once before serving, and on every catalog change (Listener does it).
func New(engine Engine, cat Catalog, opts Options) *Control {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Control{engine: engine, cat: cat, log: log.With("component", "access"),
		admin: policy.Data{AdminGroups: opts.AdminGroups, AdminScope: opts.AdminScope}, cache: map[string]*Set{}, version: -1}
}

// Listener returns a view listener that pushes scope and mapping changes into the policy data at once, so that
// authorization follows a change without waiting for a request. ctx bounds the pushes (the process's lifetime).
func (c *Control) Listener(ctx context.Context) view.Listener {
	return func(events []view.Event) {
		for _, e := range events {
			if e.Kind == catalog.KindScope || e.Kind == catalog.KindGroupMapping || e.Kind == catalog.KindClientMapping {
				if err := c.pushData(ctx); err != nil {
					c.log.Error("policy data rejected; the previous data stays in force", "err", err)
				}
				return
			}
		}
	}
}

// Sync pushes the access data to the engine.
func (c *Control) Sync(ctx context.Context) error { return c.pushData(ctx) }

func (c *Control) pushData(ctx context.Context) error {
	d := Data(c.cat)
	d.AdminGroups, d.AdminScope = c.admin.AdminGroups, c.admin.AdminScope
	if err := c.engine.SetData(ctx, d); err != nil {
		return fmt.Errorf("push policy data: %w", err)
	}
	c.mu.Lock()
	c.cache = map[string]*Set{}
	c.mu.Unlock()
	return nil
}

// Data converts the catalog's scopes and mappings into the policy's data.
func Data(cat Catalog) policy.Data {
	var d policy.Data
	for _, o := range cat.All(catalog.KindScope) {
		s := o.(*catalog.Scope)
		ps := policy.Scope{Name: s.Name, Description: s.Description, Publish: s.Publish}
		for _, g := range s.Grants {
			ps.Grants = append(ps.Grants, policy.Grant{Kind: g.Kind, Server: g.Server, Methods: g.Methods, Tools: g.Tools})
		}
		d.Scopes = append(d.Scopes, ps)
	}
	for _, o := range cat.All(catalog.KindGroupMapping) {
		m := o.(*catalog.GroupMapping)
		d.GroupMappings = append(d.GroupMappings, policy.GroupMapping{Issuer: m.Issuer, Group: m.Group, Scopes: m.Scopes})
	}
	for _, o := range cat.All(catalog.KindClientMapping) {
		m := o.(*catalog.ClientMapping)
		d.ClientMappings = append(d.ClientMappings, policy.ClientMapping{Issuer: m.Issuer, Client: m.Client, Scopes: m.Scopes})
	}
	return d
}

// PolicyPrincipal converts a verified identity.
func PolicyPrincipal(p identity.Principal) policy.Principal {
	return policy.Principal{Issuer: p.Issuer, Subject: p.Subject, ClientID: p.ClientID, Groups: p.Groups, Scopes: p.Scopes}
}

// PolicyKind is the policy's name for a catalog kind.
func PolicyKind(k catalog.Kind) string {
	switch k {
	case catalog.KindServer:
		return policy.KindServer
	case catalog.KindAgent:
		return "agent"
	case catalog.KindSkill:
		return "skill"
	case catalog.KindEntity:
		return "entity"
	case catalog.KindVirtualServer:
		return "virtual"
	}
	return strings.TrimSuffix(strings.ReplaceAll(string(k), "_", "-"), "s")
}

// assetName is the name the policy matches: namespace/name, without an entity's type.
func assetName(o catalog.Object) string {
	if e, ok := o.(*catalog.Entity); ok {
		return e.Name
	}
	return o.Key()
}

// discoverable are the kinds whose visibility the policy decides; the others are entity types (visible to every
// caller: they are schemas, not assets) and access data (visible to admins).
var discoverable = []catalog.Kind{catalog.KindServer, catalog.KindAgent, catalog.KindSkill, catalog.KindEntity, catalog.KindVirtualServer}

type assetList struct {
	objs   []catalog.Object
	assets []policy.Asset
}

func (c *Control) currentAssets() *assetList {
	var l assetList
	for _, k := range discoverable {
		for _, o := range c.cat.All(k) {
			a := policy.Asset{Kind: PolicyKind(k), Name: assetName(o)}
			switch x := o.(type) {
			case *catalog.Server:
				a.Visibility = string(x.Visibility)
				a.Tools = serverTools(x)
			case *catalog.Agent:
				a.Visibility = string(x.Visibility)
			case *catalog.Skill:
				a.Visibility = string(x.Visibility)
			case *catalog.Entity:
				a.Visibility = string(x.Visibility)
			case *catalog.VirtualServer:
				a.Visibility = string(x.Visibility)
				for _, t := range x.Tools {
					a.Tools = append(a.Tools, t.ExposedName())
				}
			}
			l.objs = append(l.objs, o)
			l.assets = append(l.assets, a)
		}
	}
	return &l
}

// serverTools is the union of the tool names of a server's versions.
func serverTools(s *catalog.Server) []string {
	var out []string
	for _, v := range s.Versions {
		for _, t := range v.Tools {
			if !slices.Contains(out, t.Name) {
				out = append(out, t.Name)
			}
		}
	}
	return out
}

// Set is what one caller profile may see.
type Set struct {
	admin bool
	all   map[catalog.Kind]bool            // kinds of which every object is visible
	keys  map[catalog.Kind][]string        // sorted visible keys per kind (when not all)
	seen  map[catalog.Kind]map[string]bool // the same, for lookups
	tools map[string]map[string]bool       // server or virtual server key -> callable tools
	full  map[string]bool                  // servers whose every tool is callable
}

// Sees implements api.Visible.
func (s *Set) Sees(kind catalog.Kind, key string) bool {
	switch kind {
	case catalog.KindEntityType:
		return true
	case catalog.KindScope, catalog.KindGroupMapping, catalog.KindClientMapping:
		return s.admin
	}
	return s.all[kind] || s.seen[kind][key]
}

// Keys implements api.Visible.
func (s *Set) Keys(kind catalog.Kind) []string {
	switch kind {
	case catalog.KindEntityType:
		return nil
	case catalog.KindScope, catalog.KindGroupMapping, catalog.KindClientMapping:
		if s.admin {
			return nil
		}
		return []string{}
	}
	if s.all[kind] {
		return nil
	}
	if k := s.keys[kind]; k != nil {
		return k
	}
	return []string{}
}

// Tools implements api.Visible.
func (s *Set) Tools(server string) func(string) bool {
	if s.admin || s.full[server] {
		return nil
	}
	allowed := s.tools[server]
	return func(t string) bool { return allowed[t] }
}

// Admin reports whether the profile holds the admin scope.
func (s *Set) Admin() bool { return s.admin }

// ForPolicy returns the caller's visible set. Callers with the same effective scopes share one.
func (c *Control) ForPolicy(ctx context.Context, p policy.Principal) (*Set, error) {
	scopes, err := c.engine.EffectiveScopes(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("decide visibility: %w", err)
	}
	scopes = slices.Clone(scopes)
	slices.Sort(scopes)
	key := strings.Join(scopes, "\x00")
	ver := c.cat.Version()
	c.mu.Lock()
	if c.version != ver {
		c.cache = map[string]*Set{}
		c.version = ver
		c.assets = nil
	}
	if s, ok := c.cache[key]; ok {
		c.mu.Unlock()
		return s, nil
	}
	c.mu.Unlock()
	v, err, _ := c.group.Do(key+"\x00"+fmt.Sprint(ver), func() (any, error) {
		return c.compute(context.WithoutCancel(ctx), p, key, scopes, ver)
	})
	if err != nil {
		return nil, err
	}
	return v.(*Set), nil
}

func (c *Control) compute(ctx context.Context, p policy.Principal, key string, scopes []string, ver int64) (*Set, error) {
	c.mu.Lock()
	list := c.assets
	if list == nil || c.version != ver {
		c.mu.Unlock()
		list = c.currentAssets()
		c.mu.Lock()
		if c.version == ver {
			c.assets = list
		}
	}
	c.mu.Unlock()

	adminScope := c.admin.AdminScope
	if adminScope == "" {
		adminScope = policy.DefaultAdminScope
	}
	vis, err := c.engine.Visible(ctx, p, list.assets)
	if err != nil {
		return nil, fmt.Errorf("decide visibility: %w", err)
	}
	s := &Set{admin: slices.Contains(scopes, adminScope), all: map[catalog.Kind]bool{}, keys: map[catalog.Kind][]string{},
		seen: map[catalog.Kind]map[string]bool{}, tools: map[string]map[string]bool{}, full: map[string]bool{}}
	counts := map[catalog.Kind]int{}
	for _, o := range list.objs {
		counts[o.Kind()]++
	}
	for _, va := range vis {
		o := list.objs[va.Index]
		k := o.Kind()
		s.keys[k] = append(s.keys[k], o.Key())
		if s.seen[k] == nil {
			s.seen[k] = map[string]bool{}
		}
		s.seen[k][o.Key()] = true
		if k == catalog.KindServer || k == catalog.KindVirtualServer {
			if len(va.Tools) == len(list.assets[va.Index].Tools) {
				s.full[o.Key()] = true
			} else {
				m := make(map[string]bool, len(va.Tools))
				for _, t := range va.Tools {
					m[t] = true
				}
				s.tools[o.Key()] = m
			}
		}
	}
	for k, keys := range s.keys {
		slices.Sort(keys) // All returns key order per kind; sorting keeps this true whatever the engine returns
		if len(keys) == counts[k] {
			s.all[k] = true
		}
	}
	c.mu.Lock()
	if c.version == ver {
		c.cache[key] = s
	}
	c.mu.Unlock()
	return s, nil
}

// Gate implements registrar.Gate with the policy's management rules.
type Gate struct{ Engine Engine }

var _ registrar.Gate = Gate{}

// Allow implements registrar.Gate.
func (g Gate) Allow(ctx context.Context, a registrar.Actor, action registrar.Action, kind catalog.Kind, key string) error {
	name := key
	if kind == catalog.KindEntity {
		_, name, _ = strings.Cut(key, ":")
	}
	p := policy.Principal{Issuer: a.Issuer, Subject: a.Subject, ClientID: a.Client, Groups: a.Groups, Scopes: a.Scopes}
	d, err := g.Engine.CanManage(ctx, p, policy.Action(action), PolicyKind(kind), name)
	if err != nil {
		return fmt.Errorf("decide %s of %s %q: %w", action, kind, key, err)
	}
	if !d.Allow {
		return &Denied{Reason: d.Reason}
	}
	return nil
}

// Denied is a refusal by the policy; it matches catalog.ErrForbidden.
type Denied struct{ Reason string }

func (d *Denied) Error() string { return "forbidden: " + d.Reason }

// PolicyReason is the policy's explanation, safe to show the caller (it names only the caller's own scopes and the
// scopes that would allow the change).
func (d *Denied) PolicyReason() string { return d.Reason }

// Is makes errors.Is(err, catalog.ErrForbidden) true.
func (d *Denied) Is(target error) bool { return target == catalog.ErrForbidden }
