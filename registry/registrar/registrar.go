// Package registrar is the write side of the catalog: every create, replace, patch and delete passes through it.
// It normalises and validates the object, checks what validation needs other objects for (an entity's type, the
// scopes a mapping names, the tools a virtual server exposes), asks the Gate whether the actor may make the change,
// writes it to the store, shows it in this process's view at once (read-your-writes), and records an audit entry.
package registrar

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/view"
)

// Actor is who makes a change.
type Actor struct {
	Issuer  string
	Subject string
	Client  string
	Groups  []string
	Scopes  []string
}

// Name is how the actor is recorded in created_by and updated_by.
func (a Actor) Name() string {
	switch {
	case a.Subject != "":
		return a.Subject
	case a.Client != "":
		return "client:" + a.Client
	}
	return "anonymous"
}

// Action is a kind of change.
type Action string

// Actions.
const (
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
)

// Gate decides whether an actor may change an object. It returns an error matching catalog.ErrForbidden to refuse.
type Gate interface {
	Allow(ctx context.Context, a Actor, action Action, kind catalog.Kind, key string) error
}

// Auditor receives a record of every change, allowed or refused.
type Auditor interface {
	Submit(rec audit.Record) bool
}

// Options configure a Registrar.
type Options struct {
	Gate    Gate
	Auditor Auditor
	// BuiltinScopes are scope names that exist without a stored definition (the admin scope).
	BuiltinScopes []string
	// Upstreams refuses servers whose URLs name denied addresses; nil means catalog.DefaultDeniedUpstreams.
	Upstreams *catalog.UpstreamPolicy
	Logger    *slog.Logger
	Now       func() time.Time
}

// Registrar applies changes to the catalog.
type Registrar struct {
	store   catalog.Store
	view    *view.Catalog
	opts    Options
	log     *slog.Logger
	schemas sync.Map // entity type name -> compiledSchema
	// types orders entity writes (shared) against entity type deletes (exclusive) in this process, so that a type is
	// never deleted between an entity's check that its type exists and the entity's write.
	types sync.RWMutex
}

type compiledSchema struct {
	rev    int64
	schema *catalog.Schema
}

