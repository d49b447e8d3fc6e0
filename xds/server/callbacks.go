package server

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"

	"github.com/mcpgw/mcpgw/xds/snapshot"
)

// Fleets is told the fleet of every node that connects, so that the fleet gets snapshots (EnsureFleet reports
// false when the fleet cannot be served), and of every accepted node that goes, so that a fleet no node names any
// more stops taking a place. *snapshot.Builder satisfies it.
type Fleets interface {
	EnsureFleet(fleet string) bool
	ReleaseFleet(fleet string)
}

var _ Fleets = (*snapshot.Builder)(nil)

// callbacks tracks streams: a log line when a node connects (its first request names it) and when its stream
// closes, the connected-nodes gauge, and NACKs counted per node and logged with the client's error detail.
type callbacks struct {
	log    *slog.Logger
	m      *Metrics
	fleets Fleets

	mu      sync.Mutex
	streams map[int64]*stream
}

type stream struct {
	delta      bool
	identified bool // the first request carrying a node was seen
	connected  bool // counted in the connected-nodes gauge
	node       string
	fleet      string
}

var _ serverv3.Callbacks = (*callbacks)(nil)

func (c *callbacks) open(id int64, delta bool) {
	c.mu.Lock()
	c.streams[id] = &stream{delta: delta}
	c.mu.Unlock()
}

// request handles the first request of a stream (naming the node) and every NACK.
func (c *callbacks) request(id int64, node *corev3.Node, typeURL, version, nonce string, nack error) error {
	c.mu.Lock()
	st, ok := c.streams[id]
	first := ok && !st.identified && node != nil
	if first {
		st.identified = true
		st.node, st.fleet = node.GetId(), snapshot.FleetOf(node)
	}
	c.mu.Unlock()
	if first {
		protocol := "sotw"
		if st.delta {
			protocol = "delta"
		}
		if !c.fleets.EnsureFleet(st.fleet) {
			c.log.Warn("node refused: its fleet cannot be served", "node", st.node, "fleet", st.fleet)
			return status.Errorf(codes.ResourceExhausted, "fleet %q cannot be served: invalid name or too many fleets", st.fleet)
		}
		c.mu.Lock()
		st.connected = true
		c.mu.Unlock()
		c.m.connected.Inc()
		c.log.Info("node connected", "node", st.node, "fleet", st.fleet, "envoy_version", envoyVersion(node),
			"protocol", protocol, "stream", id)
	}
	if nack != nil && ok {
		c.mu.Lock() // ordered with closed's removal of the node's series
		c.m.nacks.WithLabelValues(st.node, typeURL).Inc()
		c.mu.Unlock()
		c.log.Warn("node rejected configuration", "node", st.node, "fleet", st.fleet, "type", typeURL,
			"accepted_version", version, "nonce", nonce, "error", nack.Error())
	}
	return nil
}

func (c *callbacks) closed(id int64) {
	c.mu.Lock()
	st, ok := c.streams[id]
	delete(c.streams, id)
	if ok && st.identified && !c.nodeHasStreamLocked(st.node) {
		// The node's last stream: its NACK series go with it, so that node ids that come and go (pod names) do
		// not grow the metric without bound. A node that reconnects counts from zero, which rate() reads as a reset.
		c.m.nacks.DeletePartialMatch(prometheus.Labels{"node": st.node})
	}
	c.mu.Unlock()
	if ok && st.connected {
		c.fleets.ReleaseFleet(st.fleet)
		c.m.connected.Dec()
		c.log.Info("node disconnected", "node", st.node, "fleet", st.fleet, "stream", id)
	}
}

// nodeHasStreamLocked reports whether another open stream has identified itself as node. c.mu is held.
func (c *callbacks) nodeHasStreamLocked(node string) bool {
	for _, o := range c.streams {
		if o.identified && o.node == node {
			return true
		}
	}
	return false
}

// envoyVersion renders the node's build: "envoy 1.40.0" from user_agent_name and user_agent_build_version, or
// the free-form user_agent_version other xDS clients send.
func envoyVersion(n *corev3.Node) string {
	name := n.GetUserAgentName()
	if v := n.GetUserAgentBuildVersion().GetVersion(); v != nil {
		return fmt.Sprintf("%s %d.%d.%d", name, v.GetMajorNumber(), v.GetMinorNumber(), v.GetPatch())
	}
	if v := n.GetUserAgentVersion(); v != "" {
		return name + " " + v
	}
	return name
}

type nackError struct{ msg string }

func (e nackError) Error() string { return e.msg }

func nackOf(code int32, msg string, present bool) error {
	if !present {
		return nil
	}
	return nackError{fmt.Sprintf("code %d: %s", code, msg)}
}

func (c *callbacks) OnStreamOpen(_ context.Context, id int64, _ string) error {
	c.open(id, false)
	return nil
}

func (c *callbacks) OnStreamClosed(id int64, _ *corev3.Node) { c.closed(id) }

func (c *callbacks) OnStreamRequest(id int64, r *discoveryv3.DiscoveryRequest) error {
	d := r.GetErrorDetail()
	return c.request(id, r.GetNode(), r.GetTypeUrl(), r.GetVersionInfo(), r.GetResponseNonce(),
		nackOf(d.GetCode(), d.GetMessage(), d != nil))
}

func (c *callbacks) OnStreamResponse(context.Context, int64, *discoveryv3.DiscoveryRequest, *discoveryv3.DiscoveryResponse) {
}

func (c *callbacks) OnDeltaStreamOpen(_ context.Context, id int64, _ string) error {
	c.open(id, true)
	return nil
}

func (c *callbacks) OnDeltaStreamClosed(id int64, _ *corev3.Node) { c.closed(id) }

func (c *callbacks) OnStreamDeltaRequest(id int64, r *discoveryv3.DeltaDiscoveryRequest) error {
	d := r.GetErrorDetail()
	return c.request(id, r.GetNode(), r.GetTypeUrl(), "", r.GetResponseNonce(), nackOf(d.GetCode(), d.GetMessage(), d != nil))
}

func (c *callbacks) OnStreamDeltaResponse(int64, *discoveryv3.DeltaDiscoveryRequest, *discoveryv3.DeltaDiscoveryResponse) {
}

func (c *callbacks) OnFetchRequest(context.Context, *discoveryv3.DiscoveryRequest) error {
	return status.Error(codes.Unimplemented, "mcpgw serves ADS streams only")
}

func (c *callbacks) OnFetchResponse(*discoveryv3.DiscoveryRequest, *discoveryv3.DiscoveryResponse) {}
