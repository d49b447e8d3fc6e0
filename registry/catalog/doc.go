// Package catalog holds mcpgw's domain model: the governed assets (MCP servers and their versions, A2A agents, skills,
// custom entity types and their entities, virtual servers) and the access data (scopes, group and client mappings),
// their validation rules, the sentinel errors the edges map to answers, and the Store contract the adapters implement.
//
// Every object has a key (see Key functions) that is unique within its Kind and is the store's _id, and a Meta whose Rev
// is the global change-feed sequence number of the object's last write. Revs therefore increase across the whole catalog,
// survive delete-and-recreate, and serve as ETags.
//
// The package imports no framework: no HTTP, no database driver. docs/catalog.md documents the rules enforced here.
package catalog
