package api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/view"
)

// resource describes one collection of the REST API; the handlers are shared.
type resource struct {
	kind catalog.Kind
	// path of the collection, relative to /api/v1 (may hold a parameter: /entities/:type).
	path string
	// item is the item path relative to the collection.
	item string
	// key builds the object key from the path parameters.
	key func(c *gin.Context) (string, error)
	// prefix restricts listings from the path (an entity type); empty for most kinds.
	prefix func(c *gin.Context) (string, error)
	// bind checks a decoded body against the path (for example an entity's type) before it is written.
	bind func(c *gin.Context, obj catalog.Object) error
	// namespaced kinds are keyed namespace/name and filter by ?namespace=.
	namespaced bool
}

var resources = []resource{
	{kind: catalog.KindServer, path: "/servers", item: "/:ns/:name", key: nsName, namespaced: true},
	{kind: catalog.KindAgent, path: "/agents", item: "/:ns/:name", key: nsName, namespaced: true},
	{kind: catalog.KindSkill, path: "/skills", item: "/:ns/:name", key: nsName, namespaced: true},
	{kind: catalog.KindEntityType, path: "/entity-types", item: "/:name", key: simpleName},
	{kind: catalog.KindEntity, path: "/entities/:type", item: "/:ns/:name", key: entityKey, prefix: entityPrefix,
		bind: bindEntity, namespaced: true},
	{kind: catalog.KindVirtualServer, path: "/virtual-servers", item: "/:name", key: simpleName},
	{kind: catalog.KindScope, path: "/scopes", item: "/:name", key: simpleName},
	{kind: catalog.KindGroupMapping, path: "/group-mappings", item: "/*id", key: mappingKey},
	{kind: catalog.KindClientMapping, path: "/client-mappings", item: "/*id", key: mappingKey},
}

func nsName(c *gin.Context) (string, error) {
	full := c.Param("ns") + "/" + c.Param("name")
	if _, _, err := catalog.SplitName(full); err != nil {
		return "", err
	}
	return full, nil
}

func simpleName(c *gin.Context) (string, error) {
	n := c.Param("name")
	if n == "" || len(n) > catalog.MaxNameLen || strings.ContainsAny(n, " /") {
		return "", errInvalidName
	}
	return n, nil
}

func entityPrefix(c *gin.Context) (string, error) {
	t := c.Param("type")
	if n := len(t); n == 0 || n > 63 {
		return "", errInvalidName
	}
	return catalog.EntityKey(t, ""), nil
}

func entityKey(c *gin.Context) (string, error) {
	full, err := nsName(c)
	if err != nil {
		return "", err
	}
	if _, err := entityPrefix(c); err != nil {
		return "", err
	}
	return catalog.EntityKey(c.Param("type"), full), nil
}

func bindEntity(c *gin.Context, obj catalog.Object) error {
	e := obj.(*catalog.Entity)
	switch e.Type {
	case "":
		e.Type = c.Param("type")
	case c.Param("type"):
	default:
		return catalog.Invalid("type", "must match the path (%s)", c.Param("type"))
	}
	return nil
}

// mappingKey reads a mapping's key from the path (the group or client id, which may contain slashes, as Keycloak
// group paths do) and ?issuer= (empty: the mapping for every issuer).
func mappingKey(c *gin.Context) (string, error) {
	id := strings.TrimPrefix(c.Param("id"), "/")
	if id == "" || len(id) > 256 {
		return "", errInvalidName
	}
	return catalog.MappingKey(c.Query("issuer"), id), nil
}

type nameError struct{}

func (nameError) Error() string { return "invalid name in path" }

var errInvalidName error = nameError{}

func (s *Server) mountResource(g *gin.RouterGroup, r resource) {
	g.GET(r.path, func(c *gin.Context) { s.list(c, r) })
	g.POST(r.path, func(c *gin.Context) { s.create(c, r) })
	g.GET(r.path+r.item, func(c *gin.Context) { s.get(c, r) })
	g.PUT(r.path+r.item, func(c *gin.Context) { s.replace(c, r) })
	g.PATCH(r.path+r.item, func(c *gin.Context) { s.patch(c, r) })
	g.DELETE(r.path+r.item, func(c *gin.Context) { s.delete(c, r) })
}

