package server

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
)

// gatedADS serves go-control-plane's ADS behind a sync gate of one slot, with one cluster for every node.
func gatedADS(t *testing.T, hold time.Duration) discoveryv3.AggregatedDiscoveryServiceClient {
	t.Helper()
	m, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	cache := cachev3.NewSnapshotCache(false, cachev3.IDHash{}, nil)
	snap, err := cachev3.NewSnapshot("1", map[string][]types.Resource{
		resourcev3.ClusterType:  {&clusterv3.Cluster{Name: "c"}},
		resourcev3.ListenerType: {&listenerv3.Listener{Name: "l"}},
		resourcev3.RouteType:    {&routev3.RouteConfiguration{Name: "r"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if err := cache.SetSnapshot(t.Context(), id, snap); err != nil {
			t.Fatal(err)
		}
	}
	gs := grpc.NewServer(grpc.StreamInterceptor(newSyncGate(1, hold, m).intercept))
	ctx, cancel := context.WithCancel(context.Background())
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(gs, serverv3.NewServer(ctx, cache, nil))
	lis := bufconn.Listen(1 << 20)
	go func() { _ = gs.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(); gs.Stop(); cancel() })
	return discoveryv3.NewAggregatedDiscoveryServiceClient(conn)
}

// subscribe opens a delta stream for node id's clusters and returns it with a channel of its responses.
func subscribe(t *testing.T, c discoveryv3.AggregatedDiscoveryServiceClient, id string) (
	discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient, context.CancelFunc, <-chan *discoveryv3.DeltaDiscoveryResponse) {
	t.Helper()
	return subscribeAs(t, c, &corev3.Node{Id: id})
}

// subscribeAs is subscribe for a given node.
func subscribeAs(t *testing.T, c discoveryv3.AggregatedDiscoveryServiceClient, n *corev3.Node) (
	discoveryv3.AggregatedDiscoveryService_DeltaAggregatedResourcesClient, context.CancelFunc, <-chan *discoveryv3.DeltaDiscoveryResponse) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	s, err := c.DeltaAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&discoveryv3.DeltaDiscoveryRequest{Node: n, TypeUrl: resourcev3.ClusterType}); err != nil {
		t.Fatal(err)
	}
	out := make(chan *discoveryv3.DeltaDiscoveryResponse, 4)
	go func() {
		for {
			r, err := s.Recv()
			if err != nil {
				close(out)
				return
			}
			out <- r
		}
	}()
	return s, cancel, out
}

func receive(t *testing.T, ch <-chan *discoveryv3.DeltaDiscoveryResponse, within time.Duration) *discoveryv3.DeltaDiscoveryResponse {
	t.Helper()
	select {
	case r, ok := <-ch:
		if !ok {
			t.Fatal("stream ended")
		}
		return r
	case <-time.After(within):
		return nil
	}
}

func TestSyncGate(t *testing.T) {
	// Invariant: with one slot, a second stream gets its first configuration only once the first stream's node
	// has answered its latest response, or the first stream ended, or the hold expired.
	const quiet = 300 * time.Millisecond
	t.Run("ack", func(t *testing.T) {
		c := gatedADS(t, time.Minute)
		a, _, aResp := subscribe(t, c, "a")
		first := receive(t, aResp, 5*time.Second)
		if first == nil {
			t.Fatal("a: no configuration")
		}
		_, _, bResp := subscribe(t, c, "b")
		if r := receive(t, bResp, quiet); r != nil {
			t.Fatal("b was served while a had not answered")
		}
		if err := a.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resourcev3.ClusterType, ResponseNonce: first.GetNonce()}); err != nil {
			t.Fatal(err)
		}
		if r := receive(t, bResp, 5*time.Second); r == nil {
			t.Fatal("b was not served after a's ACK")
		}
	})
	t.Run("envoy", func(t *testing.T) {
		// Envoy subscribes to listeners only once its clusters have warmed, and to the route configuration once it
		// has the listener: for an Envoy node, answering the clusters is not the end of its first sync.
		c := gatedADS(t, time.Minute)
		a, _, aResp := subscribeAs(t, c, &corev3.Node{Id: "a", UserAgentName: "envoy"})
		answer := func(r *discoveryv3.DeltaDiscoveryResponse, next *discoveryv3.DeltaDiscoveryRequest) {
			t.Helper()
			if r == nil {
				t.Fatal("a: no configuration")
			}
			if err := a.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: r.GetTypeUrl(), ResponseNonce: r.GetNonce()}); err != nil {
				t.Fatal(err)
			}
			if next != nil {
				if err := a.Send(next); err != nil {
					t.Fatal(err)
				}
			}
		}
		answer(receive(t, aResp, 5*time.Second), nil)
		_, _, bResp := subscribe(t, c, "b")
		if r := receive(t, bResp, quiet); r != nil {
			t.Fatal("b was served while a, an Envoy, had answered its clusters only")
		}
		if err := a.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resourcev3.ListenerType}); err != nil {
			t.Fatal(err)
		}
		answer(receive(t, aResp, 5*time.Second), &discoveryv3.DeltaDiscoveryRequest{TypeUrl: resourcev3.RouteType,
			ResourceNamesSubscribe: []string{"r"}})
		if r := receive(t, bResp, quiet); r != nil {
			t.Fatal("b was served while a had not answered its route configuration")
		}
		answer(receive(t, aResp, 5*time.Second), nil)
		if r := receive(t, bResp, 5*time.Second); r == nil {
			t.Fatal("b was not served after a answered clusters, listener and routes")
		}
	})
	t.Run("stream end", func(t *testing.T) {
		c := gatedADS(t, time.Minute)
		_, cancelA, aResp := subscribe(t, c, "a")
		if receive(t, aResp, 5*time.Second) == nil {
			t.Fatal("a: no configuration")
		}
		_, _, bResp := subscribe(t, c, "b")
		if r := receive(t, bResp, quiet); r != nil {
			t.Fatal("b was served while a held the slot")
		}
		cancelA()
		if r := receive(t, bResp, 5*time.Second); r == nil {
			t.Fatal("b was not served after a ended")
		}
	})
	t.Run("hold", func(t *testing.T) {
		c := gatedADS(t, time.Second)
		_, _, aResp := subscribe(t, c, "a")
		if receive(t, aResp, 5*time.Second) == nil {
			t.Fatal("a: no configuration")
		}
		start := time.Now()
		_, _, bResp := subscribe(t, c, "b")
		if r := receive(t, bResp, 10*time.Second); r == nil {
			t.Fatal("b was never served while a stayed silent")
		}
		if waited := time.Since(start); waited < 500*time.Millisecond {
			t.Fatalf("b was served after %v, before a's hold expired", waited)
		}
	})
}
