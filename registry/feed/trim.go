package feed

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Trimming keeps the change records a bounded collection: every record is written once per change and read only
// by tailers catching up, so without trimming the collection grows with every write for ever, and on the embedded
// server, where no read of it uses an index, each read slows down with it.
const (
	// KeepEmbedded is how many of the newest records the embedded store keeps: it has one process (the data
	// directory is locked), whose tailer is at most a few polls behind.
	KeepEmbedded = 1_000
	// KeepShared is how many a shared MongoDB keeps: several replicas read it, and one further behind than this
	// (hours of writes at a steady rate) rebuilds from the documents, as after any hole.
	KeepShared = 100_000
)

// Trimmable is the store side of trimming.
type Trimmable interface {
	// TrimChanges deletes the records with a sequence at or below upto and returns how many it deleted.
	TrimChanges(ctx context.Context, upto int64) (int64, error)
}

// Trimmer deletes the change records below both the tailer's position and the newest Keep records, once per
// Every. It never deletes a record the tailer has not applied, nor one a late write may still need (the tailer
// looks those up within its newest records).
type Trimmer struct {
	Store  Trimmable
	Tailer *Tailer
	Keep   int64
	Every  time.Duration // default a minute
	Logger *slog.Logger

	upto int64 // trimmed up to here already
}

// Run trims once per Every until ctx ends. A failed trim is logged and tried again next time.
func (tr *Trimmer) Run(ctx context.Context) error {
	every := tr.Every
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := tr.Once(ctx); err != nil && ctx.Err() == nil && tr.Logger != nil {
			tr.Logger.Warn("trim change records", "err", err)
		}
	}
}

// Once trims now and returns how many records it deleted.
func (tr *Trimmer) Once(ctx context.Context) (int64, error) {
	if tr.Keep < 1 {
		return 0, fmt.Errorf("trim change records: keep %d must be positive", tr.Keep)
	}
	upto := tr.Tailer.Position() - tr.Keep
	if upto <= tr.upto {
		return 0, nil
	}
	n, err := tr.Store.TrimChanges(ctx, upto)
	if err != nil {
		return 0, fmt.Errorf("trim change records up to %d: %w", upto, err)
	}
	tr.upto = upto
	if n > 0 && tr.Logger != nil {
		tr.Logger.Debug("trimmed change records", "upto", upto, "deleted", n)
	}
	return n, nil
}
