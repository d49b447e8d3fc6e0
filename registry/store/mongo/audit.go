package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mcpgw/mcpgw/authz/audit"
)

var _ audit.Sink = (*Store)(nil)

// InsertAudit implements audit.Sink. Records are keyed by their time-ordered ID; a record already stored (a retried
// batch) is skipped.
func (s *Store) InsertAudit(ctx context.Context, records []audit.Record) error {
	if len(records) == 0 {
		return nil
	}
	docs := make([]any, len(records))
	for i := range records {
		docs[i] = &records[i]
	}
	_, err := s.db.Collection(collAudit).InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bwe mongo.BulkWriteException
	if errors.As(err, &bwe) && bwe.WriteConcernError == nil {
		for _, we := range bwe.WriteErrors {
			if !mongo.IsDuplicateKeyError(we) {
				return fmt.Errorf("insert audit records: %w", wrapErr(err))
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("insert audit records: %w", wrapErr(err))
	}
	return nil
}

// AuditQuery selects audit records, newest first.
type AuditQuery struct {
	Subject, Client, Server, Tool, Kind string
	// Allow filters by decision when set.
	Allow *bool
	// From and To bound the record time: From <= time < To. Zero means open.
	From, To time.Time
	// Before continues a listing: only records with an ID less than it.
	Before string
	Limit  int
}

// QueryAudit returns up to q.Limit records matching q, newest first, and whether more follow. Time bounds and the
// cursor are ranges on the time-ordered _id.
func (s *Store) QueryAudit(ctx context.Context, q AuditQuery) ([]audit.Record, bool, error) {
	filter := bson.D{}
	id := bson.D{}
	if !q.From.IsZero() {
		id = append(id, bson.E{Key: "$gte", Value: audit.IDLowerBound(q.From)})
	}
	upper := ""
	if !q.To.IsZero() {
		upper = audit.IDLowerBound(q.To)
	}
	if q.Before != "" && (upper == "" || q.Before < upper) {
		upper = q.Before
	}
	if upper != "" {
		id = append(id, bson.E{Key: "$lt", Value: upper})
	}
	if len(id) > 0 {
		filter = append(filter, bson.E{Key: "_id", Value: id})
	}
	for _, f := range []struct{ k, v string }{{"subject", q.Subject}, {"client", q.Client}, {"server", q.Server},
		{"tool", q.Tool}, {"kind", q.Kind}} {
		if f.v != "" {
			filter = append(filter, bson.E{Key: f.k, Value: f.v})
		}
	}
	if q.Allow != nil {
		filter = append(filter, bson.E{Key: "allow", Value: *q.Allow})
	}
	cur, err := s.db.Collection(collAudit).Find(ctx, filter,
		options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(q.Limit)+1))
	if err != nil {
		return nil, false, fmt.Errorf("query audit: %w", wrapErr(err))
	}
	var out []audit.Record
	if err := cur.All(ctx, &out); err != nil {
		return nil, false, fmt.Errorf("query audit: %w", wrapErr(err))
	}
	more := len(out) > q.Limit
	if more {
		out = out[:q.Limit]
	}
	for i := range out {
		out[i].Arguments = unescapeArgs(out[i].Arguments)
	}
	return out, more, nil
}

// unescapeArgs restores argument keys the Batcher escaped for storage ('$' and '.' are not allowed in stored field
// names everywhere).
func unescapeArgs(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[audit.UnescapeKey(k)] = unescapeValue(v)
	}
	return out
}

func unescapeValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return unescapeArgs(x)
	case bson.A:
		out := make([]any, len(x))
		for i := range x {
			out[i] = unescapeValue(x[i])
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = unescapeValue(x[i])
		}
		return out
	}
	return v
}
