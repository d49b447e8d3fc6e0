package api

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// Server versions are a sub-resource: each change rewrites the server (one rev, one ETag for the server and its
// versions) through the registrar, so validation, authorization and audit are the server's.

var serverResource = resources[0]

func (s *Server) mountVersions(g *gin.RouterGroup) {
	base := "/servers/:ns/:name/versions"
	g.GET(base, s.listVersions)
	g.POST(base, s.addVersion)
	g.GET(base+"/:version", s.getVersion)
	g.PUT(base+"/:version", s.replaceVersion)
	g.DELETE(base+"/:version", s.deleteVersion)
}

// visibleServer returns the server named by the path when the caller may see it.
func (s *Server) visibleServer(c *gin.Context) (*catalog.Server, Visible, bool) {
	key, ok := pathKey(c, serverResource)
	if !ok {
		return nil, nil, false
	}
	v, ok := s.visible(c)
	if !ok {
		return nil, nil, false
	}
	o, found := s.opts.View.Get(catalog.KindServer, key)
	if !found || !v.Sees(catalog.KindServer, key) {
		writeProblem(c, probNotFound.with("no such server"))
		return nil, nil, false
	}
	return o.(*catalog.Server), v, true
}

func (s *Server) listVersions(c *gin.Context) {
	srv, v, ok := s.visibleServer(c)
	if !ok {
		return
	}
	out := render(v, srv).(*catalog.Server)
	items := make([]any, len(out.Versions))
	for i := range out.Versions {
		items[i] = out.Versions[i]
	}
	c.Header("ETag", etagOf(srv))
	c.JSON(http.StatusOK, listResponse{Items: items})
}

func (s *Server) getVersion(c *gin.Context) {
	srv, v, ok := s.visibleServer(c)
	if !ok {
		return
	}
	out := render(v, srv).(*catalog.Server)
	ver := out.Version(c.Param("version"))
	if ver == nil {
		writeProblem(c, probNotFound.with("the server has no such version"))
		return
	}
	c.Header("ETag", etagOf(srv))
	c.JSON(http.StatusOK, ver)
}

func (s *Server) addVersion(c *gin.Context) {
	s.changeVersion(c, func(srv *catalog.Server, ver *catalog.ServerVersion) (int, bool) {
		if srv.Version(ver.Version) != nil {
			writeProblem(c, probConflict.with("the server already has version "+ver.Version))
			return 0, false
		}
		srv.Versions = append(srv.Versions, *ver)
		return http.StatusCreated, true
	})
}

func (s *Server) replaceVersion(c *gin.Context) {
	s.changeVersion(c, func(srv *catalog.Server, ver *catalog.ServerVersion) (int, bool) {
		if ver.Version != c.Param("version") {
			s.fail(c, catalog.Invalid("version", "must match the path"))
			return 0, false
		}
		i := slices.IndexFunc(srv.Versions, func(x catalog.ServerVersion) bool { return x.Version == ver.Version })
		if i < 0 {
			writeProblem(c, probNotFound.with("the server has no such version"))
			return 0, false
		}
		srv.Versions[i] = *ver
		return http.StatusOK, true
	})
}

// changeVersion decodes a version from the body, lets edit apply it to a copy of the server, and writes the server.
func (s *Server) changeVersion(c *gin.Context, edit func(*catalog.Server, *catalog.ServerVersion) (int, bool)) {
	srv, _, ok := s.visibleServer(c)
	if !ok {
		return
	}
	rev, ok := baseRev(c, srv)
	if !ok {
		return
	}
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	var ver catalog.ServerVersion
	if err := catalog.Decode(body, &ver); err != nil {
		s.fail(c, err)
		return
	}
	// Validate the version on its own first, so that errors name its fields (url), not the server's
	// (versions[2].url, whose index depends on the sort order).
	ver.Normalize()
	// A client may send back a version it read, which never carries the secret reference: keep the stored one, as
	// a replace of the whole server does.
	one := catalog.Server{Versions: []catalog.ServerVersion{ver}}
	one.KeepSecrets(srv)
	ver = one.Versions[0]
	if err := catalog.ValidateVersion(&ver); err != nil {
		s.fail(c, err)
		return
	}
	if err := s.opts.Registrar.CheckVersion(&ver); err != nil {
		s.fail(c, err)
		return
	}
	next := cloneServer(srv)
	status, ok := edit(next, &ver)
	if !ok {
		return
	}
	if ver.Default {
		// Marking this version default takes the mark from the others; otherwise normalisation keeps the newest
		// marked version, and an older version could never be made the default through this sub-resource.
		for i := range next.Versions {
			next.Versions[i].Default = next.Versions[i].Version == ver.Version
		}
	}
	s.writeServer(c, next, rev, status, ver.Version)
}

func (s *Server) deleteVersion(c *gin.Context) {
	srv, _, ok := s.visibleServer(c)
	if !ok {
		return
	}
	rev, ok := baseRev(c, srv)
	if !ok {
		return
	}
	next := cloneServer(srv)
	i := slices.IndexFunc(next.Versions, func(x catalog.ServerVersion) bool { return x.Version == c.Param("version") })
	if i < 0 {
		writeProblem(c, probNotFound.with("the server has no such version"))
		return
	}
	if len(next.Versions) == 1 {
		writeProblem(c, probConflict.with("a server keeps at least one version; delete the server instead"))
		return
	}
	next.Versions = slices.Delete(next.Versions, i, i+1)
	for j := range next.Versions {
		next.Versions[j].Default = false // let normalisation pick the newest serving version
	}
	if !srv.Versions[i].Default {
		if d := srv.DefaultVersion(); d != nil {
			next.Version(d.Version).Default = true
		}
	}
	if _, err := s.opts.Registrar.Replace(c.Request.Context(), actor(c), next, rev); err != nil {
		s.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) writeServer(c *gin.Context, next *catalog.Server, rev int64, status int, version string) {
	out, err := s.opts.Registrar.Replace(c.Request.Context(), actor(c), next, rev)
	if err != nil {
		s.fail(c, err)
		return
	}
	v, ok := s.visible(c)
	if !ok {
		return
	}
	ver := render(v, out).(*catalog.Server).Version(version)
	c.Header("ETag", etagOf(out))
	if status == http.StatusCreated {
		c.Header("Location", c.Request.URL.Path+"/"+url.PathEscape(version))
	}
	c.JSON(status, ver)
}

// baseRev returns the rev a version write must be conditional on: that of the server copy the edit is computed
// from (this process's view), always, so that two concurrent version edits cannot silently undo each other. An
// If-Match naming another rev answers 412, even when it names the store's current rev: the view may not have caught
// up with a write made through another replica, and editing the older copy would undo that write.
func baseRev(c *gin.Context, srv *catalog.Server) (int64, bool) {
	rev, ok := ifMatch(c)
	if !ok {
		return 0, false
	}
	if rev != 0 && rev != srv.Rev {
		writeProblem(c, probPrecondition.with("the resource changed since the revision named in If-Match; read it again"))
		return 0, false
	}
	return srv.Rev, true
}

// cloneServer copies a server deeply enough to edit its versions: objects in the view are shared and immutable.
func cloneServer(s *catalog.Server) *catalog.Server {
	c := *s
	c.Versions = slices.Clone(s.Versions)
	c.Tags = slices.Clone(s.Tags)
	c.Gateways = slices.Clone(s.Gateways)
	return &c
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }
