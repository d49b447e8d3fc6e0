package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/mcpgw/mcpgw/authz/audit"
)

// AuditQuery filters the audit trail. Zero values mean "no filter". Reading the trail needs the admin scope.
type AuditQuery struct {
	Subject, Client, Server, Tool string
	// Kind keeps decisions (gateway calls) or mutations (catalog changes).
	Kind audit.Kind
	// Decision keeps "allow" or "deny" records.
	Decision string
	// From and To bound the record time: From <= time < To.
	From, To time.Time
	// Limit is the page size, 1 to 500; Cursor continues from a previous page.
	Limit  int
	Cursor string
}

func (q AuditQuery) values() url.Values {
	v := url.Values{}
	v.Set("subject", q.Subject)
	v.Set("client", q.Client)
	v.Set("server", q.Server)
	v.Set("tool", q.Tool)
	v.Set("kind", string(q.Kind))
	v.Set("decision", q.Decision)
	if !q.From.IsZero() {
		v.Set("from", q.From.Format(time.RFC3339Nano))
	}
	if !q.To.IsZero() {
		v.Set("to", q.To.Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	v.Set("cursor", q.Cursor)
	return v
}

const auditPath = apiPrefix + "/audit"

// ListAudit reads one page of audit records, newest first.
func (c *Client) ListAudit(ctx context.Context, q AuditQuery) (Page[audit.Record], error) {
	var wire struct {
		Items      []audit.Record `json:"items"`
		NextCursor string         `json:"next_cursor"`
	}
	if _, err := c.Do(ctx, http.MethodGet, auditPath, nil, &wire, WithQuery(q.values())); err != nil {
		return Page[audit.Record]{}, err
	}
	return Page[audit.Record]{Items: wire.Items, NextCursor: wire.NextCursor}, nil
}

// AllAudit iterates over every matching record, newest first, a page of q.Limit at a time.
func (c *Client) AllAudit(ctx context.Context, q AuditQuery) iter.Seq2[audit.Record, error] {
	return paginate(q.Cursor, func(cursor string) (Page[audit.Record], error) {
		p := q
		p.Cursor = cursor
		return c.ListAudit(ctx, p)
	})
}

// errStop ends a stream early when the caller stops iterating.
var errStop = errors.New("stop")

// ExportAudit streams every matching record (the server caps an export at 100,000) as the server writes them, in
// one response, holding one record in memory at a time. q.Limit and q.Cursor are ignored. A stream the server had
// to cut short yields a decoding error for its incomplete last record.
func (c *Client) ExportAudit(ctx context.Context, q AuditQuery) iter.Seq2[audit.Record, error] {
	return func(yield func(audit.Record, error) bool) {
		q.Limit, q.Cursor = 0, ""
		v := q.values()
		v.Set("format", "ndjson")
		read := BodyFunc(func(body io.Reader) error {
			dec := json.NewDecoder(body)
			for {
				var rec audit.Record
				switch err := dec.Decode(&rec); {
				case errors.Is(err, io.EOF):
					return nil
				case err != nil:
					return fmt.Errorf("decode audit record: %w", err)
				}
				if !yield(rec, nil) {
					return errStop
				}
			}
		})
		_, err := c.Do(ctx, http.MethodGet, auditPath, nil, read, WithQuery(v),
			WithHeader("Accept", "application/x-ndjson, application/problem+json"))
		if err != nil && !errors.Is(err, errStop) {
			yield(audit.Record{}, err)
		}
	}
}
