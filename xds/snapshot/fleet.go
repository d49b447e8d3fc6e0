package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"sync"

	"google.golang.org/protobuf/proto"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/xds/ir"
	"github.com/mcpgw/mcpgw/xds/translate"
)

// item is one resource with its name and content hash. The hash is go-control-plane's own resource version
// (sha256 of the deterministic encoding), so the versions delta clients see match what the cache would compute.
type item struct {
	name string
	res  types.Resource // the typed resource
	wire wire           // the same, encoded once, as the cache publishes it
	hash string
}

// entry is the translation of one catalog object, reused while its revision is unchanged.
type entry struct {
	obj     catalog.Object // identity: view objects are immutable, so the same pointer is the same content
	rev     int64
	inFleet func(string) bool

	routes     []*routev3.Route
	routesHash string // over the deterministic encoding of every route, in order
	clusters   []item
	endpoints  []item
	err        error // non-nil: the object cannot be routed and is left out of every fleet
}

func (e *entry) current(o catalog.Object) bool {
	return e.obj == o || e.rev != 0 && e.rev == o.Metadata().Rev
}

// refresh brings the translation cache up to date with the catalog: changed objects are translated again (in
// parallel: a cold start translates every server), removed ones dropped. An object that cannot be routed is
// logged once per revision and counted.
func (b *Builder) refresh() {
	b.servers = refreshKind(b, catalog.KindServer, b.servers, func(o catalog.Object) *entry {
		s, ok := o.(*catalog.Server)
		if !ok {
			return &entry{obj: o, err: fmt.Errorf("%w: %T in the servers table", ir.ErrInvalid, o), inFleet: none}
		}
		return b.serverEntry(s)
	})
	b.virtuals = refreshKind(b, catalog.KindVirtualServer, b.virtuals, func(o catalog.Object) *entry {
		v, ok := o.(*catalog.VirtualServer)
		if !ok {
			return &entry{obj: o, err: fmt.Errorf("%w: %T in the virtual servers table", ir.ErrInvalid, o), inFleet: none}
		}
		return b.virtualEntry(v)
	})
	skipped := 0
	for _, es := range []map[string]*entry{b.servers, b.virtuals} {
		for _, e := range es {
			if e.err != nil {
				skipped++
			}
		}
	}
	b.m.skipped.Set(float64(skipped))
}

func none(string) bool { return false }

// refreshKind returns the cache of one kind brought up to date, translating stale entries on every CPU.
func refreshKind(b *Builder, kind catalog.Kind, cache map[string]*entry, translate func(catalog.Object) *entry) map[string]*entry {
	objs := b.cat.All(kind)
	next := make(map[string]*entry, len(objs))
	var stale []catalog.Object
	for _, o := range objs {
		if e, ok := cache[o.Key()]; ok && e.current(o) {
			next[o.Key()] = e
			continue
		}
		stale = append(stale, o)
	}
	fresh := make([]*entry, len(stale))
	workers := min(runtime.GOMAXPROCS(0), (len(stale)+63)/64) // small batches are not worth a goroutine
	if workers <= 1 {
		for i, o := range stale {
			fresh[i] = translate(o)
		}
	} else {
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(stale); i += workers {
					fresh[i] = translate(stale[i])
				}
			})
		}
		wg.Wait()
	}
	for i, o := range stale {
		e := fresh[i]
		if e.err != nil {
			b.log.Warn("left out of the gateway", "kind", string(kind), "name", o.Key(), "rev", o.Metadata().Rev, "err", e.err)
		}
		next[o.Key()] = e
	}
	return next
}

func (b *Builder) serverEntry(cs *catalog.Server) *entry {
	e := &entry{obj: cs, rev: cs.Rev}
	s, err := ir.ServerFromCatalog(cs)
	if err != nil || s == nil { // nil: nothing to route (stdio only)
		e.err = err
		e.inFleet = none
		return e
	}
	e.inFleet = s.InFleet
	if e.routes, err = b.tr.ServerRoutes(s); err == nil {
		e.routesHash, err = routesHash(e.routes)
	}
	if err != nil {
		e.err = err
		return e
	}
	clusters, endpoints, err := b.tr.ServerClusters(s)
	if err != nil {
		e.err = err
		return e
	}
	for _, c := range clusters {
		it, err := newItem(c.Name, c)
		if err != nil {
			e.err = err
			return e
		}
		e.clusters = append(e.clusters, it)
	}
	for _, c := range endpoints {
		it, err := newItem(c.ClusterName, c)
		if err != nil {
			e.err = err
			return e
		}
		e.endpoints = append(e.endpoints, it)
	}
	return e
}

