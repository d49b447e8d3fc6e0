package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// ErrNoChangeStreams means the server cannot open change streams (the embedded server, a standalone mongod); the
// feed then relies on polling alone.
var ErrNoChangeStreams = errors.New("change streams are not available on this server")

// WatchChanges calls notify whenever a change record is appended, through a change stream on the changes
// collection, until ctx ends. It is only a wake-up signal: the feed still reads the records themselves, so a missed
// or duplicated event costs nothing but latency. A stream that breaks is reopened with backoff.
func (s *Store) WatchChanges(ctx context.Context, notify func()) error {
	if s.embedded {
		return ErrNoChangeStreams
	}
	pipeline := mongo.Pipeline{{{Key: "$match", Value: bson.D{{Key: "operationType", Value: "insert"}}}}}
	backoff := time.Second
	for ctx.Err() == nil {
		cs, err := s.db.Collection(collChanges).Watch(ctx, pipeline, options.ChangeStream().SetMaxAwaitTime(5*time.Second))
		if err != nil {
			var se mongo.ServerError
			if errors.As(err, &se) && (se.HasErrorCode(40573) || se.HasErrorCode(115) || se.HasErrorCode(238)) {
				// 40573: not a replica set; 115/238: not supported or not implemented.
				return ErrNoChangeStreams
			}
			s.log.Warn("change stream could not be opened; polling meanwhile", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Minute)
			continue
		}
		backoff = time.Second
		for cs.Next(ctx) {
			notify()
		}
		err = cs.Err()
		_ = cs.Close(context.WithoutCancel(ctx))
		if ctx.Err() != nil {
			return nil
		}
		s.log.Warn("change stream ended; reopening", "err", fmt.Sprint(err))
	}
	return nil
}
