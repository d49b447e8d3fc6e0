package mongo

import (
	"log/slog"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestSchemaVersionIsNeverLowered(t *testing.T) {
	// Invariant: recording the schema version only ever raises it, so an older build that finishes its migrations
	// after a newer one started cannot make the database look older than the newest build that migrated it.
	ctx := t.Context()
	s, err := Open(ctx, Config{DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(ctx) }()
	meta := s.db.Collection(collMeta)
	version := func() int {
		t.Helper()
		var m metaDoc
		if err := meta.FindOne(ctx, bson.D{{Key: "_id", Value: "schema"}}).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m.Version
	}
	if got := version(); got != SchemaVersion() {
		t.Fatalf("after Open: version %d, want %d", got, SchemaVersion())
	}
	for _, c := range []struct{ write, want int }{{7, 7}, {3, 7}, {8, 8}} {
		if err := recordSchemaVersion(ctx, meta, c.write); err != nil {
			t.Fatal(err)
		}
		if got := version(); got != c.want {
			t.Errorf("after recording %d: version %d, want %d", c.write, got, c.want)
		}
	}
}
