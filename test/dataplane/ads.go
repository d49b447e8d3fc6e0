package dataplane

import (
	"context"
	"fmt"
	"maps"
	"slices"

	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// subscription is the state of one resource type on the ADS stream.
type subscription struct {
	typeURL string
	names   []string // nil: wildcard (LDS, CDS)
	version string   // last accepted version_info
	nonce   string   // nonce of the last response received
}

// adsStream is one state-of-the-world ADS stream: requests carry the last accepted version and the nonce of the
// last response of their type; a response is applied whole or rejected whole.
type adsStream struct {
	d     *DataPlane
	s     grpc.BidiStreamingClient[discoveryv3.DiscoveryRequest, discoveryv3.DiscoveryResponse]
	first bool
	subs  map[string]*subscription
}

// stream runs one ADS stream until it fails or ctx ends. Like Envoy it asks for clusters, then listeners (both
// wildcard), then the route configurations the listeners name and the endpoints of EDS clusters, and starts
// from the versions it already applied, so a reconnect does not re-apply an unchanged configuration.
func (d *DataPlane) stream(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
	if err != nil {
		return fmt.Errorf("open ADS stream: %w", err)
	}
	a := &adsStream{d: d, s: s, first: true, subs: map[string]*subscription{}}
	versions := d.Status().Versions
	for _, t := range []string{resourcev3.ClusterType, resourcev3.ListenerType} {
		a.subs[t] = &subscription{typeURL: t, version: versions[t]}
		if err := a.send(a.subs[t], nil); err != nil {
			return err
		}
	}
	if err := a.resubscribe(versions); err != nil {
		return err
	}
	for {
		resp, err := s.Recv()
		if err != nil {
			return fmt.Errorf("receive from ADS: %w", err)
		}
		d.setConnected(true)
		sub := a.subs[resp.GetTypeUrl()]
		if sub == nil {
			d.log.Warn("ignoring a response for a type not subscribed to", "type", resp.GetTypeUrl())
			continue
		}
		sub.nonce = resp.GetNonce()
		if err := d.apply(resp); err != nil {
			d.log.Error("NACK", "type", resp.GetTypeUrl(), "version", resp.GetVersionInfo(), "error", err)
			d.updateStatus(func(st *Status) { st.NACKs++; st.LastNACK = err.Error() })
			if err := a.send(sub, err); err != nil {
				return err
			}
			continue
		}
		sub.version = resp.GetVersionInfo()
		d.updateStatus(func(st *Status) { st.Versions[resp.GetTypeUrl()] = resp.GetVersionInfo() })
		if err := a.send(sub, nil); err != nil {
			return err
		}
		if err := a.resubscribe(nil); err != nil {
			return err
		}
	}
}

// send writes a request: an ACK (err nil) or a NACK carrying the error, with the last accepted version.
func (a *adsStream) send(sub *subscription, nack error) error {
	req := &discoveryv3.DiscoveryRequest{VersionInfo: sub.version, ResourceNames: sub.names, TypeUrl: sub.typeURL,
		ResponseNonce: sub.nonce}
	if a.first || !a.d.nodeOnFirstOnly {
		req.Node = a.d.node
	}
	a.first = false
	if nack != nil {
		req.ErrorDetail = &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: nack.Error()}
	}
	if err := a.s.Send(req); err != nil {
		return fmt.Errorf("send %s request: %w", sub.typeURL, err)
	}
	return nil
}