// pathKey resolves the item key, answering 400 for a malformed name.
func pathKey(c *gin.Context, r resource) (string, bool) {
	k, err := r.key(c)
	if err != nil {
		writeProblem(c, probInvalidName.with(err.Error()))
		return "", false
	}
	return k, true
}

// listResponse is the shape of every collection listing.
type listResponse struct {
	Items      []any  `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

const (
	defaultLimit = 50
	maxLimit     = 500
)

func (s *Server) list(c *gin.Context, r resource) {
	v, ok := s.visible(c)
	if !ok {
		return
	}
	page, ok := pageFromQuery(c)
	if !ok {
		return
	}
	if r.prefix != nil {
		p, err := r.prefix(c)
		if err != nil {
			writeProblem(c, probInvalidName.with(err.Error()))
			return
		}
		page.Prefix = p
	}
	match, ok := filterFromQuery(c, r, &page)
	if !ok {
		return
	}
	page.Keys = v.Keys(r.kind)
	page.Match = func(o catalog.Object) bool { return (page.Keys != nil || v.Sees(r.kind, o.Key())) && match(o) }
	items, more := s.opts.View.List(r.kind, page)
	next := ""
	if more {
		next = encodeCursor(items[len(items)-1].Key())
	}
	s.writeList(c, v, items, next)
}

func pageFromQuery(c *gin.Context) (view.Page, bool) {
	p := view.Page{Limit: defaultLimit}
	if !queryOK(c) {
		return p, false
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxLimit {
			writeProblem(c, probInvalidQuery.with("limit must be an integer from 1 to "+strconv.Itoa(maxLimit)))
			return p, false
		}
		p.Limit = n
	}
	if cur := c.Query("cursor"); cur != "" {
		after, err := decodeCursor(cur)
		if err != nil {
			writeProblem(c, probInvalidQuery.with("cursor is not one this API issued"))
			return p, false
		}
		p.After = after
	}
	return p, true
}

// queryOK refuses a query string that is not valid URL encoding: gin drops the pairs it cannot decode, so
// cursor=%zz would silently read as no cursor.
func queryOK(c *gin.Context) bool {
	if _, err := url.ParseQuery(c.Request.URL.RawQuery); err != nil {
		writeProblem(c, probInvalidQuery.with("the query string is not valid URL encoding"))
		return false
	}
	return true
}

const cursorPrefix = "k1:"

func encodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + key))
}

func decodeCursor(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) {
		return "", errInvalidName
	}
	return strings.TrimPrefix(string(b), cursorPrefix), nil
}

// filterFromQuery builds the listing filter: tag, status, namespace and q (a case-insensitive substring of the name,
// title or description).
func filterFromQuery(c *gin.Context, r resource, page *view.Page) (func(catalog.Object) bool, bool) {
	tag := strings.ToLower(c.Query("tag"))
	status := catalog.Status(c.Query("status"))
	q := strings.ToLower(c.Query("q"))
	if ns := c.Query("namespace"); ns != "" {
		if !r.namespaced {
			writeProblem(c, probInvalidQuery.with("namespace does not apply to this collection"))
			return nil, false
		}
		if _, _, err := catalog.SplitName(ns + "/x"); err != nil {
			writeProblem(c, probInvalidQuery.with("namespace is not a valid namespace"))
			return nil, false
		}
		page.Prefix += ns + "/"
	}
	if status != "" && !slices.Contains([]catalog.Status{catalog.StatusEnabled, catalog.StatusDisabled,
		catalog.StatusSecurityPending, catalog.StatusDeprecated}, status) {
		writeProblem(c, probInvalidQuery.with("status must be one of enabled, disabled, security-pending, deprecated"))
		return nil, false
	}
	return func(o catalog.Object) bool {
		g := governance(o)
		if g == nil {
			return (tag == "" && status == "") && (q == "" || strings.Contains(strings.ToLower(o.Key()), q))
		}
		if tag != "" && !slices.Contains(g.Tags, tag) {
			return false
		}
		if status != "" && g.Status != status {
			return false
		}
		if q != "" && !strings.Contains(strings.ToLower(o.Key()), q) && !strings.Contains(strings.ToLower(g.Title), q) &&
			!strings.Contains(strings.ToLower(g.Description), q) {
			return false
		}
		return true
	}, true
}

func governance(o catalog.Object) *catalog.Governance {
	switch x := o.(type) {
	case *catalog.Server:
		return &x.Governance
	case *catalog.Agent:
		return &x.Governance
	case *catalog.Skill:
		return &x.Governance
	case *catalog.Entity:
		return &x.Governance
	case *catalog.VirtualServer:
		return &x.Governance
	}
	return nil
}

// render prepares an object for a response: secrets removed, and a server's tools cut to those the caller may call.
func render(v Visible, o catalog.Object) any {
	s, ok := o.(*catalog.Server)
	if !ok {
		return o
	}
	out := s.Redacted()
	if keep := v.Tools(s.Name); keep != nil {
		for i := range out.Versions {
			ver := &out.Versions[i]
			tools := make([]catalog.Tool, 0, len(ver.Tools))
			for _, t := range ver.Tools {
				if keep(t.Name) {
					tools = append(tools, t)
				}
			}
			ver.Tools = tools
		}
	}
	return out
}

func (s *Server) get(c *gin.Context, r resource) {
	key, ok := pathKey(c, r)
	if !ok {
		return
	}
	v, ok := s.visible(c)
	if !ok {
		return
	}
	o, found := s.opts.View.Get(r.kind, key)
	if !found || !v.Sees(r.kind, key) {
		writeProblem(c, probNotFound.with("no such resource"))
		return
	}
	etag := etagOf(o)
	if inm := c.GetHeader("If-None-Match"); inm != "" && (inm == etag || inm == "*") {
		c.Header("ETag", etag)
		c.Status(http.StatusNotModified)
		return
	}
	c.Header("ETag", etag)
	s.writeObject(c, http.StatusOK, v, o)
}

func etagOf(o catalog.Object) string { return `"` + strconv.FormatInt(o.Metadata().Rev, 10) + `"` }

// ifMatch parses If-Match: absent or * is 0 (unconditional), "<rev>" is that rev. Anything else can never match.
func ifMatch(c *gin.Context) (int64, bool) {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" || h == "*" {
		return 0, true
	}
	n, err := strconv.ParseInt(strings.Trim(h, `"`), 10, 64)
	if err != nil || n <= 0 || !strings.HasPrefix(h, `"`) || !strings.HasSuffix(h, `"`) {
		writeProblem(c, probPrecondition.with(`If-Match must be an ETag from this API, such as "42"`))
		return 0, false
	}
	return n, true
}

