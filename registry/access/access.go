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

	mu     sync.Mutex
	cache  map[string]*entry   // by effective scope set
	scopes map[string][]string // caller profile -> effective scopes, until the access data change
	// gen counts access data pushes. An answer computed while a push happened may come from the old data, so it is
	// returned but not cached: otherwise it would outlive the data it came from (a revoked grant kept working).
	gen uint64
	// pushMu serialises pushData from its read of the view to the engine's swap: two pushes racing (this process's
	// write and the feed applying another replica's) could otherwise swap in the older snapshot last.
	pushMu sync.Mutex
	group  singleflight.Group
	evMu   sync.Mutex // serialises incremental updates
}

// entry is a cached visible set and a caller it was computed for (any caller with the same effective scopes).
type entry struct {
	principal policy.Principal
	set       *Set
}

// maxCached bounds the cache; beyond it an arbitrary entry is evicted and recomputed when next needed.
const maxCached = 512

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
		admin: policy.Data{AdminGroups: opts.AdminGroups, AdminScope: opts.AdminScope}, cache: map[string]*entry{},
		scopes: map[string][]string{}}
}

// Listener returns a view listener that pushes scope and mapping changes into the policy data at once, so that
// authorization follows a change without waiting for a request, and that updates the cached visible sets for
// changed assets (one small policy evaluation per cached set) instead of recomputing them. ctx bounds the work
// (the process's lifetime).
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
		c.update(ctx, events)
	}
}

// update applies asset changes to every cached set.
func (c *Control) update(ctx context.Context, events []view.Event) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	c.mu.Lock()
	keys := make([]string, 0, len(c.cache))
	entries := make([]*entry, 0, len(c.cache))
	for k, e := range c.cache {
		keys = append(keys, k)
		entries = append(entries, e)
	}
	c.mu.Unlock()
	for i, e := range entries {
		next := e.set
		for _, ev := range events {
			if !slices.Contains(discoverable, ev.Kind) {
				continue
			}
			var va *policy.VisibleAsset
			if ev.New != nil {
				vis, err := c.engine.Visible(ctx, e.principal, []policy.Asset{assetOf(ev.New)})
				if err != nil {
					// Fail closed: drop the entry; the next request recomputes it (and reports the error).
					c.log.Error("update visible set", "err", err)
					next = nil
					break
				}
				if len(vis) == 1 {
					va = &vis[0]
				}
			}
			next = next.with(ev.Kind, ev.Key, va, ev.New)
		}
		c.mu.Lock()
		if cur, ok := c.cache[keys[i]]; ok && cur == e {
			if next == nil {
				delete(c.cache, keys[i])
			} else {
				c.cache[keys[i]] = &entry{principal: e.principal, set: next}
			}
		}
		c.mu.Unlock()
	}
}

// Sync pushes the access data to the engine.
func (c *Control) Sync(ctx context.Context) error { return c.pushData(ctx) }

func (c *Control) pushData(ctx context.Context) error {
	c.pushMu.Lock()
	defer c.pushMu.Unlock()
	d := Data(c.cat)
	d.AdminGroups, d.AdminScope = c.admin.AdminGroups, c.admin.AdminScope
	if err := c.engine.SetData(ctx, d); err != nil {
		return fmt.Errorf("push policy data: %w", err)
	}
	c.mu.Lock()
	c.cache = map[string]*entry{}
	c.scopes = map[string][]string{}
	c.gen++
	c.mu.Unlock()
	return nil
}

// profileKey identifies what effective scopes depend on: issuer, client id, groups and token scopes.
func profileKey(p policy.Principal) string {
	var b strings.Builder
	for _, part := range [][]string{{p.Issuer, p.ClientID}, p.Groups, p.Scopes} {
		for _, s := range part {
			b.WriteString(s)
			b.WriteByte(0)
		}
		b.WriteByte(1)
	}
	return b.String()
}

// effectiveScopes asks the policy once per caller profile until the access data change.
func (c *Control) effectiveScopes(ctx context.Context, p policy.Principal) ([]string, error) {
	k := profileKey(p)
	c.mu.Lock()
	sc, ok := c.scopes[k]
	gen := c.gen
	c.mu.Unlock()
	if ok {
		return sc, nil
	}
	sc, err := c.engine.EffectiveScopes(ctx, p)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return sc, nil
	}
	if len(c.scopes) >= 4*maxCached {
		clear(c.scopes)
	}
	c.scopes[k] = sc
	return sc, nil
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

