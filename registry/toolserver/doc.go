// Package toolserver is the airegistry-tools MCP server: the registry's catalog as tools for coding assistants and
// agents, served by the registry at /airegistry-tools/mcp (and through the gateway at the same path).
//
// Tools (all read-only):
//
//   - search_registry: hybrid search over servers, agents, skills and custom entities (package search), with the
//     tools of each server that matched;
//   - find_tool: a need in plain words → the best tools to call, each with the server that has it and its
//     gateway endpoint;
//   - list_servers, list_agents, list_skills: pages of summaries, by namespace and tag;
//   - get_server: one server, secrets removed and tools cut to those the caller may call;
//   - get_skill_content: a skill's SKILL.md.
//
// Every answer is computed for the caller of the request (the registry API authenticated the bearer token and the
// endpoint package carries the principal to each tool call) from the same visible set the REST API uses
// (registry/access), so a tool never reveals what the caller could not find through the API: an asset the caller
// may not see answers "not found", exactly like one that does not exist, and search filters before ranking.
//
// Transport: Streamable HTTP in both revisions go-sdk v1.8.0 implements (see package endpoint and
// docs/mcp-endpoints.md): sessions (2025-11-25 and earlier) and the stateless 2026-07-28 revision.
package toolserver