// resubscribe follows the applied configuration: RDS for the route configurations the listeners name, EDS for
// the EDS clusters. A changed set of names is a new request (with the type's version and nonce). versions, when
// not nil, are the versions to start from on a new stream.
func (a *adsStream) resubscribe(versions map[string]string) error {
	st := a.d.state.Load()
	var routes, eds []string
	for _, l := range st.listeners {
		if !slices.Contains(routes, l.hcm.routeConfig) {
			routes = append(routes, l.hcm.routeConfig)
		}
	}
	for name, c := range st.clusters {
		if c.eds {
			eds = append(eds, name)
		}
	}
	slices.Sort(routes)
	slices.Sort(eds)
	for _, want := range []struct {
		typeURL string
		names   []string
	}{{resourcev3.RouteType, routes}, {resourcev3.EndpointType, eds}} {
		sub := a.subs[want.typeURL]
		switch {
		case sub == nil && len(want.names) == 0:
			// Never subscribe with no names: in SotW an empty list is a wildcard.
			continue
		case sub == nil:
			sub = &subscription{typeURL: want.typeURL, version: versions[want.typeURL]}
			a.subs[want.typeURL] = sub
		case slices.Equal(sub.names, want.names):
			continue
		}
		sub.names = want.names
		if len(sub.names) == 0 {
			// Nothing of this type is needed any more; an empty request would ask for everything. Keep the
			// subscription but stop applying its responses.
			delete(a.subs, want.typeURL)
			continue
		}
		if err := a.send(sub, nil); err != nil {
			return err
		}
	}
	return nil
}

// apply validates a response whole and, when every resource is acceptable, makes it the configuration.
func (d *DataPlane) apply(resp *discoveryv3.DiscoveryResponse) error {
	for _, r := range resp.GetResources() {
		if r.GetTypeUrl() != resp.GetTypeUrl() {
			return fmt.Errorf("resource of type %s in a %s response: %w", r.GetTypeUrl(), resp.GetTypeUrl(), ErrInvalid)
		}
	}
	switch resp.GetTypeUrl() {
	case resourcev3.ListenerType:
		return d.applyListeners(resp.GetResources())
	case resourcev3.RouteType:
		return d.applyRoutes(resp.GetResources())
	case resourcev3.ClusterType:
		return d.applyClusters(resp.GetResources())
	case resourcev3.EndpointType:
		return d.applyEndpoints(resp.GetResources())
	}
	return fmt.Errorf("resource type %s: %w", resp.GetTypeUrl(), ErrUnsupported)
}