// New returns a Registrar writing to store and showing its writes in v.
func New(store catalog.Store, v *view.Catalog, opts Options) (*Registrar, error) {
	if opts.Gate == nil {
		return nil, errors.New("new registrar: a gate is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Upstreams == nil {
		up, err := catalog.NewUpstreamPolicy(catalog.DefaultDeniedUpstreams)
		if err != nil {
			return nil, fmt.Errorf("new registrar: %w", err)
		}
		opts.Upstreams = up
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registrar{store: store, view: v, opts: opts, log: log.With("component", "registrar")}, nil
}

func (r *Registrar) now() time.Time { return r.opts.Now().UTC().Truncate(time.Millisecond) }

// Create stores a new object.
func (r *Registrar) Create(ctx context.Context, a Actor, obj catalog.Object) (catalog.Object, error) {
	obj.Normalize()
	m := obj.Metadata()
	t := r.now()
	*m = catalog.Meta{CreatedAt: t, CreatedBy: a.Name(), UpdatedAt: t, UpdatedBy: a.Name()}
	defer r.lockTypes(obj.Kind())()
	if err := r.check(ctx, a, ActionCreate, obj); err != nil {
		return nil, r.refused(a, ActionCreate, obj.Kind(), obj.Key(), 0, err)
	}
	if _, err := r.store.Create(ctx, obj); err != nil {
		return nil, r.failed(a, ActionCreate, obj.Kind(), obj.Key(), 0, err)
	}
	r.view.Observe(obj)
	r.record(a, ActionCreate, obj.Kind(), obj.Key(), 0, m.Rev, true, "")
	return obj, nil
}

// Replace stores obj in place of the current object with the same key, when its rev is ifRev (any when 0).
func (r *Registrar) Replace(ctx context.Context, a Actor, obj catalog.Object, ifRev int64) (catalog.Object, error) {
	cur, err := r.store.Get(ctx, obj.Kind(), obj.Key())
	if err != nil {
		return nil, err
	}
	return r.replace(ctx, a, cur, obj, ifRev)
}

func (r *Registrar) replace(ctx context.Context, a Actor, cur, obj catalog.Object, ifRev int64) (catalog.Object, error) {
	before := cur.Metadata().Rev
	if ifRev != 0 && before != ifRev {
		err := fmt.Errorf("%s %q is at rev %d, not %d: %w", obj.Kind(), obj.Key(), before, ifRev, catalog.ErrRevMismatch)
		return nil, r.refused(a, ActionUpdate, obj.Kind(), obj.Key(), before, err)
	}
	if s, ok := obj.(*catalog.Server); ok {
		s.KeepSecrets(cur.(*catalog.Server))
	}
	obj.Normalize()
	cm, m := cur.Metadata(), obj.Metadata()
	*m = catalog.Meta{CreatedAt: cm.CreatedAt, CreatedBy: cm.CreatedBy, UpdatedAt: r.now(), UpdatedBy: a.Name()}
	defer r.lockTypes(obj.Kind())()
	if err := r.check(ctx, a, ActionUpdate, obj); err != nil {
		return nil, r.refused(a, ActionUpdate, obj.Kind(), obj.Key(), before, err)
	}
	if _, err := r.store.Update(ctx, obj, before); err != nil {
		return nil, r.failed(a, ActionUpdate, obj.Kind(), obj.Key(), before, err)
	}
	r.view.Observe(obj)
	r.record(a, ActionUpdate, obj.Kind(), obj.Key(), before, m.Rev, true, "")
	return obj, nil
}

// Patch applies an RFC 7396 merge patch to the current object. The key fields cannot be patched.
func (r *Registrar) Patch(ctx context.Context, a Actor, kind catalog.Kind, key string, patch []byte, ifRev int64) (catalog.Object, error) {
	cur, err := r.store.Get(ctx, kind, key)
	if err != nil {
		return nil, err
	}
	doc, err := json.Marshal(cur)
	if err != nil {
		return nil, fmt.Errorf("patch %s %q: %w", kind, key, err)
	}
	merged, err := catalog.MergePatch(doc, patch)
	if err != nil {
		return nil, err
	}
	obj, err := catalog.DecodeObject(kind, merged)
	if err != nil {
		return nil, err
	}
	if obj.Key() != key {
		return nil, catalog.Invalid(catalog.KeyField(cur, obj), "cannot be changed (it is the object's identity)")
	}
	return r.replace(ctx, a, cur, obj, ifRev)
}

// Delete removes an object whose rev is ifRev (any when 0).
func (r *Registrar) Delete(ctx context.Context, a Actor, kind catalog.Kind, key string, ifRev int64) error {
	cur, err := r.store.Get(ctx, kind, key)
	if err != nil {
		return err
	}
	before := cur.Metadata().Rev
	if err := r.opts.Gate.Allow(ctx, a, ActionDelete, kind, key); err != nil {
		return r.refused(a, ActionDelete, kind, key, before, err)
	}
	defer r.lockTypes(kind)()
	if kind == catalog.KindEntityType {
		if n := r.entitiesOfType(key); n > 0 {
			err := fmt.Errorf("entity type %q still has %d entities: %w", key, n, catalog.ErrConflict)
			return r.refused(a, ActionDelete, kind, key, before, err)
		}
	}
	// The audit record names the rev that was deleted. Without If-Match the delete is still made conditional on the
	// rev just read, and a concurrent change makes it read again, so the record never names an older rev than the
	// one removed.
	cond := ifRev
	if cond == 0 {
		cond = before
	}
	for attempt := 1; ; attempt++ {
		c, err := r.store.Delete(ctx, kind, key, cond)
		if ifRev == 0 && errors.Is(err, catalog.ErrRevMismatch) && attempt < maxDeleteAttempts {
			cur, gerr := r.store.Get(ctx, kind, key)
			if gerr != nil {
				return r.failed(a, ActionDelete, kind, key, before, gerr)
			}
			before = cur.Metadata().Rev
			cond = before
			if attempt+1 == maxDeleteAttempts {
				cond = 0 // still unconditional, as asked, should the object keep changing
			}
			continue
		}
		if err != nil {
			return r.failed(a, ActionDelete, kind, key, before, err)
		}
		r.view.Forget(kind, key, c.Seq)
		r.record(a, ActionDelete, kind, key, before, 0, true, "")
		return nil
	}
}

// maxDeleteAttempts bounds how often an unconditional delete re-reads an object that keeps changing under it; the
// last attempt deletes whatever rev is there.
const maxDeleteAttempts = 5

// lockTypes takes the entity type lock for a write of kind, if that kind needs it, and returns its release.
func (r *Registrar) lockTypes(kind catalog.Kind) func() {
	switch kind {
	case catalog.KindEntity:
		r.types.RLock()
		return r.types.RUnlock
	case catalog.KindEntityType:
		r.types.Lock()
		return r.types.Unlock
	}
	return func() {}
}

// check validates obj, alone and against the objects it refers to, and asks the gate.
func (r *Registrar) check(ctx context.Context, a Actor, action Action, obj catalog.Object) error {
	if err := r.opts.Gate.Allow(ctx, a, action, obj.Kind(), obj.Key()); err != nil {
		return err
	}
	if err := obj.Validate(); err != nil {
		return err
	}
	switch o := obj.(type) {
	case *catalog.Server:
		return r.opts.Upstreams.CheckServer(o)
	case *catalog.Entity:
		return r.checkEntity(o)
	case *catalog.GroupMapping:
		return r.checkScopes(o.Scopes)
	case *catalog.ClientMapping:
		return r.checkScopes(o.Scopes)
	case *catalog.VirtualServer:
		return r.checkVirtual(o)
	}
	return nil
}

// CheckVersion refuses one server version whose URLs name denied addresses, with field names relative to the
// version (for the versions sub-resource, which reports them so).
func (r *Registrar) CheckVersion(v *catalog.ServerVersion) error {
	return r.opts.Upstreams.CheckVersion(v)
}

func (r *Registrar) checkEntity(e *catalog.Entity) error {
	o, ok := r.view.Get(catalog.KindEntityType, e.Type)
	if !ok {
		return catalog.Invalid("type", "entity type %q does not exist", e.Type)
	}
	t := o.(*catalog.EntityType)
	var sch *catalog.Schema
	if c, ok := r.schemas.Load(t.Name); ok && c.(compiledSchema).rev == t.Rev {
		sch = c.(compiledSchema).schema
	} else {
		s, err := catalog.CompileSchema(t.Schema)
		if err != nil {
			return fmt.Errorf("compile schema of entity type %q: %w", t.Name, err)
		}
		r.schemas.Store(t.Name, compiledSchema{rev: t.Rev, schema: s})
		sch = s
	}
	return sch.ValidateFields(e.Fields)
}

func (r *Registrar) checkScopes(scopes []string) error {
	for i, s := range scopes {
		if slices.Contains(r.opts.BuiltinScopes, s) {
			continue
		}
		if _, ok := r.view.Get(catalog.KindScope, s); !ok {
			return catalog.Invalid(fmt.Sprintf("scopes[%d]", i), "scope %q does not exist", s)
		}
	}
	return nil
}

func (r *Registrar) checkVirtual(v *catalog.VirtualServer) error {
	for i, t := range v.Tools {
		o, ok := r.view.Get(catalog.KindServer, t.Server)
		if !ok {
			return catalog.Invalid(fmt.Sprintf("tools[%d].server", i), "server %q does not exist", t.Server)
		}
		s := o.(*catalog.Server)
		ver := s.DefaultVersion()
		if t.Version != "" {
			ver = s.Version(t.Version)
		}
		if ver == nil {
			return catalog.Invalid(fmt.Sprintf("tools[%d].version", i), "server %q has no such serving version", t.Server)
		}
		if !slices.ContainsFunc(ver.Tools, func(x catalog.Tool) bool { return x.Name == t.Tool }) {
			return catalog.Invalid(fmt.Sprintf("tools[%d].tool", i), "server %q version %s has no tool %q", t.Server, ver.Version, t.Tool)
		}
	}
	return nil
}

func (r *Registrar) entitiesOfType(typ string) int {
	items, _ := r.view.List(catalog.KindEntity, view.Page{Prefix: typ + ":", Limit: 1})
	return len(items)
}

// refused records a change the actor was not allowed to make or that failed validation, and returns err.
func (r *Registrar) refused(a Actor, action Action, kind catalog.Kind, key string, before int64, err error) error {
	if errors.Is(err, catalog.ErrForbidden) {
		r.record(a, action, kind, key, before, 0, false, "forbidden")
	}
	return err
}

// failed handles a store error: it is returned as is (the edge maps conflicts and unavailability).
func (r *Registrar) failed(a Actor, action Action, kind catalog.Kind, key string, before int64, err error) error {
	if !errors.Is(err, catalog.ErrConflict) && !errors.Is(err, catalog.ErrRevMismatch) && !errors.Is(err, catalog.ErrNotFound) {
		r.record(a, action, kind, key, before, 0, false, "store error")
	}
	return err
}

func (r *Registrar) record(a Actor, action Action, kind catalog.Kind, key string, before, after int64, allow bool, reason string) {
	if r.opts.Auditor == nil {
		return
	}
	r.opts.Auditor.Submit(audit.Record{
		Kind: audit.KindMutation, Subject: a.Subject, Client: a.Client, Groups: a.Groups, Issuer: a.Issuer,
		Allow: allow, Reason: reason, Action: string(action), Resource: string(kind), Name: key,
		RevBefore: before, RevAfter: after,
	})
}
