package snapshot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/view"
	"github.com/mcpgw/mcpgw/xds/ir"
	"github.com/mcpgw/mcpgw/xds/translate"
)

// Catalog is what the builder reads: the in-memory catalog view (*view.Catalog satisfies it). All returns objects
// in key order that the caller must not modify; Version changes whenever the view does; AddListener registers a
// callback run after every change.
type Catalog interface {
	All(kind catalog.Kind) []catalog.Object
	Version() int64
	AddListener(l view.Listener)
}

var _ Catalog = (*view.Catalog)(nil)

// Publisher receives a fleet's snapshot once it is valid and consistent, and forgets the snapshot of a fleet no
// node names any more. go-control-plane's SnapshotCache satisfies it, keyed by fleet through FleetHash.
type Publisher interface {
	SetSnapshot(ctx context.Context, fleet string, snapshot cachev3.ResourceSnapshot) error
	ClearSnapshot(fleet string)
}

// Config tunes rebuilding.
type Config struct {
	// Quiet is how long the catalog must stay unchanged before a rebuild (100ms).
	Quiet time.Duration
	// MaxDelay bounds how long a change may wait for its rebuild under a steady stream of changes (1s).
	MaxDelay time.Duration
	// MaxFleets bounds how many fleets get snapshots (64): any node may name a fleet, so the set must be capped.
	MaxFleets int
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Quiet: 100 * time.Millisecond, MaxDelay: time.Second, MaxFleets: 64}
}

// ErrInvalidConfig wraps every problem Config.Validate reports.
var ErrInvalidConfig = errors.New("invalid snapshot config")

// Validate checks the config.
func (c Config) Validate() error {
	var errs []error
	if c.Quiet <= 0 || c.MaxDelay < c.Quiet {
		errs = append(errs, fmt.Errorf("%w: need 0 < quiet (%v) <= max delay (%v)", ErrInvalidConfig, c.Quiet, c.MaxDelay))
	}
	if c.MaxFleets < 1 {
		errs = append(errs, fmt.Errorf("%w: max fleets must be at least 1", ErrInvalidConfig))
	}
	return errors.Join(errs...)
}

// FleetHash keys snapshots by fleet: an Envoy node's fleet is its node.cluster (--service-cluster), DefaultFleet
// when it names none. It implements go-control-plane's NodeHash.
type FleetHash struct{}

// ID implements cachev3.NodeHash.
func (FleetHash) ID(node *corev3.Node) string { return FleetOf(node) }

var _ cachev3.NodeHash = FleetHash{}

// FleetOf returns the fleet of a node.
func FleetOf(node *corev3.Node) string {
	if c := node.GetCluster(); c != "" {
		return c
	}
	return ir.DefaultFleet
}

// Builder turns the catalog into one snapshot per fleet and publishes each only when it is valid: every resource
// passes ValidateAll and the snapshot is Consistent. Otherwise the fleet keeps its last good snapshot, and a
// metric and a log line say why.
//
// Builds are incremental: a server is translated again only when its catalog revision changes, and each resource
// is hashed once, when it is made. A fleet's resource types get a new version only when their content changes,
// so state-of-the-world clients are sent only the types that changed and delta clients only the resources that
// did. Versions are "v<build sequence>", increasing with every build that publishes.
type Builder struct {
	cat     Catalog
	pub     Publisher
	tr      *translate.Translator
	cfg     Config
	log     *slog.Logger
	m       *Metrics
	changed chan struct{} // capacity 1: a pending signal stands for any number of changes

	fleetMu sync.Mutex
	fleets  map[string]*fleetSlot // fleets to build

	ready     chan struct{} // closed once the default fleet has a snapshot
	readyOnce sync.Once

	mu        sync.Mutex // one build at a time; guards the fields below
	seq       uint64
	lastView  int64
	servers   map[string]*entry
	virtuals  map[string]*entry
	published map[string]*fleetState
	listener  item
}

// New creates a builder and registers it as a listener of the catalog, so it must be called during start-up
// wiring, before the catalog starts changing. m may be nil (no metrics); log may be nil (no logs).
func New(cat Catalog, pub Publisher, tr *translate.Translator, cfg Config, log *slog.Logger, m *Metrics) (*Builder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m == nil {
		var err error
		if m, err = NewMetrics(nil); err != nil {
			return nil, err
		}
	}
	l := tr.Listener()
	li, err := newItem(l.Name, l)
	if err != nil {
		return nil, fmt.Errorf("create snapshot builder: listener: %w", err)
	}
	if err := translate.RouteConfiguration(nil).ValidateAll(); err != nil {
		return nil, fmt.Errorf("create snapshot builder: route configuration: %w", err)
	}
	b := &Builder{
		cat: cat, pub: pub, tr: tr, cfg: cfg, log: log.With("component", "xds-snapshot"), m: m,
		changed:   make(chan struct{}, 1),
		ready:     make(chan struct{}),
		fleets:    map[string]*fleetSlot{ir.DefaultFleet: {}},
		lastView:  -1,
		servers:   map[string]*entry{},
		virtuals:  map[string]*entry{},
		published: map[string]*fleetState{},
		listener:  li,
	}
	m.fleets.Set(1)
	cat.AddListener(b.onChange)
	return b, nil
}

// onChange is the catalog listener: it only signals, as view listeners must be quick.
func (b *Builder) onChange(events []view.Event) {
	for _, e := range events {
		if e.Kind == catalog.KindServer || e.Kind == catalog.KindVirtualServer {
			b.signal()
			return
		}
	}
}

func (b *Builder) signal() {
	select {
	case b.changed <- struct{}{}:
	default:
	}
}

