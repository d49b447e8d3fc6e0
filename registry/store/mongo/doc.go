// Package mongo is the catalog store on MongoDB, DocumentDB, Atlas, or the embedded MongoDB-compatible server
// (FerretDB on SQLite, started in-process) when no URI is configured. One code path serves all of them.
//
// The embedded server lacks transactions and change streams, and on SQLite no read uses an index: a filter of
// exactly {_id: <string>} is evaluated in SQLite, every other one in Go, both over the whole collection (the first
// about ten times faster). The layout follows from that:
//   - every document is keyed by a string _id (the object's key), and hot reads look up by _id alone;
//   - change records are keyed by their sequence number written as a zero-padded decimal string, so a single record
//     is one indexed lookup and the records still sort by sequence;
//   - the sequence is a counter document incremented with findOneAndUpdate;
//   - conditional writes (If-Match) use {_id, rev} filters on a real server, where they are atomic and indexed, and
//     a read-compare-write under a per-key lock on the embedded server, which only this process can reach.
//
// Reads for serving come from in-memory views (registry/view), not from here.
package mongo