// decode unpacks every resource into a new T.
func decode[T proto.Message](rs []*anypb.Any, newT func() T) ([]T, error) {
	out := make([]T, 0, len(rs))
	for _, r := range rs {
		m := newT()
		if err := r.UnmarshalTo(m); err != nil {
			return nil, fmt.Errorf("decode %s: %w", r.GetTypeUrl(), err)
		}
		if v, ok := any(m).(interface{ ValidateAll() error }); ok {
			if err := v.ValidateAll(); err != nil {
				return nil, fmt.Errorf("validate %s: %w", r.GetTypeUrl(), err)
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// applyListeners replaces the listener set (SotW: a listener missing from the response is removed).
func (d *DataPlane) applyListeners(rs []*anypb.Any) error {
	ls, err := decode(rs, func() *listenerv3.Listener { return new(listenerv3.Listener) })
	if err != nil {
		return err
	}
	next := map[string]*listenerConfig{}
	for _, l := range ls {
		lc, err := buildListener(l)
		if err != nil {
			return err
		}
		if next[lc.name] != nil {
			return fmt.Errorf("listener %q twice: %w", lc.name, ErrInvalid)
		}
		next[lc.name] = lc
	}
	start, stop, err := d.bindListeners(next)
	if err != nil {
		return err
	}
	cur := d.state.Load()
	routes := map[string]*routeTable{}
	for _, lc := range next {
		if t := cur.routes[lc.hcm.routeConfig]; t != nil {
			routes[lc.hcm.routeConfig] = t
		}
	}
	d.state.Store(&state{listeners: next, routes: routes, clusters: cur.clusters})
	d.swapServers(start, stop)
	d.mu.Lock()
	bound := map[string]string{}
	for name, srv := range d.servers {
		bound[name] = srv.l.Addr().String()
	}
	d.mu.Unlock()
	d.updateStatus(func(s *Status) {
		s.Listeners = bound
		s.Routes = routeNames(routes)
	})
	return nil
}

// applyRoutes replaces the route configurations the response carries.
func (d *DataPlane) applyRoutes(rs []*anypb.Any) error {
	rcs, err := decode(rs, func() *routev3.RouteConfiguration { return new(routev3.RouteConfiguration) })
	if err != nil {
		return err
	}
	cur := d.state.Load()
	routes := maps.Clone(cur.routes)
	for _, rc := range rcs {
		t, err := buildRouteTable(rc)
		if err != nil {
			return err
		}
		routes[t.name] = t
	}
	d.state.Store(&state{listeners: cur.listeners, routes: routes, clusters: cur.clusters})
	d.updateStatus(func(s *Status) { s.Routes = routeNames(routes) })
	return nil
}

// applyClusters replaces the dynamic cluster set. An unchanged cluster keeps its connection pools and endpoints;
// a changed EDS cluster keeps its endpoints until the next assignment.
func (d *DataPlane) applyClusters(rs []*anypb.Any) error {
	cs, err := decode(rs, func() *clusterv3.Cluster { return new(clusterv3.Cluster) })
	if err != nil {
		return err
	}
	cur := d.state.Load()
	next := map[string]*cluster{}
	for _, c := range cs {
		if d.static[c.GetName()] != nil {
			return fmt.Errorf("cluster %q is a static cluster of the bootstrap: %w", c.GetName(), ErrInvalid)
		}
		if next[c.GetName()] != nil {
			return fmt.Errorf("cluster %q twice: %w", c.GetName(), ErrInvalid)
		}
		if old := cur.clusters[c.GetName()]; old != nil && proto.Equal(old.src, c) {
			next[c.GetName()] = old
			continue
		}
		built, err := buildCluster(c)
		if err != nil {
			return err
		}
		if old := cur.clusters[c.GetName()]; old != nil && old.eds && built.eds {
			built.hosts.Store(old.hosts.Load())
		}
		next[c.GetName()] = built
	}
	d.state.Store(&state{listeners: cur.listeners, routes: cur.routes, clusters: next})
	for name, old := range cur.clusters {
		if next[name] != old {
			old.close()
		}
	}
	d.updateStatus(func(s *Status) {
		s.Clusters = slices.Sorted(maps.Keys(next))
		s.Endpoints = endpointAddrs(next)
	})
	return nil
}

// applyEndpoints sets the endpoints of the EDS clusters the response names; assignments for clusters that are
// not (or no longer) EDS clusters here are ignored, as Envoy ignores resources it did not ask for.
func (d *DataPlane) applyEndpoints(rs []*anypb.Any) error {
	assignments, err := decode(rs, func() *endpointv3.ClusterLoadAssignment { return new(endpointv3.ClusterLoadAssignment) })
	if err != nil {
		return err
	}
	cur := d.state.Load()
	type pending struct {
		c     *cluster
		hosts []*host
	}
	var ps []pending
	for _, cla := range assignments {
		c := cur.clusters[cla.GetClusterName()]
		if c == nil || !c.eds {
			continue
		}
		hosts, err := c.assignment(cla, clusterv3.Cluster_EDS)
		if err != nil {
			return fmt.Errorf("endpoints of cluster %q: %w", c.name, err)
		}
		ps = append(ps, pending{c, hosts})
	}
	for _, p := range ps {
		p.c.hosts.Store(&p.hosts)
	}
	d.updateStatus(func(s *Status) { s.Endpoints = endpointAddrs(cur.clusters) })
	return nil
}

func routeNames(tables map[string]*routeTable) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(tables)) {
		for _, v := range tables[name].vhosts {
			for _, r := range v.routes {
				out = append(out, r.name)
			}
		}
	}
	return out
}

func endpointAddrs(cs map[string]*cluster) map[string][]string {
	out := map[string][]string{}
	for name, c := range cs {
		if !c.eds {
			continue
		}
		for _, h := range *c.hosts.Load() {
			out[name] = append(out[name], h.addr)
		}
	}
	return out
}