func (b *Builder) virtualEntry(cv *catalog.VirtualServer) *entry {
	e := &entry{obj: cv, rev: cv.Rev, inFleet: none}
	v, err := ir.VirtualFromCatalog(cv)
	if err != nil {
		e.err = err
		return e
	}
	if e.routes, err = b.tr.VirtualRoutes(v); err == nil {
		e.routesHash, err = routesHash(e.routes)
	}
	if err != nil {
		e.err = err
		return e
	}
	e.inFleet = v.InFleet
	return e
}

// newItem validates a resource and hashes it.
func newItem(name string, r types.Resource) (item, error) {
	if v, ok := r.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return item{}, fmt.Errorf("validate %s: %w", name, err)
		}
	}
	b, err := deterministic.Marshal(r)
	if err != nil {
		return item{}, fmt.Errorf("marshal %s: %w", name, err)
	}
	sum := sha256.Sum256(b)
	return item{name: name, res: r, wire: newWire(name, r, b), hash: hex.EncodeToString(sum[:])}, nil
}

// marshalBuffers recycles the buffers routes are encoded into for hashing: their bytes are not kept (the
// route configuration they end up in is encoded whole).
var marshalBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// deterministic is the encoding go-control-plane hashes (cachev3.MarshalResource).
var deterministic = proto.MarshalOptions{Deterministic: true}

