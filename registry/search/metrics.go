package search

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the index's Prometheus instruments, registered on the registry passed in Options (none when nil).
type metrics struct {
	queries          *prometheus.CounterVec
	querySeconds     prometheus.Histogram
	noResults        prometheus.Counter
	queryEmbedErrors prometheus.Counter
	embedSeconds     prometheus.Histogram
	embedErrors      prometheus.Counter
	reindexes        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, x *Index) (*metrics, error) {
	m := &metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mcpgw_search_queries_total",
			Help: "Search queries answered, by mode (hybrid or lexical)."}, []string{"mode"}),
		querySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mcpgw_search_query_seconds",
			Help:    "Time to rank one query inside the index (HTTP excluded).",
			Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 100e-3}}),
		noResults: prometheus.NewCounter(prometheus.CounterOpts{Name: "mcpgw_search_no_results_total",
			Help: "Queries that returned nothing (no document cleared the relevance floor)."}),
		queryEmbedErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "mcpgw_search_query_embed_errors_total",
			Help: "Queries answered lexically because embedding the query failed."}),
		embedSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mcpgw_search_embed_seconds",
			Help: "Time of one embedder call for a batch of documents.", Buckets: prometheus.DefBuckets}),
		embedErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "mcpgw_search_embed_errors_total",
			Help: "Failed attempts to embed documents (they are retried with backoff)."}),
		reindexes: prometheus.NewCounter(prometheus.CounterOpts{Name: "mcpgw_search_reindex_total",
			Help: "Reindexes requested."}),
	}
	if reg == nil {
		return m, nil
	}
	gauge := func(name, help string, f func(Status) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(x.Status()) })
	}
	cs := []prometheus.Collector{m.queries, m.querySeconds, m.noResults, m.queryEmbedErrors, m.embedSeconds,
		m.embedErrors, m.reindexes,
		gauge("mcpgw_search_documents", "Documents in the search index.", func(s Status) float64 { return float64(s.Documents) }),
		gauge("mcpgw_search_vectors_missing", "Documents whose vectors are missing or from another model.",
			func(s Status) float64 { return float64(s.Missing) }),
	}
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("register search metrics: %w", errors.Join(errs...))
	}
	return m, nil
}

func (m *metrics) observe(mode string, d time.Duration, n int) {
	m.queries.WithLabelValues(mode).Inc()
	m.querySeconds.Observe(d.Seconds())
	if n == 0 {
		m.noResults.Inc()
	}
}
