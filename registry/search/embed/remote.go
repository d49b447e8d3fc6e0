package embed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mcpgw/mcpgw/registry/search/embed/static"
)

// batchFunc sends one batch upstream and returns its vectors in batch order.
// It returns a *StatusError for HTTP failures so the caller can decide on a
// retry; transport errors (net.Error) and per-call timeouts are retried too.
type batchFunc func(ctx context.Context, texts []string) ([][]float32, error)

// remote is the provider-independent part of a network embedder: prefixes,
// truncation, batching, bounded concurrency, per-call timeout, retries,
// dimension checks and normalisation.
type remote struct {
	cfg  Config
	send batchFunc
	dim  atomic.Int64 // learnt or configured dimension; 0 until known
	log  *slog.Logger
}

func newRemote(cfg Config, send batchFunc) *remote {
	r := &remote{cfg: cfg, send: send, log: cfg.Logger}
	r.dim.Store(int64(cfg.Dimensions))
	return r
}

// Info implements Embedder.
func (r *remote) Info() ModelInfo {
	return ModelInfo{
		Provider:      r.cfg.Provider,
		Model:         r.cfg.Model,
		Dim:           int(r.dim.Load()),
		Normalized:    true,
		MaxBatch:      r.cfg.BatchSize,
		MaxInputChars: r.cfg.MaxInputChars,
	}
}

// Embed implements Embedder.
func (r *remote) Embed(ctx context.Context, inputs []string, kind InputKind) ([][]float32, error) {
	if kind != KindDocument && kind != KindQuery {
		return nil, fmt.Errorf("embed: %w: unknown input kind %d", ErrConfig, int(kind))
	}
	out := make([][]float32, len(inputs))
	// Empty inputs are not sent (several servers reject them); they get a
	// zero vector once the dimension is known.
	var texts []string
	var slots []int
	prefix := r.cfg.DocumentPrefix
	if kind == KindQuery {
		prefix = r.cfg.QueryPrefix
	}
	for i, in := range inputs {
		if strings.TrimSpace(in) == "" {
			continue
		}
		texts = append(texts, prefix+truncateRunes(in, r.cfg.MaxInputChars))
		slots = append(slots, i)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.cfg.Concurrency)
	for start := 0; start < len(texts); start += r.cfg.BatchSize {
		end := min(start+r.cfg.BatchSize, len(texts))
		g.Go(func() error {
			vecs, err := r.batchWithRetry(gctx, texts[start:end])
			if err != nil {
				return err
			}
			for j, v := range vecs {
				out[slots[start+j]] = v
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("embed %d inputs: %w", len(inputs), err)
	}
	if len(texts) < len(inputs) {
		dim := int(r.dim.Load())
		if dim == 0 {
			if _, err := Resolve(ctx, r); err != nil {
				return nil, fmt.Errorf("embed %d inputs: %w", len(inputs), err)
			}
			dim = int(r.dim.Load())
		}
		for i := range out {
			if out[i] == nil {
				out[i] = make([]float32, dim)
			}
		}
	}
	return out, nil
}

// batchWithRetry sends one batch, retrying retryable failures with full-jitter
// exponential backoff (or the server's Retry-After, capped).
func (r *remote) batchWithRetry(ctx context.Context, texts []string) ([][]float32, error) {
	for attempt := 0; ; attempt++ {
		vecs, err := r.batchOnce(ctx, texts)
		if err == nil {
			return vecs, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("embed batch: %w (last error: %w)", ctx.Err(), err)
		}
		if attempt >= r.cfg.MaxRetries || !r.isRetryable(err) {
			return nil, err
		}
		delay := backoff(r.cfg.RetryBaseDelay, attempt)
		var se *StatusError
		if errors.As(err, &se) && se.retryAfter > 0 {
			delay = min(se.retryAfter, maxRetryDelay)
		}
		r.log.WarnContext(ctx, "embedding request failed, retrying", "attempt", attempt+1, "delay", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("embed batch: %w (last error: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// batchOnce sends one batch under the per-call timeout and checks the answer.
func (r *remote) batchOnce(ctx context.Context, texts []string) ([][]float32, error) {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	vecs, err := r.send(cctx, texts)
	if err != nil {
		return nil, err
	}
	if len(vecs) != len(texts) {
		return nil, fmt.Errorf("%w: %d vectors for %d inputs", ErrResponse, len(vecs), len(texts))
	}
	for _, v := range vecs {
		if err := r.checkDim(len(v)); err != nil {
			return nil, err
		}
		static.Normalize(v)
	}
	return vecs, nil
}

// checkDim enforces one dimension per answer: the configured one, or else
// the one learnt from the answers. A learnt dimension that changes means the
// server switched models: the call fails with ErrDimension and Info reports
// the new dimension, so that the caller recomputes its vectors in the new
// space. A configured dimension never changes.
func (r *remote) checkDim(n int) error {
	if n == 0 {
		return fmt.Errorf("%w: empty vector", ErrResponse)
	}
	if r.dim.CompareAndSwap(0, int64(n)) {
		return nil
	}
	want := r.dim.Load()
	if int64(n) == want {
		return nil
	}
	if r.cfg.Dimensions == 0 {
		r.dim.Store(int64(n))
		return fmt.Errorf("%w: the model now answers %d dimensions, not %d", ErrDimension, n, want)
	}
	return fmt.Errorf("%w: got %d, want %d", ErrDimension, n, want)
}

func (r *remote) isRetryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Retryable()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true // the per-call timeout fired; the parent ctx is checked by the caller
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// backoff is full jitter: uniform in [0, base·2^attempt), capped.
func backoff(base time.Duration, attempt int) time.Duration {
	d := base << min(attempt, 16)
	if d <= 0 || d > maxRetryDelay {
		d = maxRetryDelay
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// truncateRunes keeps at most n runes of s (n <= 0: all), cutting on a rune
// boundary.
func truncateRunes(s string, n int) string {
	if n <= 0 || len(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
