// Package snapshot turns the in-memory catalog into one xDS snapshot per Envoy fleet and publishes it to the
// cache the ADS server serves from.
//
// Rebuilds follow catalog changes through Debounce (a burst of changes gives one rebuild, bounded in delay). A
// build is incremental: a server is translated again only when its catalog revision changes, each resource is
// validated (ValidateAll) and hashed once when it is made, and a fleet's snapshot is assembled from the cached
// pieces. A resource type gets a new version ("v" + the build sequence, so versions only grow) only when its
// content changed, so state-of-the-world clients receive only the types that changed, and the per-resource
// hashes let delta clients receive only the resources that did.
//
// A snapshot is published only when every resource has passed ValidateAll and the snapshot is Consistent;
// otherwise the fleet keeps its last good snapshot, and mcpgw_xds_snapshot_builds_total{result="failed"} and an
// error log line say why. A catalog object that cannot be routed (ir or translation error) is left out of every
// fleet, logged once per revision and counted in mcpgw_xds_servers_skipped; it never blocks the others.
//
// Fleets: a node's fleet is its node.cluster (FleetOf). Snapshots are built for the default fleet and for every
// fleet a connected node names (EnsureFleet), up to Config.MaxFleets; when the last node of a fleet has gone
// (ReleaseFleet), the next build clears the fleet's snapshot and its place is free again.
package snapshot