func (s *Server) decodeFor(c *gin.Context, r resource, body []byte) (catalog.Object, bool) {
	obj, err := catalog.DecodeObject(r.kind, body)
	if err != nil {
		s.fail(c, err)
		return nil, false
	}
	if r.bind != nil {
		if err := r.bind(c, obj); err != nil {
			s.fail(c, err)
			return nil, false
		}
	}
	return obj, true
}

func (s *Server) create(c *gin.Context, r resource) {
	if r.prefix != nil {
		if _, err := r.prefix(c); err != nil {
			writeProblem(c, probInvalidName.with(err.Error()))
			return
		}
	}
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	obj, ok := s.decodeFor(c, r, body)
	if !ok {
		return
	}
	// Validate before the registrar asks the policy: an object without a name has no key for the policy to decide
	// on (the engine refuses such input), and the client should hear about every broken field at once.
	obj.Normalize()
	if err := obj.Validate(); err != nil {
		s.fail(c, err)
		return
	}
	out, err := s.opts.Registrar.Create(c.Request.Context(), actor(c), obj)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("ETag", etagOf(out))
	c.Header("Location", c.Request.URL.Path+"/"+locationSuffix(r, out))
	s.respondObject(c, http.StatusCreated, out)
}

func locationSuffix(r resource, o catalog.Object) string {
	switch x := o.(type) {
	case *catalog.Entity:
		return x.Name
	case *catalog.GroupMapping:
		return withIssuer(x.Group, x.Issuer)
	case *catalog.ClientMapping:
		return withIssuer(x.Client, x.Issuer)
	}
	return o.Key()
}

