package mongo

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// migration moves the schema from version-1 to version. Migrations must be idempotent: a crash between a migration
// and the version write runs it again.
type migration struct {
	version int
	name    string
	up      func(ctx context.Context, db *mongo.Database) error
}

// migrations is the ordered history of the schema. Append only.
var migrations = []migration{
	{version: 1, name: "collections and indexes", up: createIndexes},
}

// SchemaVersion is the schema this build writes.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

type metaDoc struct {
	ID      string `bson:"_id"`
	Version int    `bson:"version"`
}

// migrate creates indexes idempotently and runs the migrations the database has not seen. A database written by a
// newer build is refused rather than risked.
func (s *Store) migrate(ctx context.Context) error {
	meta := s.db.Collection(collMeta)
	var m metaDoc
	err := meta.FindOne(ctx, bson.D{{Key: "_id", Value: "schema"}}).Decode(&m)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("read schema version: %w", wrapErr(err))
	}
	if m.Version > SchemaVersion() {
		return fmt.Errorf("database schema version %d is newer than this build's %d: upgrade mcpgw", m.Version, SchemaVersion())
	}
	// Indexes are (re)created on every start: createIndexes is idempotent and cheap when they exist.
	if err := createIndexes(ctx, s.db); err != nil {
		return err
	}
	for _, mg := range migrations {
		if mg.version <= m.Version {
			continue
		}
		s.log.Info("migrating schema", "to", mg.version, "step", mg.name)
		if err := mg.up(ctx, s.db); err != nil {
			return fmt.Errorf("migrate schema to %d (%s): %w", mg.version, mg.name, err)
		}
		if err := recordSchemaVersion(ctx, meta, mg.version); err != nil {
			return err
		}
	}
	return nil
}

// recordSchemaVersion raises the recorded schema version to v, never lowers it: two builds starting at once may
// finish their migrations in either order, and an older build's write must not undo a newer one's.
func recordSchemaVersion(ctx context.Context, meta *mongo.Collection, v int) error {
	_, err := meta.UpdateOne(ctx, bson.D{{Key: "_id", Value: "schema"}},
		bson.D{{Key: "$max", Value: bson.D{{Key: "version", Value: v}}}}, options.UpdateOne().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("record schema version %d: %w", v, wrapErr(err))
	}
	return nil
}

func createIndexes(ctx context.Context, db *mongo.Database) error {
	idx := map[string][]mongo.IndexModel{
		string(catalog.KindEntity): {{Keys: bson.D{{Key: "type", Value: 1}}, Options: options.Index().SetName("type")}},
		collAudit: {
			// Time ranges use _id (time-ordered). The embedded server cannot build compound indexes with _id.
			{Keys: bson.D{{Key: "subject", Value: 1}}, Options: options.Index().SetName("subject")},
			{Keys: bson.D{{Key: "server", Value: 1}}, Options: options.Index().SetName("server")},
		},
	}
	for coll, models := range idx {
		// One at a time: the embedded server mishandles several indexes in one createIndexes command.
		for _, m := range models {
			if _, err := db.Collection(coll).Indexes().CreateOne(ctx, m); err != nil {
				return fmt.Errorf("create indexes on %s: %w", coll, wrapErr(err))
			}
		}
	}
	return nil
}
