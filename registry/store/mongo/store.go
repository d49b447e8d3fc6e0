package mongo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

var _ catalog.Store = (*Store)(nil)

// Collection names besides the catalog kinds.
const (
	collChanges  = "changes"
	collCounters = "counters"
	collMeta     = "meta"
	collAudit    = "audit"
	seqCounterID = "changes"
)

// Store implements catalog.Store on a MongoDB database.
type Store struct {
	client   *mongo.Client
	db       *mongo.Database
	log      *slog.Logger
	embedded bool
	// locks serialises writes per key (and the sequence counter) when the server cannot do conditional writes
	// atomically for us: the embedded server, which only this process reaches.
	locks [64]sync.Mutex
	seqMu sync.Mutex
	close func(context.Context) error
}

// Config selects the database.
type Config struct {
	// URI of an external MongoDB-compatible server; empty starts the embedded server under DataDir.
	URI string
	// DataDir holds the embedded server's SQLite files.
	DataDir string
	// Database name; default "mcpgw".
	Database string
	Logger   *slog.Logger
}

// Open connects to the configured server (starting the embedded one when no URI is set), checks it answers, and
// prepares collections, indexes and the schema version. ctx bounds the start-up; the embedded server runs until Close.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Database == "" {
		cfg.Database = "mcpgw"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "store")
	s := &Store{log: log}
	uri := cfg.URI
	var stopEmbedded func()
	if uri == "" {
		e, err := startEmbedded(cfg.DataDir, log)
		if err != nil {
			return nil, err
		}
		uri, stopEmbedded, s.embedded = e.uri, e.stop, true
	}
	opts := options.Client().ApplyURI(uri).
		SetAppName("mcpgw").
		SetBSONOptions(&options.BSONOptions{UseJSONStructTags: true, OmitZeroStruct: true, DefaultDocumentMap: true, BinaryAsSlice: true}).
		SetServerSelectionTimeout(10 * time.Second)
	client, err := mongo.Connect(opts)
	if err != nil {
		if stopEmbedded != nil {
			stopEmbedded()
		}
		return nil, fmt.Errorf("connect to mongodb: %w", err)
	}
	s.client = client
	s.db = client.Database(cfg.Database)
	s.close = func(ctx context.Context) error {
		err := client.Disconnect(ctx)
		if stopEmbedded != nil {
			stopEmbedded()
		}
		return err
	}
	if err := client.Ping(ctx, readpref.Primary()); err != nil {
		_ = s.close(ctx)
		return nil, fmt.Errorf("ping mongodb: %w", errors.Join(catalog.ErrUnavailable, err))
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.close(ctx)
		return nil, err
	}
	return s, nil
}

// Embedded reports whether the store runs on the in-process embedded server.
func (s *Store) Embedded() bool { return s.embedded }

// Close disconnects and stops the embedded server.
func (s *Store) Close(ctx context.Context) error { return s.close(ctx) }

// Ping checks that the server answers, for readiness.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return errors.Join(catalog.ErrUnavailable, err)
	}
	return nil
}

// Database exposes the database to the other adapters in this package's family (audit).
func (s *Store) Database() *mongo.Database { return s.db }

func (s *Store) keyLock(kind catalog.Kind, key string) func() {
	if !s.embedded {
		return func() {}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(kind))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(key))
	m := &s.locks[h.Sum32()%uint32(len(s.locks))]
	m.Lock()
	return m.Unlock
}

// nextSeq takes the next value of the global sequence.
func (s *Store) nextSeq(ctx context.Context) (int64, error) {
	if s.embedded {
		s.seqMu.Lock()
		defer s.seqMu.Unlock()
	}
	var out struct {
		Value int64 `bson:"value"`
	}
	err := s.db.Collection(collCounters).FindOneAndUpdate(ctx,
		bson.D{{Key: "_id", Value: seqCounterID}},
		bson.D{{Key: "$inc", Value: bson.D{{Key: "value", Value: int64(1)}}}},
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After),
	).Decode(&out)
	if err != nil {
		return 0, fmt.Errorf("take sequence: %w", wrapErr(err))
	}
	return out.Value, nil
}

