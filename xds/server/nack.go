package server

import (
	"google.golang.org/protobuf/proto"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
)

// nackGuard wraps the snapshot cache so that a rejected version is not sent again.
//
// A state-of-the-world NACK is a request carrying error_detail and, as version_info, the last version the client
// accepted. go-control-plane's SnapshotCache sees a version that differs from the snapshot's and answers at once
// with the same snapshot, which the client rejects again: a tight loop (go-control-plane#962; 176 646 cycles in
// 15 s were measured here). The guard answers the NACK's watch as if the client held the current version, so the
// cache parks the watch until a new snapshot arrives.
//
// Whether the current version is the rejected one: the server sends at most one response per watch, and the
// client's next request opens the next watch, so between the rejected response and the NACK no watch is open and a
// new snapshot reaches nobody. When the NACK arrives, the snapshot either still has the version that was sent (the
// rejected one: hold) or a newer one, which the client has not seen and which may well be the fix for what it
// rejected: it must be sent now, as the unmodified cache does, not parked until some later change. The version
// sent is the one the stream's subscription recorded for the resources it returned (go-control-plane stamps every
// resource of a state-of-the-world response with the response's version). Delta xDS needs no guard: the server
// records what it sent before the client answers, so a NACK does not make the cache resend anything.
type nackGuard struct {
	cachev3.SnapshotCache
	hash cachev3.NodeHash
}

// CreateWatch implements cachev3.ConfigWatcher.
func (g nackGuard) CreateWatch(req *cachev3.Request, sub cachev3.Subscription, out chan cachev3.Response) (func(), error) {
	if req.GetErrorDetail() != nil {
		if snap, err := g.GetSnapshot(g.hash.ID(req.GetNode())); err == nil {
			if v := snap.GetVersion(req.GetTypeUrl()); v != "" && v != req.GetVersionInfo() &&
				sentVersion(sub, snap, req.GetTypeUrl(), v) {
				held := proto.Clone(req).(*discoveryv3.DiscoveryRequest)
				held.VersionInfo = v
				req = held
			}
		}
	}
	return g.SnapshotCache.CreateWatch(req, sub, out)
}

// sentVersion reports whether version v of the type is the one last sent on the stream, i.e. the one the NACK
// rejects. A response without resources records no version; it was v only if v has no resources either.
func sentVersion(sub cachev3.Subscription, snap cachev3.ResourceSnapshot, typeURL, v string) bool {
	returned := sub.ReturnedResources()
	if len(returned) == 0 {
		return len(snap.GetResourcesAndTTL(typeURL)) == 0
	}
	for _, sent := range returned {
		if sent != v {
			return false
		}
	}
	return true
}
