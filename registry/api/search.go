package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/search"
)

// Searcher is the search index as the API uses it (*search.Index).
type Searcher interface {
	Search(ctx context.Context, q search.Query, v search.Visibility) (search.Results, error)
	Reindex(ctx context.Context, src search.Source) (search.Status, error)
	Status() search.Status
}

var _ Searcher = (*search.Index)(nil)

// maxSearchQueryBytes bounds q in a GET; longer queries go in a POST body (search.MaxQueryBytes).
const maxSearchQueryBytes = 1024

// mountSearch adds the search routes. They are served even when the process runs without an index, so that the
// API's shape does not depend on configuration; they then answer 501.
func (s *Server) mountSearch(v1 *gin.RouterGroup) {
	v1.GET("/search", s.searchGet)
	v1.POST("/search", s.searchPost)
	v1.POST("/admin/search/reindex", s.searchReindex)
	v1.GET("/admin/search/status", s.searchStatus)
}

func (s *Server) searcher(c *gin.Context) (Searcher, bool) {
	if s.opts.Search == nil {
		writeProblem(c, probNotImplemented.with("search is not enabled in this process"))
		return nil, false
	}
	return s.opts.Search, true
}

// searchGet serves GET /api/v1/search?q=&types=&status=&limit=&explain=.
func (s *Server) searchGet(c *gin.Context) {
	idx, ok := s.searcher(c)
	if !ok || !queryOK(c) {
		return
	}
	q := search.Query{Text: c.Query("q")}
	if len(q.Text) > maxSearchQueryBytes {
		writeProblem(c, probInvalidQuery.with("q must be at most "+strconv.Itoa(maxSearchQueryBytes)+
			" bytes in a GET; send longer queries with POST"))
		return
	}
	for _, t := range splitList(c.Query("types")) {
		q.Types = append(q.Types, search.Type(t))
	}
	for _, st := range splitList(c.Query("status")) {
		q.Statuses = append(q.Statuses, catalog.Status(st))
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			writeProblem(c, probInvalidQuery.with("limit must be an integer from 1 to "+strconv.Itoa(search.MaxLimit)))
			return
		}
		q.Limit = n
		if n == 0 {
			q.Limit = -1 // 0 is not a valid limit here; the index's default applies only when limit is absent
		}
	}
	switch c.Query("explain") {
	case "", "false":
	case "true":
		q.Explain = true
	default:
		writeProblem(c, probInvalidQuery.with("explain must be true or false"))
		return
	}
	if err := q.Validate(); err != nil {
		var qe *search.QueryError
		if errors.As(err, &qe) {
			writeProblem(c, probInvalidQuery.with(qe.Field+" "+qe.Reason))
			return
		}
		s.fail(c, err)
		return
	}
	s.runSearch(c, idx, q)
}

// searchBody is the body of POST /api/v1/search.
type searchBody struct {
	Q       string   `json:"q"`
	Types   []string `json:"types"`
	Status  []string `json:"status"`
	Limit   *int     `json:"limit"`
	Explain bool     `json:"explain"`
}

// searchPost serves POST /api/v1/search, for queries too long for a URL.
func (s *Server) searchPost(c *gin.Context) {
	idx, ok := s.searcher(c)
	if !ok {
		return
	}
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	var b searchBody
	if err := catalog.Decode(body, &b); err != nil {
		s.fail(c, err)
		return
	}
	q := search.Query{Text: b.Q, Explain: b.Explain}
	for _, t := range b.Types {
		q.Types = append(q.Types, search.Type(t))
	}
	for _, st := range b.Status {
		q.Statuses = append(q.Statuses, catalog.Status(st))
	}
	if b.Limit != nil {
		q.Limit = *b.Limit
		if q.Limit == 0 {
			q.Limit = -1
		}
	}
	if err := q.Validate(); err != nil {
		var qe *search.QueryError
		if errors.As(err, &qe) {
			s.fail(c, catalog.Invalid(qe.Field, "%s", qe.Reason))
			return
		}
		s.fail(c, err)
		return
	}
	s.runSearch(c, idx, q)
}

// runSearch ranks for the caller: its visible set goes into the index, which filters before ranking.
func (s *Server) runSearch(c *gin.Context, idx Searcher, q search.Query) {
	v, ok := s.visible(c)
	if !ok {
		return
	}
	res, err := idx.Search(c.Request.Context(), q, v)
	if err != nil {
		var qe *search.QueryError
		if errors.As(err, &qe) {
			writeProblem(c, probInvalidQuery.with(qe.Field+" "+qe.Reason))
			return
		}
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

// searchReindex serves POST /api/v1/admin/search/reindex: the index is rebuilt from the view and every vector
// recomputed in the background (with the embedding model re-resolved); 202 with the index's status.
func (s *Server) searchReindex(c *gin.Context) {
	idx, ok := s.searcher(c)
	if !ok || !s.admin(c, "reindexing search is for admins only") {
		return
	}
	st, err := idx.Reindex(c.Request.Context(), s.opts.View)
	if err != nil {
		s.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, st)
}

// searchStatus serves GET /api/v1/admin/search/status: the embedding model, document and vector counts, and the
// assets whose vectors are missing.
func (s *Server) searchStatus(c *gin.Context) {
	idx, ok := s.searcher(c)
	if !ok || !s.admin(c, "the search index status is for admins only") {
		return
	}
	c.JSON(http.StatusOK, idx.Status())
}

// admin answers 403 unless the caller holds the admin scope.
func (s *Server) admin(c *gin.Context, detail string) bool {
	v, ok := s.visible(c)
	if !ok {
		return false
	}
	if !v.Admin() {
		writeProblem(c, probForbidden.with(detail))
		return false
	}
	return true
}

// splitList splits a comma-separated query parameter, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