// assetOf describes an object to the policy.
func assetOf(o catalog.Object) policy.Asset {
	a := policy.Asset{Kind: PolicyKind(o.Kind()), Name: assetName(o)}
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
	return a
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

// Set is what callers with one set of effective scopes may see. A Set is immutable; changes make a new one.
type Set struct {
	admin bool
	kinds map[catalog.Kind]*kindSet
}

type kindSet struct {
	keys  []string           // sorted
	seen  map[string]bool    // the same keys
	tools map[string]toolSet // servers and virtual servers: the tools the caller may call
}

type toolSet struct {
	full    bool // every tool
	allowed map[string]bool
}

// adminSet sees everything.
var adminSet = &Set{admin: true}

// Sees implements api.Visible.
func (s *Set) Sees(kind catalog.Kind, key string) bool {
	switch {
	case s.admin, kind == catalog.KindEntityType:
		return true
	case kind == catalog.KindScope, kind == catalog.KindGroupMapping, kind == catalog.KindClientMapping:
		return false
	}
	ks := s.kinds[kind]
	return ks != nil && ks.seen[key]
}

// Keys implements api.Visible.
func (s *Set) Keys(kind catalog.Kind) []string {
	if s.admin || kind == catalog.KindEntityType {
		return nil
	}
	if ks := s.kinds[kind]; ks != nil {
		return ks.keys
	}
	return []string{}
}

// Tools implements api.Visible.
func (s *Set) Tools(server string) func(string) bool { return s.callable(catalog.KindServer, server) }

// VirtualTools filters the exposed tools of a visible virtual server to those the caller may call; nil keeps all.
func (s *Set) VirtualTools(name string) func(string) bool {
	return s.callable(catalog.KindVirtualServer, name)
}

func (s *Set) callable(kind catalog.Kind, key string) func(string) bool {
	if s.admin {
		return nil
	}
	var ts toolSet
	if ks := s.kinds[kind]; ks != nil {
		ts = ks.tools[key]
	}
	if ts.full {
		return nil
	}
	return func(t string) bool { return ts.allowed[t] }
}

// Admin reports whether the caller holds the admin scope.
func (s *Set) Admin() bool { return s.admin }

func toolsOf(va *policy.VisibleAsset, asset policy.Asset) toolSet {
	if len(va.Tools) == len(asset.Tools) {
		return toolSet{full: true}
	}
	m := make(map[string]bool, len(va.Tools))
	for _, t := range va.Tools {
		m[t] = true
	}
	return toolSet{allowed: m}
}

// with returns a copy of s in which the object kind/key is visible as va says (nil: not visible or deleted). Only
// the changed kind is copied.
func (s *Set) with(kind catalog.Kind, key string, va *policy.VisibleAsset, obj catalog.Object) *Set {
	if s == nil || s.admin {
		return s
	}
	old := s.kinds[kind]
	if old == nil {
		old = &kindSet{}
	}
	if va == nil && !old.seen[key] {
		return s
	}
	ks := &kindSet{seen: make(map[string]bool, len(old.seen)+1), tools: make(map[string]toolSet, len(old.tools)+1)}
	for k := range old.seen {
		ks.seen[k] = true
	}
	for k, v := range old.tools {
		ks.tools[k] = v
	}
	i, found := slices.BinarySearch(old.keys, key)
	switch {
	case va != nil && !found:
		ks.keys = slices.Insert(slices.Clone(old.keys), i, key)
	case va == nil && found:
		ks.keys = slices.Delete(slices.Clone(old.keys), i, i+1)
	default:
		ks.keys = old.keys
	}
	delete(ks.seen, key)
	delete(ks.tools, key)
	if va != nil {
		ks.seen[key] = true
		if kind == catalog.KindServer || kind == catalog.KindVirtualServer {
			ks.tools[key] = toolsOf(va, assetOf(obj))
		}
	}
	kinds := make(map[catalog.Kind]*kindSet, len(s.kinds)+1)
	for k, v := range s.kinds {
		kinds[k] = v
	}
	kinds[kind] = ks
	return &Set{kinds: kinds}
}

// ForPolicy returns the caller's visible set. Callers with the same effective scopes share one; an admin's is
// known without evaluating anything.
func (c *Control) ForPolicy(ctx context.Context, p policy.Principal) (*Set, error) {
	scopes, err := c.effectiveScopes(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("decide visibility: %w", err)
	}
	adminScope := c.admin.AdminScope
	if adminScope == "" {
		adminScope = policy.DefaultAdminScope
	}
	if slices.Contains(scopes, adminScope) {
		return adminSet, nil
	}
	scopes = slices.Clone(scopes)
	slices.Sort(scopes)
	key := strings.Join(scopes, "\x00")
	c.mu.Lock()
	if e, ok := c.cache[key]; ok {
		c.mu.Unlock()
		return e.set, nil
	}
	c.mu.Unlock()
	v, err, _ := c.group.Do(key, func() (any, error) { return c.compute(context.WithoutCancel(ctx), p, key) })
	if err != nil {
		return nil, err
	}
	return v.(*Set), nil
}

// compute evaluates visibility over the whole catalog in one policy evaluation. The result is cached only when the
// catalog and the access data did not change meanwhile; changes after caching reach it through update and pushData.
func (c *Control) compute(ctx context.Context, p policy.Principal, key string) (*Set, error) {
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	ver := c.cat.Version()
	var objs []catalog.Object
	for _, k := range discoverable {
		objs = append(objs, c.cat.All(k)...)
	}
	assets := make([]policy.Asset, len(objs))
	for i, o := range objs {
		assets[i] = assetOf(o)
	}
	vis, err := c.engine.Visible(ctx, p, assets)
	if err != nil {
		return nil, fmt.Errorf("decide visibility: %w", err)
	}
	s := &Set{kinds: map[catalog.Kind]*kindSet{}}
	for _, va := range vis {
		o := objs[va.Index]
		k := o.Kind()
		ks := s.kinds[k]
		if ks == nil {
			ks = &kindSet{seen: map[string]bool{}, tools: map[string]toolSet{}}
			s.kinds[k] = ks
		}
		ks.keys = append(ks.keys, o.Key())
		ks.seen[o.Key()] = true
		if k == catalog.KindServer || k == catalog.KindVirtualServer {
			ks.tools[o.Key()] = toolsOf(&va, assets[va.Index])
		}
	}
	for _, ks := range s.kinds {
		slices.Sort(ks.keys)
	}
	c.mu.Lock()
	if c.cat.Version() == ver && c.gen == gen {
		if len(c.cache) >= maxCached {
			for k := range c.cache {
				delete(c.cache, k)
				break
			}
		}
		c.cache[key] = &entry{principal: p, set: s}
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