// LastSeq implements catalog.Store.
func (s *Store) LastSeq(ctx context.Context) (int64, error) {
	var out struct {
		Value int64 `bson:"value"`
	}
	err := s.db.Collection(collCounters).FindOne(ctx, bson.D{{Key: "_id", Value: seqCounterID}}).Decode(&out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read sequence: %w", wrapErr(err))
	}
	return out.Value, nil
}

// SeqID renders a sequence number as a change record _id: zero-padded so that string order is numeric order.
func SeqID(seq int64) string {
	return fmt.Sprintf("%020d", seq)
}

type changeDoc struct {
	ID   string    `bson:"_id"`
	Seq  int64     `bson:"seq"`
	Kind string    `bson:"kind"`
	Key  string    `bson:"key"`
	Op   string    `bson:"op"`
	At   time.Time `bson:"at"`
}

func (s *Store) appendChange(ctx context.Context, c catalog.Change) error {
	_, err := s.db.Collection(collChanges).InsertOne(ctx, changeDoc{
		ID: SeqID(c.Seq), Seq: c.Seq, Kind: string(c.Kind), Key: c.Key, Op: string(c.Op), At: c.At,
	})
	if err != nil {
		return fmt.Errorf("append change %d: %w", c.Seq, wrapErr(err))
	}
	return nil
}

// recordChange appends the change record of a write whose document is stored. The write has happened by then, so a
// failure is not the caller's: it is logged and the change returned; readers meet a hole that never fills and rebuild
// from the documents. The append outlives the request, so a client that goes away does not leave that hole.
func (s *Store) recordChange(ctx context.Context, c catalog.Change) catalog.Change {
	if err := s.appendChange(context.WithoutCancel(ctx), c); err != nil {
		s.log.Warn("could not append a change record; readers will rebuild", "seq", c.Seq, "kind", c.Kind, "key", c.Key, "err", err)
	}
	return c
}

// fillHole records that seq changed nothing. It is best effort: if it fails too, readers wait and then rebuild,
// which is slower but still correct.
func (s *Store) fillHole(ctx context.Context, seq int64, kind catalog.Kind, key string) {
	c := catalog.Change{Seq: seq, Kind: kind, Key: key, Op: catalog.OpNone, At: now()}
	if err := s.appendChange(context.WithoutCancel(ctx), c); err != nil {
		s.log.Warn("could not fill a change-feed hole; readers will rebuild", "seq", seq, "err", err)
	}
}

// encode renders an object as a document keyed by its key.
func encode(obj catalog.Object) (bson.D, error) {
	var buf bytes.Buffer
	enc := bson.NewEncoder(bson.NewDocumentWriter(&buf))
	enc.UseJSONStructTags()
	enc.OmitZeroStruct()
	if err := enc.Encode(obj); err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", obj.Kind(), obj.Key(), err)
	}
	elems, err := bson.Raw(buf.Bytes()).Elements()
	if err != nil {
		return nil, fmt.Errorf("encode %s %q: %w", obj.Kind(), obj.Key(), err)
	}
	d := make(bson.D, 0, len(elems)+1)
	d = append(d, bson.E{Key: "_id", Value: obj.Key()})
	for _, e := range elems {
		d = append(d, bson.E{Key: e.Key(), Value: e.Value()})
	}
	return d, nil
}

func decode(kind catalog.Kind, raw bson.Raw) (catalog.Object, error) {
	obj := catalog.New(kind)
	if obj == nil {
		return nil, fmt.Errorf("decode: unknown kind %q", kind)
	}
	dec := bson.NewDecoder(bson.NewDocumentReader(bytes.NewReader(raw)))
	dec.UseJSONStructTags()
	if err := dec.Decode(obj); err != nil {
		return nil, fmt.Errorf("decode %s: %w", kind, err)
	}
	return obj, nil
}

// Create implements catalog.Store.
func (s *Store) Create(ctx context.Context, obj catalog.Object) (catalog.Change, error) {
	unlock := s.keyLock(obj.Kind(), obj.Key())
	defer unlock()
	seq, err := s.nextSeq(ctx)
	if err != nil {
		return catalog.Change{}, err
	}
	obj.Metadata().Rev = seq
	doc, err := encode(obj)
	if err != nil {
		return catalog.Change{}, err
	}
	if _, err := s.db.Collection(string(obj.Kind())).InsertOne(ctx, doc); err != nil {
		s.fillHole(ctx, seq, obj.Kind(), obj.Key())
		return catalog.Change{}, fmt.Errorf("create %s %q: %w", obj.Kind(), obj.Key(), wrapErr(err))
	}
	c := catalog.Change{Seq: seq, Kind: obj.Kind(), Key: obj.Key(), Op: catalog.OpPut, At: now()}
	return s.recordChange(ctx, c), nil
}

