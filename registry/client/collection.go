package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

const apiPrefix = "/api/v1"

// ListOptions filter and page a listing. Zero values mean "no filter" and the server's default page size.
type ListOptions struct {
	// Limit is the page size, 1 to 500 (the server's default is 50).
	Limit int
	// Cursor continues a listing from a previous page's NextCursor.
	Cursor string
	// Tag keeps assets carrying the tag.
	Tag string
	// Status keeps assets in that lifecycle state.
	Status catalog.Status
	// Namespace keeps assets of one namespace (namespaced kinds only).
	Namespace string
	// Q keeps objects whose name, title or description contains it, ignoring case.
	Q string
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	q.Set("cursor", o.Cursor)
	q.Set("tag", o.Tag)
	q.Set("status", string(o.Status))
	q.Set("namespace", o.Namespace)
	q.Set("q", o.Q)
	return q
}

// Page is one page of a listing.
type Page[T any] struct {
	Items []T
	// NextCursor continues the listing; empty on the last page.
	NextCursor string
}

// wirePage is a listing as the API sends it. Items stay raw so that each one is decoded into a fresh object (a
// null item becomes an error, not a nil pointer in the caller's hands).
type wirePage struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor string            `json:"next_cursor"`
}

// nameStyle says how an item's name appears in its path.
type nameStyle int

const (
	// nameNamespaced is "namespace/name": two path segments.
	nameNamespaced nameStyle = iota
	// nameSimple is one segment without a slash.
	nameSimple
	// nameSubject is a group or client id, which may contain slashes (Keycloak group paths): one escaped segment.
	nameSubject
)

// Collection is one kind of catalog object in the API: servers, agents, skills, entity types, entities of one type,
// virtual servers, scopes, group mappings or client mappings.
type Collection[T catalog.Object] struct {
	c     *Client
	kind  catalog.Kind
	path  string // escaped, below the base URL
	style nameStyle
	// name gives the name an object is addressed by in its item path.
	name func(T) string
	// issuer, for mappings: the issuer a mapping is limited to ("" for every issuer).
	issuer    string
	objIssuer func(T) string
	// err is returned by every call (an invalid entity type given to Entities).
	err error
}

func newCollection[T catalog.Object](c *Client, kind catalog.Kind, path string, style nameStyle, name func(T) string) *Collection[T] {
	return &Collection[T]{c: c, kind: kind, path: apiPrefix + path, style: style, name: name}
}

func key[T catalog.Object](o T) string { return o.Key() }

// Servers is the collection of MCP servers, named "namespace/name".
func (c *Client) Servers() *Collection[*catalog.Server] {
	return newCollection(c, catalog.KindServer, "/servers", nameNamespaced, key[*catalog.Server])
}

// Agents is the collection of A2A agents, named "namespace/name".
func (c *Client) Agents() *Collection[*catalog.Agent] {
	return newCollection(c, catalog.KindAgent, "/agents", nameNamespaced, key[*catalog.Agent])
}

// Skills is the collection of agent skills, named "namespace/name".
func (c *Client) Skills() *Collection[*catalog.Skill] {
	return newCollection(c, catalog.KindSkill, "/skills", nameNamespaced, key[*catalog.Skill])
}

// EntityTypes is the collection of custom entity types.
func (c *Client) EntityTypes() *Collection[*catalog.EntityType] {
	return newCollection(c, catalog.KindEntityType, "/entity-types", nameSimple, key[*catalog.EntityType])
}

// Entities is the collection of the entities of one type, named "namespace/name".
func (c *Client) Entities(typ string) *Collection[*catalog.Entity] {
	col := newCollection(c, catalog.KindEntity, "/entities/"+url.PathEscape(typ), nameNamespaced,
		func(e *catalog.Entity) string { return e.Name })
	if typ == "" || strings.Contains(typ, "/") {
		col.err = catalog.Invalid("type", "an entity type name is required (one path segment)")
	}
	return col
}

// VirtualServers is the collection of virtual servers.
func (c *Client) VirtualServers() *Collection[*catalog.VirtualServer] {
	return newCollection(c, catalog.KindVirtualServer, "/virtual-servers", nameSimple, key[*catalog.VirtualServer])
}

// Scopes is the collection of scopes.
func (c *Client) Scopes() *Collection[*catalog.Scope] {
	return newCollection(c, catalog.KindScope, "/scopes", nameSimple, key[*catalog.Scope])
}

