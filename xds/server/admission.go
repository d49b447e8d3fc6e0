package server

import (
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// Admission of first syncs. A new ADS stream receives the whole configuration of its fleet, and go-control-plane
// marshals every response separately for every stream, holding the encoded copy until the node has read it. When
// a whole fleet connects at once (a control-plane restart, a network partition healing) every stream does so at
// the same moment: at 10k servers a full push is about 17 MB, and 100 nodes took the heap to about 2 GB
// (BenchmarkFanOut's peak-heap-MB before this gate). The gate lets at most concurrentSyncs streams receive their
// first configuration at a time; the others wait, before go-control-plane has read their first request, so they
// hold nothing. A stream leaves the gate once its node has answered (ACK or NACK) the latest response of every
// type it subscribed to among listeners, routes and clusters (a listener subscription implies the route
// configuration it names; an Envoy node, which asks for listeners only after its clusters have warmed, must
// answer all three), when the stream ends, or after syncHold at the latest, so a node that never answers cannot
// keep others waiting for long.
const (
	concurrentSyncs = 16
	syncHold        = 5 * time.Second
)

// syncGate is the gRPC stream interceptor that admits ADS streams.
type syncGate struct {
	slots chan struct{}
	hold  time.Duration
	m     *Metrics
}

func newSyncGate(n int, hold time.Duration, m *Metrics) *syncGate {
	return &syncGate{slots: make(chan struct{}, n), hold: hold, m: m}
}

func (g *syncGate) intercept(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if !info.IsClientStream || !isADS(info.FullMethod) {
		return handler(srv, ss)
	}
	select {
	case g.slots <- struct{}{}:
	default:
		g.m.syncsWaiting.Inc()
		select {
		case g.slots <- struct{}{}:
			g.m.syncsWaiting.Dec()
		case <-ss.Context().Done():
			g.m.syncsWaiting.Dec()
			return status.FromContextError(ss.Context().Err()).Err()
		}
	}
	st := &syncStream{ServerStream: ss, subscribed: map[string]bool{}, pending: map[string]string{}, answered: map[string]bool{}}
	st.release = sync.OnceFunc(func() { <-g.slots })
	t := time.AfterFunc(g.hold, st.release)
	defer t.Stop()
	defer st.release()
	return handler(srv, st)
}

func isADS(method string) bool {
	return method == "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources" ||
		method == "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources"
}

// syncStream follows one stream's first sync: the types it subscribed to and the nonce of the latest response of
// each type that its node has not answered yet.
type syncStream struct {
	grpc.ServerStream
	release func()

	mu         sync.Mutex
	subscribed map[string]bool   // gated types the node asked for
	pending    map[string]string // type → nonce of the latest response sent, until answered
	answered   map[string]bool   // gated types whose latest response the node answered at least once
}

// gatedTypes are the types whose first push the gate paces: the large ones.
var gatedTypes = [...]string{resourcev3.ClusterType, resourcev3.ListenerType, resourcev3.RouteType}

func gated(typ string) bool { return slices.Contains(gatedTypes[:], typ) }

// envoyUserAgent is the node.user_agent_name every Envoy sends.
const envoyUserAgent = "envoy"

func (s *syncStream) SendMsg(m any) error {
	var typ, nonce string
	switch r := m.(type) {
	case *discoveryv3.DiscoveryResponse:
		typ, nonce = r.GetTypeUrl(), r.GetNonce()
	case *discoveryv3.DeltaDiscoveryResponse:
		typ, nonce = r.GetTypeUrl(), r.GetNonce()
	}
	if gated(typ) {
		s.mu.Lock()
		s.pending[typ] = nonce
		s.mu.Unlock()
	}
	return s.ServerStream.SendMsg(m)
}

func (s *syncStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	var (
		typ, nonce string
		node       *corev3.Node
	)
	switch r := m.(type) {
	case *discoveryv3.DiscoveryRequest:
		typ, nonce, node = r.GetTypeUrl(), r.GetResponseNonce(), r.GetNode()
	case *discoveryv3.DeltaDiscoveryRequest:
		typ, nonce, node = r.GetTypeUrl(), r.GetResponseNonce(), r.GetNode()
	}
	if !gated(typ) {
		return nil
	}
	s.mu.Lock()
	if node.GetUserAgentName() == envoyUserAgent {
		// Envoy subscribes to listeners only once the clusters it was sent have warmed (its initialization
		// order: CDS and EDS, then LDS, then RDS), so its early subscriptions do not show that the listener and
		// the route configuration, the largest response, are still to come. Every fleet has both.
		for _, t := range gatedTypes {
			s.subscribed[t] = true
		}
	}
	s.subscribed[typ] = true
	if nonce != "" && s.pending[typ] == nonce {
		delete(s.pending, typ)
		s.answered[typ] = true
	}
	done := s.syncedLocked()
	s.mu.Unlock()
	if done {
		s.release()
	}
	return nil
}

// syncedLocked reports whether the node has answered the latest response of every gated type it subscribed to.
func (s *syncStream) syncedLocked() bool {
	if len(s.pending) > 0 || len(s.answered) == 0 {
		return false
	}
	for typ := range s.subscribed {
		if !s.answered[typ] {
			return false
		}
	}
	// A listener names its route configuration: the node asks for it after the listener, and it is the largest.
	return !s.answered[resourcev3.ListenerType] || s.answered[resourcev3.RouteType]
}