// Update implements catalog.Store.
func (s *Store) Update(ctx context.Context, obj catalog.Object, ifRev int64) (catalog.Change, error) {
	kind, key := obj.Kind(), obj.Key()
	unlock := s.keyLock(kind, key)
	defer unlock()
	filter, err := s.conditional(ctx, kind, key, ifRev)
	if err != nil {
		return catalog.Change{}, err
	}
	seq, err := s.nextSeq(ctx)
	if err != nil {
		return catalog.Change{}, err
	}
	obj.Metadata().Rev = seq
	doc, err := encode(obj)
	if err != nil {
		return catalog.Change{}, err
	}
	res, err := s.db.Collection(string(kind)).ReplaceOne(ctx, filter, doc)
	if err != nil {
		s.fillHole(ctx, seq, kind, key)
		return catalog.Change{}, fmt.Errorf("update %s %q: %w", kind, key, wrapErr(err))
	}
	if res.MatchedCount == 0 {
		// Lost a race on a real server.
		s.fillHole(ctx, seq, kind, key)
		return catalog.Change{}, s.missOrMismatch(ctx, kind, key)
	}
	c := catalog.Change{Seq: seq, Kind: kind, Key: key, Op: catalog.OpPut, At: now()}
	return s.recordChange(ctx, c), nil
}

// Delete implements catalog.Store.
func (s *Store) Delete(ctx context.Context, kind catalog.Kind, key string, ifRev int64) (catalog.Change, error) {
	unlock := s.keyLock(kind, key)
	defer unlock()
	filter, err := s.conditional(ctx, kind, key, ifRev)
	if err != nil {
		return catalog.Change{}, err
	}
	seq, err := s.nextSeq(ctx)
	if err != nil {
		return catalog.Change{}, err
	}
	res, err := s.db.Collection(string(kind)).DeleteOne(ctx, filter)
	if err != nil {
		s.fillHole(ctx, seq, kind, key)
		return catalog.Change{}, fmt.Errorf("delete %s %q: %w", kind, key, wrapErr(err))
	}
	if res.DeletedCount == 0 {
		s.fillHole(ctx, seq, kind, key)
		return catalog.Change{}, s.missOrMismatch(ctx, kind, key)
	}
	c := catalog.Change{Seq: seq, Kind: kind, Key: key, Op: catalog.OpDelete, At: now()}
	return s.recordChange(ctx, c), nil
}

// conditional returns the filter for a conditional write. On a real server the rev goes into the filter, which the
// server applies atomically. On the embedded server (whose only client is this process, serialised by keyLock) the
// rev is checked here so that the filter stays {_id} and uses the index.
func (s *Store) conditional(ctx context.Context, kind catalog.Kind, key string, ifRev int64) (bson.D, error) {
	filter := bson.D{{Key: "_id", Value: key}}
	if !s.embedded {
		if ifRev != 0 {
			filter = append(filter, bson.E{Key: "rev", Value: ifRev})
		}
		return filter, nil
	}
	cur, err := s.Get(ctx, kind, key)
	if err != nil {
		return nil, err
	}
	if ifRev != 0 && cur.Metadata().Rev != ifRev {
		return nil, fmt.Errorf("%s %q is at rev %d, not %d: %w", kind, key, cur.Metadata().Rev, ifRev, catalog.ErrRevMismatch)
	}
	return filter, nil
}

func (s *Store) missOrMismatch(ctx context.Context, kind catalog.Kind, key string) error {
	if _, err := s.Get(ctx, kind, key); err != nil {
		return err
	}
	return fmt.Errorf("%s %q changed concurrently: %w", kind, key, catalog.ErrRevMismatch)
}

