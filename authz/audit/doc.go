// Package audit records who did what through mcpgw: every ext_authz decision (subject, client, groups, issuer,
// server, version, method, tool, redacted arguments, allow, reason, latency) and every management change through the
// REST API (who, action, resource, name, rev before and after), as one Record type with a Kind.
//
// Records travel through a Batcher: Submit, on the request path, puts a record in a bounded buffer and returns at
// once; Run, on its own goroutine, numbers records with time-ordered IDs, redacts their arguments with a Redactor,
// and writes them to a Sink in batches. The request never waits on the database. A full buffer drops the record,
// counts it and logs a rate-limited warning; a batch the sink keeps refusing is retried with backoff a bounded number
// of times and then counted as failed and logged. Nothing is lost silently: Stats exposes every counter.
//
// Stored argument keys are escaped (EscapeKey) because MongoDB-compatible stores, the embedded one included, refuse
// field names that start with '$' or contain '.'; readers restore them with UnescapeKey.
//
// The package imports no database driver; the store adapter implements Sink and keys records by Record.ID.
package audit