// fleetSlot is a fleet the builder builds: the default fleet always, any other while nodes name it.
type fleetSlot struct {
	nodes int  // nodes (streams) that named the fleet and have not gone
	built bool // published at least once
}

// EnsureFleet makes sure the fleet gets snapshots for one more node, scheduling a build when the fleet is new. It
// reports false when the fleet cannot be served: its name is invalid or MaxFleets fleets exist already. Every
// call that reports true must be matched by a ReleaseFleet once the node is gone.
func (b *Builder) EnsureFleet(fleet string) bool {
	if err := ir.CheckFleet(fleet); err != nil {
		b.m.fleetRejected.Inc()
		return false
	}
	b.fleetMu.Lock()
	defer b.fleetMu.Unlock()
	if slot, ok := b.fleets[fleet]; ok {
		slot.nodes++
		return true
	}
	if len(b.fleets) >= b.cfg.MaxFleets {
		b.m.fleetRejected.Inc()
		return false
	}
	b.fleets[fleet] = &fleetSlot{nodes: 1}
	b.m.fleets.Set(float64(len(b.fleets)))
	b.signal()
	return true
}

// ReleaseFleet says that a node of the fleet has gone. When it was the last, the fleet stops counting against
// MaxFleets and being built, and the next build drops its snapshot. The default fleet is always built.
func (b *Builder) ReleaseFleet(fleet string) {
	b.fleetMu.Lock()
	defer b.fleetMu.Unlock()
	slot, ok := b.fleets[fleet]
	if !ok || fleet == ir.DefaultFleet {
		return
	}
	if slot.nodes--; slot.nodes > 0 {
		return
	}
	delete(b.fleets, fleet)
	b.m.fleets.Set(float64(len(b.fleets)))
	b.signal()
}

// Run builds at once, then after every burst of catalog changes (see Debounce) until ctx is done. A failed
// build is logged and counted; the fleets keep their last good snapshots and the next change retries.
func (b *Builder) Run(ctx context.Context) error {
	build := func() {
		if err := b.Build(ctx); err != nil && ctx.Err() == nil {
			b.log.Error("snapshot build failed; fleets keep their last good snapshot", "err", err)
		}
	}
	build()
	Debounce(ctx, b.changed, b.cfg.Quiet, b.cfg.MaxDelay, build)
	return nil
}

// Build builds and publishes now. It returns the joined errors of the fleets whose snapshot was not published.
func (b *Builder) Build(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	start := time.Now()
	view := b.cat.Version()
	fleets := b.fleetsToBuild()
	b.dropGoneFleets(fleets.all)
	if view == b.lastView && len(fleets.fresh) == 0 {
		b.m.builds.WithLabelValues(ResultUnchanged).Inc()
		return nil
	}
	b.refresh()
	b.seq++
	var (
		errs      []error
		published int
	)
	for _, f := range fleets.all {
		changed, err := b.publish(ctx, f)
		if err != nil {
			errs = append(errs, err)
			b.log.Error("fleet snapshot rejected; the last good snapshot stays", "fleet", f, "version", b.seq, "err", err)
			continue
		}
		if changed {
			published++
		}
		b.markBuilt(f)
		if f == ir.DefaultFleet {
			b.readyOnce.Do(func() { close(b.ready) })
		}
	}
	b.lastView = view
	b.m.buildSeconds.Observe(time.Since(start).Seconds())
	switch {
	case len(errs) > 0:
		b.m.builds.WithLabelValues(ResultFailed).Inc()
	case published > 0:
		b.m.builds.WithLabelValues(ResultPublished).Inc()
		b.m.version.Set(float64(b.seq))
	default:
		b.m.builds.WithLabelValues(ResultUnchanged).Inc()
	}
	b.log.Debug("snapshot build", "version", b.seq, "fleets", len(fleets.all), "published", published,
		"duration", time.Since(start))
	return errors.Join(errs...)
}

type fleetList struct {
	all   []string
	fresh []string // never built
}

func (b *Builder) fleetsToBuild() fleetList {
	b.fleetMu.Lock()
	defer b.fleetMu.Unlock()
	var l fleetList
	for f, slot := range b.fleets {
		l.all = append(l.all, f)
		if !slot.built {
			l.fresh = append(l.fresh, f)
		}
	}
	return l
}

func (b *Builder) markBuilt(fleet string) {
	b.fleetMu.Lock()
	if slot, ok := b.fleets[fleet]; ok {
		slot.built = true
	}
	b.fleetMu.Unlock()
}

// dropGoneFleets forgets the published snapshots of fleets that are not to be built any more. A node naming the
// fleet again may have arrived since the list was taken: the check and the clearing happen under fleetMu, which
// EnsureFleet holds too, so a returning node never has its fleet's snapshot (and its watch) cleared under it.
// Called with b.mu held.
func (b *Builder) dropGoneFleets(building []string) {
	for fleet := range b.published {
		if slices.Contains(building, fleet) {
			continue
		}
		b.fleetMu.Lock()
		if _, back := b.fleets[fleet]; !back {
			b.pub.ClearSnapshot(fleet)
			delete(b.published, fleet)
			b.m.dropFleet(fleet)
			b.log.Info("fleet released: no node names it", "fleet", fleet)
		}
		b.fleetMu.Unlock()
	}
}

// Ready is closed once the default fleet has a snapshot: from then on a node of any fleet is served as soon as its
// fleet's first build finishes.
func (b *Builder) Ready() <-chan struct{} { return b.ready }

// Snapshot returns the last snapshot published for a fleet, or nil. Its resources are the typed Envoy messages;
// the cache holds the same snapshot with each resource encoded once (see Message).
func (b *Builder) Snapshot(fleet string) *cachev3.Snapshot {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st, ok := b.published[fleet]; ok {
		return st.snapshot
	}
	return nil
}
