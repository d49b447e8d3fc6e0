package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// storeProbe pings the store periodically. The parts keep serving from memory when the store is unreachable
// (authz keeps deciding with the data it last loaded); the probe is how readiness and metrics say so.
type storeProbe struct {
	ping     func(context.Context) error
	up       atomic.Bool
	lastOK   atomic.Int64 // unix nanos of the last successful ping
	interval time.Duration
}

func newStoreProbe(ping func(context.Context) error, reg prometheus.Registerer) *storeProbe {
	p := &storeProbe{ping: ping, interval: 5 * time.Second}
	p.up.Store(true)
	p.lastOK.Store(time.Now().UnixNano())
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcpgw_store_up",
			Help: "1 when the store answered the last ping, 0 when it did not (serving continues from memory)."},
			func() float64 {
				if p.up.Load() {
					return 1
				}
				return 0
			}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcpgw_store_last_ok_seconds",
			Help: "Unix time of the last successful ping of the store."},
			func() float64 { return float64(p.lastOK.Load()) / 1e9 }),
	)
	return p
}

func (p *storeProbe) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := p.ping(ctx)
	p.up.Store(err == nil)
	if err == nil {
		p.lastOK.Store(time.Now().UnixNano())
	}
	return err
}

// Run pings until ctx ends.
func (p *storeProbe) Run(ctx context.Context) error {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_ = p.check(ctx)
		}
	}
}

// registerFeedMetrics exposes the change feed's and the audit pipeline's counters.
func (a *App) registerMetrics() {
	feed := a.Feed
	a.Metrics.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcpgw_feed_position", Help: "Last change-feed sequence applied to the in-memory catalog."},
			func() float64 { return float64(feed.Stats().Position) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mcpgw_feed_applied_total", Help: "Change records applied."},
			func() float64 { return float64(feed.Stats().Applied) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mcpgw_feed_rebuilds_total", Help: "Rebuilds of the catalog from the documents (gaps, trims, reconciliation)."},
			func() float64 { return float64(feed.Stats().Rebuilds) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mcpgw_feed_poll_errors_total", Help: "Failed polls of the change feed."},
			func() float64 { return float64(feed.Stats().Errors) }),
	)
	b := a.Audit
	for _, m := range []struct {
		name, help string
		get        func() float64
	}{
		{"mcpgw_audit_submitted_total", "Audit records accepted into the buffer.", func() float64 { return float64(b.Stats().Submitted) }},
		{"mcpgw_audit_written_total", "Audit records stored.", func() float64 { return float64(b.Stats().Written) }},
		{"mcpgw_audit_dropped_total", "Audit records dropped: the buffer was full, or the pipeline had already stopped.", func() float64 { return float64(b.Stats().Dropped) }},
		{"mcpgw_audit_failed_total", "Audit records given up after retries.", func() float64 { return float64(b.Stats().Failed) }},
	} {
		a.Metrics.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help}, m.get))
	}
	a.Metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "mcpgw_audit_queued", Help: "Audit records waiting to be written."},
		func() float64 { return float64(b.Stats().Queued) }))
}

// readiness is the JSON status of a process's dependencies.
type readiness struct {
	Status      string `json:"status"` // ready, degraded (serving from memory), not-ready
	Store       string `json:"store"`  // reachable or unreachable
	LastStoreOK string `json:"last_store_ok,omitempty"`
	Position    int64  `json:"feed_position"`
}

func (a *App) readiness(ctx context.Context) (readiness, error) {
	r := readiness{Status: "ready", Store: "reachable", Position: a.Feed.Position()}
	if err := a.probe.check(ctx); err != nil {
		r.Status, r.Store = "degraded", "unreachable"
		r.LastStoreOK = time.Unix(0, a.probe.lastOK.Load()).UTC().Format(time.RFC3339)
		return r, err
	}
	return r, nil
}

// adminHandler serves /healthz, /readyz and /metrics for processes without the registry (mcpgw xds, mcpgw authz).
// Such a process keeps serving from memory when the store is unreachable, so /readyz stays 200 and says
// "degraded" rather than taking the gateway out of rotation.
func (a *App) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		st, _ := a.readiness(r.Context())
		if !a.View.Loaded() {
			st.Status = "not-ready"
		}
		w.Header().Set("Content-Type", "application/json")
		if st.Status == "not-ready" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.Metrics, promhttp.HandlerOpts{}))
	return mux
}

func (a *App) buildAdmin() error {
	l, err := listen("admin-addr", a.cfg.AdminAddr)
	if err != nil {
		return err
	}
	a.listeners = append(a.listeners, l)
	hs := &http.Server{Handler: a.adminHandler(), ReadHeaderTimeout: 10 * time.Second}
	a.runners = append(a.runners, func(ctx context.Context) error {
		go func() {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownGrace)
			defer cancel()
			_ = hs.Shutdown(sctx)
		}()
		a.log.Info("admin endpoints listening", "addr", l.Addr().String())
		if err := hs.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve admin: %w", err)
		}
		return nil
	})
	return nil
}
