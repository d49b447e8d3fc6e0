package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/mcpgw/mcpgw/authz/audit"
	"github.com/mcpgw/mcpgw/registry/store/mongo"
)

// maxAuditExport bounds the records of one NDJSON export (a variable for tests).
var maxAuditExport = 100_000

// Trailers of an NDJSON export (exportAudit).
const (
	trailerExportComplete = "Mcpgw-Export-Complete"
	trailerNextCursor     = "Mcpgw-Next-Cursor"
)

// listAudit serves GET /api/v1/audit: filters subject, client, server, tool, kind (decision|mutation), decision
// (allow|deny), from and to (RFC 3339), newest first with cursor pagination; with Accept: application/x-ndjson (or
// ?format=ndjson) it streams every matching record as NDJSON instead.
func (s *Server) listAudit(c *gin.Context) {
	v, ok := s.visible(c)
	if !ok {
		return
	}
	if !v.Admin() {
		writeProblem(c, probForbidden.with("the audit trail is visible to admins only"))
		return
	}
	if !queryOK(c) {
		return
	}
	q := mongo.AuditQuery{Subject: c.Query("subject"), Client: c.Query("client"), Server: c.Query("server"),
		Tool: c.Query("tool"), Kind: c.Query("kind"), Limit: defaultLimit}
	switch c.Query("kind") {
	case "", string(audit.KindDecision), string(audit.KindMutation):
	default:
		writeProblem(c, probInvalidQuery.with("kind must be decision or mutation"))
		return
	}
	// An unknown format is refused rather than answered with a JSON page the caller did not ask for.
	switch c.Query("format") {
	case "", "ndjson":
	default:
		writeProblem(c, probInvalidQuery.with("format must be ndjson (or left out for a page of JSON)"))
		return
	}
	switch c.Query("decision") {
	case "":
	case "allow", "deny":
		allow := c.Query("decision") == "allow"
		q.Allow = &allow
	default:
		writeProblem(c, probInvalidQuery.with("decision must be allow or deny"))
		return
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if raw := c.Query(f.name); raw != "" {
			t, err := time.Parse(time.RFC3339Nano, raw)
			if err != nil {
				writeProblem(c, probInvalidQuery.with(f.name+" must be an RFC 3339 time"))
				return
			}
			*f.dst = t
		}
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxLimit {
			writeProblem(c, probInvalidQuery.with("limit must be an integer from 1 to "+strconv.Itoa(maxLimit)))
			return
		}
		q.Limit = n
	}
	if cur := c.Query("cursor"); cur != "" {
		id, err := decodeCursor(cur)
		if _, terr := audit.IDTime(id); err != nil || terr != nil {
			writeProblem(c, probInvalidQuery.with("cursor is not one this API issued"))
			return
		}
		q.Before = id
	}
	if c.Query("format") == "ndjson" || strings.Contains(c.GetHeader("Accept"), "application/x-ndjson") {
		s.exportAudit(c, q)
		return
	}
	recs, more, err := s.opts.Audit.QueryAudit(c.Request.Context(), q)
	if err != nil {
		s.fail(c, err)
		return
	}
	out := listResponse{Items: make([]any, len(recs))}
	for i := range recs {
		out.Items[i] = recs[i]
	}
	if more {
		out.NextCursor = encodeCursor(recs[len(recs)-1].ID)
	}
	c.JSON(http.StatusOK, out)
}

// exportAudit streams matching records page by page, so an export holds one page in memory at a time.
//
// The status is sent before the records, so how the export ended travels in HTTP trailers: Mcpgw-Export-Complete
// is "true" when every matching record was sent and "false" otherwise (the export limit was reached, or reading
// failed), and then Mcpgw-Next-Cursor, when set, continues the export (?cursor=...) after the last record sent.
func (s *Server) exportAudit(c *gin.Context, q mongo.AuditQuery) {
	c.Header("Content-Type", "application/x-ndjson")
	c.Header("Trailer", trailerExportComplete+", "+trailerNextCursor)
	c.Status(http.StatusOK)
	complete, last := false, ""
	defer func() {
		c.Writer.Header().Set(trailerExportComplete, strconv.FormatBool(complete))
		if !complete && last != "" {
			c.Writer.Header().Set(trailerNextCursor, encodeCursor(last))
		}
	}()
	enc := json.NewEncoder(c.Writer)
	for sent := 0; sent < maxAuditExport; {
		q.Limit = min(maxLimit, maxAuditExport-sent)
		recs, more, err := s.opts.Audit.QueryAudit(c.Request.Context(), q)
		if err != nil {
			s.log.Error("audit export failed", "err", err)
			return
		}
		for i := range recs {
			if err := enc.Encode(recs[i]); err != nil {
				return
			}
			last = recs[i].ID
		}
		sent += len(recs)
		c.Writer.Flush()
		if !more {
			complete = true
			return
		}
		q.Before = recs[len(recs)-1].ID
	}
}