// GroupMappings is the collection of group mappings, addressed by group. Get, Patch, Delete and ReplaceJSON address
// the mappings for every issuer; use Issuer to address the mapping limited to one issuer.
func (c *Client) GroupMappings() *Collection[*catalog.GroupMapping] {
	col := newCollection(c, catalog.KindGroupMapping, "/group-mappings", nameSubject,
		func(m *catalog.GroupMapping) string { return m.Group })
	col.objIssuer = func(m *catalog.GroupMapping) string { return m.Issuer }
	return col
}

// ClientMappings is the collection of client mappings, addressed by client id; see GroupMappings for issuers.
func (c *Client) ClientMappings() *Collection[*catalog.ClientMapping] {
	col := newCollection(c, catalog.KindClientMapping, "/client-mappings", nameSubject,
		func(m *catalog.ClientMapping) string { return m.Client })
	col.objIssuer = func(m *catalog.ClientMapping) string { return m.Issuer }
	return col
}

// Issuer returns the collection addressing mappings limited to issuer ("" addresses the mappings for every issuer).
// Only group and client mappings have issuers; on other collections every call fails.
func (r *Collection[T]) Issuer(issuer string) *Collection[T] {
	c := *r
	c.issuer = issuer
	if r.objIssuer == nil && c.err == nil {
		c.err = catalog.Invalid("issuer", "only group and client mappings are limited to an issuer")
	}
	return &c
}

// Kind is the catalog kind of the collection's objects.
func (r *Collection[T]) Kind() catalog.Kind { return r.kind }

// Path is the escaped collection path below the base URL, for calls through Do.
func (r *Collection[T]) Path() string { return r.path }

// ItemPath is the escaped path (with query, for a mapping's issuer) of the object with name, for calls through Do.
func (r *Collection[T]) ItemPath(name string) (string, error) {
	return r.itemPath(name, r.issuer)
}

func (r *Collection[T]) itemPath(name, issuer string) (string, error) {
	if r.err != nil {
		return "", r.err
	}
	var p string
	switch r.style {
	case nameNamespaced:
		ns, n, ok := strings.Cut(name, "/")
		if !ok || strings.Contains(n, "/") || !segment(ns) || !segment(n) {
			return "", catalog.Invalid("name", "%q must be namespace/name", name)
		}
		p = r.path + "/" + url.PathEscape(ns) + "/" + url.PathEscape(n)
	case nameSimple:
		if strings.Contains(name, "/") || !segment(name) {
			return "", catalog.Invalid("name", "%q must be a name without a slash", name)
		}
		p = r.path + "/" + url.PathEscape(name)
	case nameSubject:
		if strings.TrimSpace(name) == "" {
			return "", catalog.Invalid("name", "a group or client id is required")
		}
		p = r.path + "/" + url.PathEscape(name)
	}
	if issuer != "" {
		p += "?" + url.Values{"issuer": {issuer}}.Encode()
	}
	return p, nil
}

// segment rejects empty and dot segments, which a proxy or the server would resolve to another path.
func segment(s string) bool { return s != "" && s != "." && s != ".." }

func (r *Collection[T]) objectPath(obj T) (string, error) {
	issuer := r.issuer
	if r.objIssuer != nil {
		issuer = r.objIssuer(obj)
	}
	return r.itemPath(r.name(obj), issuer)
}

func (r *Collection[T]) newObject() T { return catalog.New(r.kind).(T) }

// object reads one object from a response, taking its rev from the ETag when the body lacks one.
func (r *Collection[T]) object(raw json.RawMessage, rev int64) (T, error) {
	obj := r.newObject()
	if err := json.Unmarshal(raw, obj); err != nil {
		var zero T
		return zero, fmt.Errorf("decode %s: %w", r.kind, err)
	}
	if m := obj.Metadata(); m.Rev == 0 {
		m.Rev = rev
	}
	return obj, nil
}

func (r *Collection[T]) write(ctx context.Context, method, path string, body any, ifRev int64, opts ...CallOption) (T, error) {
	var zero T
	var raw json.RawMessage
	resp, err := r.c.Do(ctx, method, path, body, &raw, append(opts, IfMatch(ifRev))...)
	if err != nil {
		return zero, err
	}
	return r.object(raw, resp.Rev)
}

// Create registers obj and returns it as stored (defaults filled, rev and timestamps set).
func (r *Collection[T]) Create(ctx context.Context, obj T) (T, error) {
	return r.create(ctx, obj)
}