// withIssuer names a mapping in a URL: its id, escaped segment by segment (an id may hold slashes, spaces or '?'),
// and ?issuer= when the mapping is limited to one issuer.
func withIssuer(id, issuer string) string {
	segs := strings.Split(id, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	p := strings.Join(segs, "/")
	if issuer == "" {
		return p
	}
	return p + "?issuer=" + urlQueryEscape(issuer)
}

func (s *Server) respondObject(c *gin.Context, status int, o catalog.Object) {
	v, ok := s.visible(c)
	if !ok {
		return
	}
	s.writeObject(c, status, v, o)
}

func (s *Server) replace(c *gin.Context, r resource) {
	key, ok := pathKey(c, r)
	if !ok {
		return
	}
	rev, ok := ifMatch(c)
	if !ok {
		return
	}
	if !s.mayWrite(c, r, key) {
		return
	}
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	obj, ok := s.decodeFor(c, r, body)
	if !ok {
		return
	}
	if obj.Key() != key {
		s.fail(c, catalog.Invalid(pathField(c, obj), "must match the path"))
		return
	}
	out, err := s.opts.Registrar.Replace(c.Request.Context(), actor(c), obj, rev)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("ETag", etagOf(out))
	s.respondObject(c, http.StatusOK, out)
}

// pathField names the member of a PUT body that does not match the path: a mapping's key is its id (the path) and
// its issuer (?issuer=); every other kind is named by its name (an entity's type is checked by bindEntity).
func pathField(c *gin.Context, obj catalog.Object) string {
	id, issuer := strings.TrimPrefix(c.Param("id"), "/"), c.Query("issuer")
	switch obj.(type) {
	case *catalog.GroupMapping:
		return catalog.KeyField(&catalog.GroupMapping{Group: id, Issuer: issuer}, obj)
	case *catalog.ClientMapping:
		return catalog.KeyField(&catalog.ClientMapping{Client: id, Issuer: issuer}, obj)
	}
	return "name"
}

func (s *Server) patch(c *gin.Context, r resource) {
	key, ok := pathKey(c, r)
	if !ok {
		return
	}
	rev, ok := ifMatch(c)
	if !ok {
		return
	}
	if !s.mayWrite(c, r, key) {
		return
	}
	body, ok := s.readBody(c, "application/merge-patch+json", "application/json")
	if !ok {
		return
	}
	out, err := s.opts.Registrar.Patch(c.Request.Context(), actor(c), r.kind, key, body, rev)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.Header("ETag", etagOf(out))
	s.respondObject(c, http.StatusOK, out)
}

func (s *Server) delete(c *gin.Context, r resource) {
	key, ok := pathKey(c, r)
	if !ok {
		return
	}
	rev, ok := ifMatch(c)
	if !ok {
		return
	}
	if !s.mayWrite(c, r, key) {
		return
	}
	if err := s.opts.Registrar.Delete(c.Request.Context(), actor(c), r.kind, key, rev); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// mayWrite hides objects the caller cannot see: a write to one answers 404, as a read would, so that writes do not
// reveal what exists.
func (s *Server) mayWrite(c *gin.Context, r resource, key string) bool {
	v, ok := s.visible(c)
	if !ok {
		return false
	}
	if _, found := s.opts.View.Get(r.kind, key); found && !v.Sees(r.kind, key) {
		writeProblem(c, probNotFound.with("no such resource"))
		return false
	}
	return true
}