// routesHash validates each route and hashes them together.
func routesHash(routes []*routev3.Route) (string, error) {
	buf := marshalBuffers.Get().(*[]byte)
	defer marshalBuffers.Put(buf)
	h := sha256.New()
	for _, r := range routes {
		if err := r.ValidateAll(); err != nil {
			return "", fmt.Errorf("validate route %s: %w", r.Name, err)
		}
		b, err := deterministic.MarshalAppend((*buf)[:0], r)
		if err != nil {
			return "", fmt.Errorf("marshal route %s: %w", r.Name, err)
		}
		*buf = b
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Resource types a fleet receives, in ADS order.
var kinds = [...]types.ResponseType{types.Cluster, types.Endpoint, types.Listener, types.Route}

// fleetState is what was last published to a fleet: the snapshot of typed resources (checked for consistency,
// returned by Builder.Snapshot) and the same snapshot of wire resources, which the cache serves.
type fleetState struct {
	snapshot     *cachev3.Snapshot
	wired        *cachev3.Snapshot
	fingerprints map[types.ResponseType]string
}

// publish assembles the fleet's resources from the cache and publishes them when they differ from the last
// published ones. It reports whether it published.
func (b *Builder) publish(ctx context.Context, fleet string) (bool, error) {
	prev := b.published[fleet]
	version := "v" + strconv.FormatUint(b.seq, 10)

	// Gather per type, in catalog order: items and a fingerprint over their hashes.
	var (
		clusters, endpoints []item
		routes              []*routev3.Route
		fp                  = map[types.ResponseType]*fingerprint{types.Cluster: newFingerprint(),
			types.Endpoint: newFingerprint(), types.Route: newFingerprint(), types.Listener: newFingerprint()}
	)
	for _, o := range b.cat.All(catalog.KindServer) {
		e := b.servers[o.Key()]
		if e == nil || e.err != nil || !e.inFleet(fleet) {
			continue
		}
		routes = append(routes, e.routes...)
		fp[types.Route].add(e.routesHash)
		for _, c := range e.clusters {
			clusters = append(clusters, c)
			fp[types.Cluster].add(c.hash)
		}
		for _, c := range e.endpoints {
			endpoints = append(endpoints, c)
			fp[types.Endpoint].add(c.hash)
		}
	}
	for _, o := range b.cat.All(catalog.KindVirtualServer) {
		e := b.virtuals[o.Key()]
		if e == nil || e.err != nil || !e.inFleet(fleet) {
			continue
		}
		routes = append(routes, e.routes...)
		fp[types.Route].add(e.routesHash)
	}
	routes = append(routes, b.tr.CommonRoutes()...)
	fp[types.Listener].add(b.listener.hash)

	snap := &cachev3.Snapshot{VersionMap: map[string]map[string]string{}}
	wired := &cachev3.Snapshot{VersionMap: snap.VersionMap}
	next := &fleetState{snapshot: snap, wired: wired, fingerprints: map[types.ResponseType]string{}}
	changed := prev == nil
	for _, k := range kinds {
		typeURL, err := cachev3.GetResponseTypeURL(k)
		if err != nil {
			return false, err
		}
		sum := fp[k].sum()
		next.fingerprints[k] = sum
		if prev != nil && prev.fingerprints[k] == sum {
			// Unchanged: keep the published resources, version and version map.
			snap.Resources[k] = prev.snapshot.Resources[k]
			wired.Resources[k] = prev.wired.Resources[k]
			snap.VersionMap[typeURL] = prev.snapshot.VersionMap[typeURL]
			continue
		}
		changed = true
		var items []item
		switch k {
		case types.Cluster:
			items = clusters
		case types.Endpoint:
			items = endpoints
		case types.Listener:
			items = []item{b.listener}
		case types.Route:
			// Every route was validated when its server was translated, and the envelope (name, virtual host,
			// domains) when the builder was made; PGV has no rule across routes, so the configuration is valid
			// without validating 10k routes again. It is encoded once here, for every stream.
			rc := translate.RouteConfiguration(routes)
			enc, err := deterministic.Marshal(rc)
			if err != nil {
				return false, fmt.Errorf("fleet %s: marshal route configuration: %w", fleet, err)
			}
			h := sha256.Sum256(enc)
			items = []item{{name: translate.RouteConfigName, res: rc, wire: newWire(translate.RouteConfigName, rc, enc),
				hash: hex.EncodeToString(h[:])}}
		}
		res := cachev3.Resources{Version: version, Items: make(map[string]types.ResourceWithTTL, len(items))}
		wres := cachev3.Resources{Version: version, Items: make(map[string]types.ResourceWithTTL, len(items))}
		vm := make(map[string]string, len(items))
		for _, it := range items {
			if _, dup := res.Items[it.name]; dup {
				return false, fmt.Errorf("fleet %s: two %s resources named %q", fleet, typeURL, it.name)
			}
			res.Items[it.name] = types.ResourceWithTTL{Resource: it.res}
			wres.Items[it.name] = types.ResourceWithTTL{Resource: it.wire}
			vm[it.name] = it.hash
		}
		snap.Resources[k] = res
		wired.Resources[k] = wres
		snap.VersionMap[typeURL] = vm
	}
	if !changed {
		return false, nil
	}
	if err := snap.Consistent(); err != nil {
		return false, fmt.Errorf("fleet %s: snapshot %s is not consistent: %w", fleet, version, err)
	}
	if err := b.pub.SetSnapshot(ctx, fleet, wired); err != nil {
		return false, fmt.Errorf("fleet %s: publish snapshot %s: %w", fleet, version, err)
	}
	b.published[fleet] = next
	for _, k := range kinds {
		typeURL, _ := cachev3.GetResponseTypeURL(k)
		b.m.resources.WithLabelValues(fleet, shortType(typeURL)).Set(float64(len(snap.Resources[k].Items)))
	}
	b.log.Info("snapshot published", "fleet", fleet, "version", version,
		"clusters", len(snap.Resources[types.Cluster].Items), "routes", len(routes),
		"changed", changedTypes(prev, next))
	return true, nil
}

func changedTypes(prev, next *fleetState) []string {
	var out []string
	for _, k := range kinds {
		if prev == nil || prev.fingerprints[k] != next.fingerprints[k] {
			typeURL, _ := cachev3.GetResponseTypeURL(k)
			out = append(out, shortType(typeURL))
		}
	}
	return out
}

func shortType(typeURL string) string {
	switch typeURL {
	case resourcev3.ClusterType:
		return "cluster"
	case resourcev3.EndpointType:
		return "endpoint"
	case resourcev3.ListenerType:
		return "listener"
	case resourcev3.RouteType:
		return "route"
	}
	return typeURL
}

// fingerprint hashes the sequence of hashes of a fleet's resources of one type.
type fingerprint struct {
	h interface {
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
	n int
}

func newFingerprint() *fingerprint { return &fingerprint{h: sha256.New()} }

func (f *fingerprint) add(hash string) {
	f.n++
	_, _ = f.h.Write([]byte(hash))
	_, _ = f.h.Write([]byte{0})
}

func (f *fingerprint) sum() string { return strconv.Itoa(f.n) + ":" + hex.EncodeToString(f.h.Sum(nil)) }