// CreateJSON registers the object encoded in doc, a JSON document sent as it is: the server, not this client,
// decides which fields exist (an older client keeps working with a newer server).
func (r *Collection[T]) CreateJSON(ctx context.Context, doc []byte) (T, error) {
	return r.create(ctx, doc)
}

func (r *Collection[T]) create(ctx context.Context, body any) (T, error) {
	if r.err != nil {
		var zero T
		return zero, r.err
	}
	return r.write(ctx, http.MethodPost, r.path, body, 0)
}

// Get reads the object with name. Its Meta.Rev is the rev to pass to a conditional Replace, Patch or Delete.
func (r *Collection[T]) Get(ctx context.Context, name string) (T, error) {
	var zero T
	p, err := r.ItemPath(name)
	if err != nil {
		return zero, err
	}
	var raw json.RawMessage
	resp, err := r.c.Do(ctx, http.MethodGet, p, nil, &raw)
	if err != nil {
		return zero, err
	}
	return r.object(raw, resp.Rev)
}

// Replace overwrites the object named by obj with obj. A non-zero ifRev makes it conditional: the call fails with
// catalog.ErrRevMismatch when the stored object's rev differs.
func (r *Collection[T]) Replace(ctx context.Context, obj T, ifRev int64) (T, error) {
	p, err := r.objectPath(obj)
	if err != nil {
		var zero T
		return zero, err
	}
	return r.write(ctx, http.MethodPut, p, obj, ifRev)
}

// ReplaceJSON overwrites the object with name by the JSON document doc, sent as it is.
func (r *Collection[T]) ReplaceJSON(ctx context.Context, name string, doc []byte, ifRev int64) (T, error) {
	p, err := r.ItemPath(name)
	if err != nil {
		var zero T
		return zero, err
	}
	return r.write(ctx, http.MethodPut, p, doc, ifRev)
}

// Patch applies a JSON merge patch (RFC 7396) to the object with name: fields of patch replace the stored ones, and
// a null removes one. patch is a JSON document ([]byte, json.RawMessage) or a value encoded as JSON.
func (r *Collection[T]) Patch(ctx context.Context, name string, patch any, ifRev int64) (T, error) {
	p, err := r.ItemPath(name)
	if err != nil {
		var zero T
		return zero, err
	}
	return r.write(ctx, http.MethodPatch, p, patch, ifRev, WithHeader("Content-Type", "application/merge-patch+json"))
}

// Delete removes the object with name; a non-zero ifRev makes it conditional.
func (r *Collection[T]) Delete(ctx context.Context, name string, ifRev int64) error {
	p, err := r.ItemPath(name)
	if err != nil {
		return err
	}
	_, err = r.c.Do(ctx, http.MethodDelete, p, nil, nil, IfMatch(ifRev))
	return err
}

// List reads one page of the objects the caller may see, in key order.
func (r *Collection[T]) List(ctx context.Context, opts ListOptions) (Page[T], error) {
	var page Page[T]
	if r.err != nil {
		return page, r.err
	}
	var wire wirePage
	if _, err := r.c.Do(ctx, http.MethodGet, r.path, nil, &wire, WithQuery(opts.query())); err != nil {
		return page, err
	}
	page.NextCursor = wire.NextCursor
	page.Items = make([]T, 0, len(wire.Items))
	for _, raw := range wire.Items {
		obj, err := r.object(raw, 0)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, obj)
	}
	return page, nil
}

// All iterates over every object the caller may see, fetching pages of opts.Limit as it goes. It stops at the first
// error, which it yields with a zero object.
func (r *Collection[T]) All(ctx context.Context, opts ListOptions) iter.Seq2[T, error] {
	return paginate(opts.Cursor, func(cursor string) (Page[T], error) {
		o := opts
		o.Cursor = cursor
		return r.List(ctx, o)
	})
}

// paginate walks pages from cursor until one has no NextCursor.
func paginate[T any](cursor string, next func(cursor string) (Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		for {
			page, err := next(cursor)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, it := range page.Items {
				if !yield(it, nil) {
					return
				}
			}
			switch page.NextCursor {
			case "":
				return
			case cursor:
				// A server that hands back the cursor it was given would make this loop forever.
				yield(zero, fmt.Errorf("list: the server returned the same cursor twice"))
				return
			}
			cursor = page.NextCursor
		}
	}
}
