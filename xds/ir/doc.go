// Package ir is the gateway model the xDS translator consumes: plain data derived from the catalog, with every
// decision about what Envoy should do already made (which versions serve, which are pinned, deprecated or retired,
// which servers are blocked and why, which fleets see which server) and every upstream URL already parsed.
//
// The pipeline is catalog → ir (this package) → translate → snapshot → server, after Envoy Gateway's
// internal/ir → internal/xds/translator → internal/xds/cache. Keeping the model separate lets the translator stay
// a set of pure functions over validated data, and lets a later scan state or new catalog field change only
// FromCatalog.
//
// Invariants that Validate enforces and the translator relies on:
//   - a server name is "namespace/name" in the catalog's alphabet, unique in a Model;
//   - a server that is not Blocked has at most one Default version, and that version serves (it is not retired);
//   - every version that serves has at least one Endpoint, and all its endpoints share the scheme and path;
//   - version strings are unique within a server.
//
// Errors are *Error values wrapping ErrInvalid, naming the server and the field.
//
// The package imports no gRPC, go-control-plane, gin or mongo-driver.
package ir
