// Package client is the typed Go client of the mcpgw registry's REST API (/api/v1), the one mcpctl is built on.
//
// Every call takes a context and answers with the catalog's own types (registry/catalog, authz/audit). The typed
// methods are thin: each one is a call of the generic Do, which any caller can use for endpoints this package does
// not wrap yet (search, authz explain, federation), with the same authentication, error decoding and ETag handling.
//
// Revisions: every catalog object carries the Rev of its last write, and the API uses it as the ETag. Objects the
// client returns have Meta.Rev set; Replace, Patch and Delete take an ifRev that, when non-zero, is sent as If-Match so
// the write only happens if nobody changed the object since it was read (catalog.ErrRevMismatch otherwise).
//
// Errors: a failed call returns an *Error carrying the RFC 9457 problem the API answered with (status, type, title,
// detail, field errors). It matches the catalog's sentinel errors with errors.Is (ErrNotFound, ErrConflict,
// ErrRevMismatch, ErrForbidden, ErrInvalid, ErrMalformed, ErrUnavailable) and, for validation failures, unwraps to a
// *catalog.ValidationError. Transport failures are returned wrapped, as the net/http client reported them.
//
// The package imports no HTTP framework; it speaks net/http and encoding/json only.
package client
