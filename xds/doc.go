// Package xds is mcpgw's control plane for Envoy: it pushes every registered MCP server and virtual server, and
// the registry routes, to an Envoy fleet over ADS.
//
// The pipeline follows Envoy Gateway's ir → translate → cache → server:
//
//	registry/view ─change─► snapshot.Builder ─► ir.FromCatalog ─► translate ─► SnapshotCache ─► server (ADS)
//
// The packages:
//   - xds/ir: the gateway model derived from the catalog, plain data with Validate.
//   - xds/translate: pure functions from the model to Envoy v3 listeners, routes, clusters and endpoints.
//   - xds/snapshot: debounced, incremental, per-fleet builds, published only when valid and consistent.
//   - xds/server: ADS over gRPC (state-of-the-world and delta), health, the NACK-loop guard, node logging.
//
// This package composes them: New(Config, catalog view, logger, metrics registry) and Run(ctx). docs/xds.md
// describes what Envoy receives and how to run a fleet against it; envoy/ holds the bootstrap.
package xds