// Get implements catalog.Store.
func (s *Store) Get(ctx context.Context, kind catalog.Kind, key string) (catalog.Object, error) {
	raw, err := s.db.Collection(string(kind)).FindOne(ctx, bson.D{{Key: "_id", Value: key}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, fmt.Errorf("%s %q: %w", kind, key, catalog.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %q: %w", kind, key, wrapErr(err))
	}
	return decode(kind, raw)
}

// List implements catalog.Store.
func (s *Store) List(ctx context.Context, kind catalog.Kind) ([]catalog.Object, error) {
	cur, err := s.db.Collection(string(kind)).Find(ctx, bson.D{}, options.Find().SetBatchSize(1000))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, wrapErr(err))
	}
	defer cur.Close(ctx)
	var out []catalog.Object
	for cur.Next(ctx) {
		obj, err := decode(kind, cur.Current)
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, wrapErr(err))
	}
	return out, nil
}

// pointLookups is how many records Changes fetches one by one before it prefers one range query. On a real server
// both are index reads. On the embedded server neither uses an index: an _id lookup is filtered in SQLite and a
// range in Go, and measured at 3,000 change records one lookup took 8.7 ms and a range of 33 records 90 ms, so a
// range is cheaper from about ten records on.
const pointLookups = 8

// Changes implements catalog.Store.
func (s *Store) Changes(ctx context.Context, after, upto int64) ([]catalog.Change, error) {
	if upto <= after {
		return nil, nil
	}
	coll := s.db.Collection(collChanges)
	var docs []changeDoc
	if upto-after <= pointLookups {
		for seq := after + 1; seq <= upto; seq++ {
			var d changeDoc
			err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: SeqID(seq)}}).Decode(&d)
			if errors.Is(err, mongo.ErrNoDocuments) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read change %d: %w", seq, wrapErr(err))
			}
			docs = append(docs, d)
		}
	} else {
		cur, err := coll.Find(ctx,
			bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: SeqID(after)}, {Key: "$lte", Value: SeqID(upto)}}}},
			options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
		if err != nil {
			return nil, fmt.Errorf("read changes after %d: %w", after, wrapErr(err))
		}
		if err := cur.All(ctx, &docs); err != nil {
			return nil, fmt.Errorf("read changes after %d: %w", after, wrapErr(err))
		}
	}
	out := make([]catalog.Change, len(docs))
	for i, d := range docs {
		out[i] = catalog.Change{Seq: d.Seq, Kind: catalog.Kind(d.Kind), Key: d.Key, Op: catalog.Op(d.Op), At: d.At}
	}
	return out, nil
}

// TrimChanges deletes change records with a sequence at or below upto; consumers further behind rebuild from the
// documents. It returns how many were deleted.
func (s *Store) TrimChanges(ctx context.Context, upto int64) (int64, error) {
	res, err := s.db.Collection(collChanges).DeleteMany(ctx,
		bson.D{{Key: "_id", Value: bson.D{{Key: "$lte", Value: SeqID(upto)}}}})
	if err != nil {
		return 0, fmt.Errorf("trim changes: %w", wrapErr(err))
	}
	return res.DeletedCount, nil
}

// failoverCodes are the server errors of a replica set without a primary (an election, a step-down, a shutdown):
// the operation may succeed when retried, so they are unavailability, not faults. The driver has retried once by the
// time they reach us.
var failoverCodes = []int{
	6,     // HostUnreachable
	7,     // HostNotFound
	89,    // NetworkTimeout
	91,    // ShutdownInProgress
	189,   // PrimarySteppedDown
	9001,  // SocketException
	10107, // NotWritablePrimary
	11600, // InterruptedAtShutdown
	11602, // InterruptedDueToReplStateChange
	13435, // NotPrimaryNoSecondaryOk
	13436, // NotPrimaryOrSecondary
}

// wrapErr marks conflicts and unavailability with the catalog's sentinel errors.
func wrapErr(err error) error {
	switch {
	case mongo.IsDuplicateKeyError(err):
		return errors.Join(catalog.ErrConflict, err)
	case mongo.IsNetworkError(err), mongo.IsTimeout(err), errors.Is(err, mongo.ErrClientDisconnected):
		return errors.Join(catalog.ErrUnavailable, err)
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		if se.HasErrorLabel("RetryableWriteError") || slices.ContainsFunc(failoverCodes, se.HasErrorCode) {
			return errors.Join(catalog.ErrUnavailable, err)
		}
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.Join(catalog.ErrUnavailable, err)
	}
	return err
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
