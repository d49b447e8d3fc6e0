// Package server is mcpgw's ADS gRPC server: go-control-plane's server over a snapshot cache keyed by fleet
// (snapshot.FleetHash), serving state-of-the-world and delta ADS, with keepalive suited to Envoy, the gRPC health
// service, and Stop on shutdown (Envoy never closes its streams, so a graceful stop would not return).
//
// It logs one line when a node connects (its first request names it: node id, fleet, Envoy version) and one when
// its stream closes; counts connected nodes and NACKs per node; and guards against the state-of-the-world NACK
// loop of go-control-plane#962 (see nackGuard): a rejected version is never sent again on the same stream.
package server
