package toolserver

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcpgw/mcpgw/registry/catalog"
	"github.com/mcpgw/mcpgw/registry/search"
	"github.com/mcpgw/mcpgw/registry/view"
)

// Limits of the tools' arguments.
const (
	DefaultListLimit = 20
	MaxListLimit     = 100
	DefaultFindLimit = 5
	MaxFindLimit     = 20
)

// ErrNotFound marks an asset that does not exist or that the caller may not see; the two are indistinguishable.
var ErrNotFound = errors.New("not found")

// NotFoundError names the asset that was not found. Its message is the tool's isError answer.
type NotFoundError struct {
	Kind, Name string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.Name) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// ErrArgument marks a tool argument the caller must fix.
var ErrArgument = errors.New("invalid argument")

// ArgumentError names the argument and what is wrong with it. Its message is the tool's isError answer.
type ArgumentError struct {
	Argument, Reason string
}

func (e *ArgumentError) Error() string { return "invalid argument " + e.Argument + ": " + e.Reason }

// Is makes errors.Is(err, ErrArgument) true.
func (e *ArgumentError) Is(target error) bool { return target == ErrArgument }

// The tools' inputs and outputs. Output schemas are inferred from these types, so slices that are always present
// are never nil (nil would encode as null).

// SearchIn are search_registry's arguments.
type SearchIn struct {
	Query string   `json:"query" jsonschema:"what to look for: a name, keywords or a sentence"`
	Types []string `json:"types,omitempty" jsonschema:"only these asset types (server, agent, skill, entity); all when empty"`
	// Status widens or narrows the statuses searched, as the REST search's status parameter does.
	Status []string `json:"status,omitempty" jsonschema:"only assets in these statuses (enabled, deprecated, disabled, security-pending); enabled only when empty"`
	Limit  int      `json:"limit,omitempty" jsonschema:"how many results, 1 to 100 (default 10)"`
}

// SearchOut is search_registry's answer.
type SearchOut struct {
	Results []SearchResult `json:"results"`
	Mode    string         `json:"mode" jsonschema:"hybrid when semantic ranking took part, lexical when it could not"`
}

// SearchResult is one asset found.
type SearchResult struct {
	Type        string  `json:"type" jsonschema:"server, agent, skill or entity"`
	Name        string  `json:"name"`
	EntityType  string  `json:"entity_type,omitempty" jsonschema:"the custom type of an entity"`
	Title       string  `json:"title,omitempty"`
	Description string  `json:"description,omitempty"`
	Status      string  `json:"status"`
	Score       float64 `json:"score" jsonschema:"relevance from 0 to 1"`
	Endpoint    string  `json:"endpoint,omitempty" jsonschema:"the gateway URL of a server's MCP endpoint"`
	// MatchedTools are a server's tools that matched, limited to those the caller may call.
	MatchedTools  []search.Match `json:"matched_tools,omitempty" jsonschema:"tools of a server that match, best first"`
	MatchedSkills []search.Match `json:"matched_skills,omitempty" jsonschema:"skills of an agent that match, best first"`
}

// FindToolIn are find_tool's arguments.
type FindToolIn struct {
	Need  string `json:"need" jsonschema:"what you need to get done, in plain words (for example: check the balance of an account)"`
	Limit int    `json:"limit,omitempty" jsonschema:"how many tools, 1 to 20 (default 5)"`
}

// FindToolOut is find_tool's answer.
type FindToolOut struct {
	Tools []FoundTool `json:"tools" jsonschema:"the best tools first"`
}

// FoundTool is a tool the caller may call and the server that has it.
type FoundTool struct {
	Tool        string         `json:"tool"`
	Title       string         `json:"title,omitempty"`
	Description string         `json:"description,omitempty"`
	InputSchema map[string]any `json:"input_schema,omitempty" jsonschema:"the tool's arguments (JSON Schema)"`
	Server      string         `json:"server" jsonschema:"the MCP server that has the tool (namespace/name)"`
	ServerTitle string         `json:"server_title,omitempty"`
	Version     string         `json:"version,omitempty" jsonschema:"the server version the definition comes from"`
	Endpoint    string         `json:"endpoint,omitempty" jsonschema:"the gateway URL of the server's MCP endpoint"`
	Score       float64        `json:"score" jsonschema:"relevance from 0 to 1"`
}

// ListIn are the arguments of the list tools.
type ListIn struct {
	Namespace string `json:"namespace,omitempty" jsonschema:"only assets in this namespace (the part of the name before the slash)"`
	Tag       string `json:"tag,omitempty" jsonschema:"only assets with this tag"`
	Cursor    string `json:"cursor,omitempty" jsonschema:"next_cursor of the previous page"`
	Limit     int    `json:"limit,omitempty" jsonschema:"page size, 1 to 100 (default 20)"`
}

// ServerSummary is a server in list_servers.
type ServerSummary struct {
	Name        string   `json:"name"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	Status      string   `json:"status"`
	Version     string   `json:"version,omitempty" jsonschema:"the default version"`
	Transport   string   `json:"transport,omitempty" jsonschema:"streamable-http, sse or stdio (stdio servers run on your machine)"`
	Endpoint    string   `json:"endpoint,omitempty" jsonschema:"the gateway URL of the server's MCP endpoint"`
	Tools       []string `json:"tools,omitempty" jsonschema:"tools of the default version you may call"`
}

// ListServersOut is list_servers' answer.
type ListServersOut struct {
	Servers    []ServerSummary `json:"servers"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// AgentSummary is an agent in list_agents.
type AgentSummary struct {
	Name        string         `json:"name"`
	Title       string         `json:"title,omitempty"`
	Description string         `json:"description,omitempty"`
	Tags        []string       `json:"tags,omitempty"`
	Status      string         `json:"status"`
	URL         string         `json:"url" jsonschema:"the agent's A2A endpoint"`
	Version     string         `json:"version,omitempty"`
	Skills      []AgentSkillID `json:"skills,omitempty"`
}

// AgentSkillID names one skill of an agent card.
type AgentSkillID struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// ListAgentsOut is list_agents' answer.
type ListAgentsOut struct {
	Agents     []AgentSummary `json:"agents"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// SkillSummary is a skill in list_skills.
type SkillSummary struct {
	Name        string               `json:"name"`
	Title       string               `json:"title,omitempty"`
	Description string               `json:"description,omitempty"`
	Tags        []string             `json:"tags,omitempty"`
	Status      string               `json:"status"`
	Source      *catalog.SkillSource `json:"source,omitempty"`
}

// ListSkillsOut is list_skills' answer.
type ListSkillsOut struct {
	Skills     []SkillSummary `json:"skills"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// NameIn names one asset.
type NameIn struct {
	Name string `json:"name" jsonschema:"the asset's name: namespace/name"`
}

// SkillContentOut is get_skill_content's answer; the SKILL.md is also the result's text content.
type SkillContentOut struct {
	Name        string                   `json:"name"`
	Description string                   `json:"description,omitempty"`
	FrontMatter catalog.SkillFrontMatter `json:"front_matter"`
	Content     string                   `json:"content" jsonschema:"the SKILL.md document"`
}

func readOnly() *mcp.ToolAnnotations {
	f := false
	return &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: &f}
}

// addTools registers the tools. Schemas are inferred from the argument types; search_registry's types are
// constrained to the searchable types so a wrong one fails validation with the allowed values in the message.
func (s *Server) addTools() error {
	searchSchema, err := jsonschema.For[SearchIn](nil)
	if err != nil {
		return fmt.Errorf("infer search_registry schema: %w", err)
	}
	types := make([]any, len(search.Types))
	for i, t := range search.Types {
		types[i] = string(t)
	}
	searchSchema.Properties["types"].Items.Enum = types
	searchSchema.Properties["status"].Items.Enum = []any{string(catalog.StatusEnabled), string(catalog.StatusDeprecated),
		string(catalog.StatusDisabled), string(catalog.StatusSecurityPending)}
	limit := func(p *jsonschema.Schema, max int) { p.Minimum, p.Maximum = ptr(1.0), ptr(float64(max)) }
	limit(searchSchema.Properties["limit"], search.MaxLimit)
	findSchema, err := jsonschema.For[FindToolIn](nil)
	if err != nil {
		return fmt.Errorf("infer find_tool schema: %w", err)
	}
	limit(findSchema.Properties["limit"], MaxFindLimit)
	listSchema, err := jsonschema.For[ListIn](nil)
	if err != nil {
		return fmt.Errorf("infer list schema: %w", err)
	}
	limit(listSchema.Properties["limit"], MaxListLimit)

	mcp.AddTool(s.mcp, &mcp.Tool{Name: "search_registry", Title: "Search the registry", Annotations: readOnly(),
		Description: "Search the registry's MCP servers, A2A agents, agent skills and custom entities by name, keywords " +
			"or a sentence. Returns the best matches you may see, with the tools of each server that matched; deprecated, disabled " +
			"and security-pending assets only when status asks for them.",
		InputSchema: searchSchema}, s.searchRegistry)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "find_tool", Title: "Find a tool", Annotations: readOnly(),
		Description: "Find the tools that do what you need, described in plain words. Returns the best tools you may " +
			"call, each with its description and arguments, the MCP server that has it and that server's endpoint.",
		InputSchema: findSchema}, s.findTool)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "list_servers", Title: "List MCP servers", Annotations: readOnly(),
		Description: "List the MCP servers you may see, optionally in one namespace or with one tag; pass next_cursor " +
			"back as cursor for the next page.", InputSchema: listSchema}, s.listServers)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "list_agents", Title: "List A2A agents", Annotations: readOnly(),
		Description: "List the A2A agents you may see, with their skills, optionally in one namespace or with one tag; " +
			"pass next_cursor back as cursor for the next page.", InputSchema: listSchema}, s.listAgents)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "list_skills", Title: "List agent skills", Annotations: readOnly(),
		Description: "List the agent skills (SKILL.md) you may see, optionally in one namespace or with one tag; pass " +
			"next_cursor back as cursor for the next page. get_skill_content returns a skill's document.",
		InputSchema: listSchema}, s.listSkills)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "get_server", Title: "Get an MCP server", Annotations: readOnly(),
		Description: "Get one MCP server by name (namespace/name): its versions, transports, how to reach or launch it, " +
			"and the tools you may call."}, s.getServer)
	mcp.AddTool(s.mcp, &mcp.Tool{Name: "get_skill_content", Title: "Get a skill's SKILL.md", Annotations: readOnly(),
		Description: "Get the SKILL.md document of an agent skill by name (namespace/name)."}, s.getSkillContent)
	return nil
}

func ptr[T any](v T) *T { return &v }

func (s *Server) searchRegistry(ctx context.Context, req *mcp.CallToolRequest, in SearchIn) (*mcp.CallToolResult, SearchOut, error) {
	v, err := s.caller(ctx, req)
	if err != nil {
		return nil, SearchOut{}, err
	}
	q := search.Query{Text: in.Query, Limit: in.Limit}
	for _, t := range in.Types {
		typ, ok := search.ParseType(t)
		if !ok {
			return nil, SearchOut{}, &ArgumentError{Argument: "types", Reason: fmt.Sprintf("%q is not one of server, agent, skill, entity", t)}
		}
		q.Types = append(q.Types, typ)
	}
	for _, st := range in.Status {
		q.Statuses = append(q.Statuses, catalog.Status(st))
	}
	res, err := s.search.Search(ctx, q, v)
	if err != nil {
		return nil, SearchOut{}, s.searchFailed(err)
	}
	out := SearchOut{Results: make([]SearchResult, 0, len(res.Results)), Mode: res.Mode}
	for _, r := range res.Results {
		sr := SearchResult{Type: string(r.Type), Name: r.Name, EntityType: r.EntityType, Title: r.Title,
			Description: r.Description, Status: string(r.Status), Score: r.Score,
			MatchedTools: r.MatchedTools, MatchedSkills: r.MatchedSkills}
		if r.Type == search.TypeServer {
			if o, ok := s.cat.Get(catalog.KindServer, r.Name); ok {
				sr.Endpoint = s.endpointOf(o.(*catalog.Server))
			}
		}
		out.Results = append(out.Results, sr)
	}
	return nil, out, nil
}

// searchFailed turns a search error into the caller's answer: its own mistake as an argument error (named as the
// tool names its arguments), anything else as a JSON-RPC internal error whose details stay in the log.
func (s *Server) searchFailed(err error) error {
	var qe *search.QueryError
	if errors.As(err, &qe) {
		arg := qe.Field
		if arg == "q" {
			arg = "query"
		}
		return &ArgumentError{Argument: arg, Reason: qe.Reason}
	}
	s.log.Error("search", "err", err)
	return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "the search failed; retry later"}
}

// findTool ranks tools for a need: the servers that match it, through the search index (visibility applied before
// ranking), and within each the tools that match and the caller may call. A tool's score weighs its own match
// above its server's, so the right tool of a less prominent server beats a stray tool of a famous one.
func (s *Server) findTool(ctx context.Context, req *mcp.CallToolRequest, in FindToolIn) (*mcp.CallToolResult, FindToolOut, error) {
	v, err := s.caller(ctx, req)
	if err != nil {
		return nil, FindToolOut{}, err
	}
	limit := in.Limit
	if limit == 0 {
		limit = DefaultFindLimit
	}
	if limit < 1 || limit > MaxFindLimit {
		return nil, FindToolOut{}, &ArgumentError{Argument: "limit", Reason: fmt.Sprintf("must be from 1 to %d", MaxFindLimit)}
	}
	res, err := s.search.Search(ctx, search.Query{Text: in.Need, Types: []search.Type{search.TypeServer},
		Limit: min(search.MaxLimit, max(10, 3*limit))}, v)
	if err != nil {
		err = s.searchFailed(err)
		if ae := (*ArgumentError)(nil); errors.As(err, &ae) && ae.Argument == "query" {
			ae.Argument = "need"
		}
		return nil, FindToolOut{}, err
	}
	out := FindToolOut{Tools: []FoundTool{}}
	for _, r := range res.Results {
		o, ok := s.cat.Get(catalog.KindServer, r.Name)
		if !ok {
			continue // deleted since the index saw it
		}
		srv := o.(*catalog.Server)
		for _, m := range r.MatchedTools {
			ft := FoundTool{Tool: m.Name, Server: srv.Name, ServerTitle: srv.Title, Endpoint: s.endpointOf(srv),
				Score: math.Round((0.6*m.Score+0.4*r.Score)*1000) / 1000}
			if ver, t := toolDefinition(srv, m.Name); t != nil {
				ft.Title, ft.Description, ft.Version = t.Title, t.Description, ver
				if len(t.InputSchema) > 0 {
					_ = json.Unmarshal(t.InputSchema, &ft.InputSchema) // validated as a JSON object at registration
				}
			}
			out.Tools = append(out.Tools, ft)
		}
	}
	slices.SortStableFunc(out.Tools, func(a, b FoundTool) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Or(strings.Compare(a.Server, b.Server), strings.Compare(a.Tool, b.Tool))
	})
	if len(out.Tools) > limit {
		out.Tools = out.Tools[:limit]
	}
	return nil, out, nil
}

// toolDefinition returns a tool's definition from the default version, or else from the newest version that has
// it, with that version.
func toolDefinition(srv *catalog.Server, name string) (string, *catalog.Tool) {
	find := func(v *catalog.ServerVersion) *catalog.Tool {
		for i := range v.Tools {
			if v.Tools[i].Name == name {
				return &v.Tools[i]
			}
		}
		return nil
	}
	if d := srv.DefaultVersion(); d != nil {
		if t := find(d); t != nil {
			return d.Version, t
		}
	}
	for i := range srv.Versions {
		if t := find(&srv.Versions[i]); t != nil {
			return srv.Versions[i].Version, t
		}
	}
	return "", nil
}

func (s *Server) listServers(ctx context.Context, req *mcp.CallToolRequest, in ListIn) (*mcp.CallToolResult, ListServersOut, error) {
	v, err := s.caller(ctx, req)
	if err != nil {
		return nil, ListServersOut{}, err
	}
	items, next, err := s.list(catalog.KindServer, in, v)
	if err != nil {
		return nil, ListServersOut{}, err
	}
	out := ListServersOut{Servers: make([]ServerSummary, 0, len(items)), NextCursor: next}
	for _, o := range items {
		out.Servers = append(out.Servers, s.serverSummary(o.(*catalog.Server), v.Tools(o.Key())))
	}
	return nil, out, nil
}

func (s *Server) serverSummary(srv *catalog.Server, keep func(string) bool) ServerSummary {
	sum := ServerSummary{Name: srv.Name, Title: srv.Title, Description: srv.Description, Tags: srv.Tags,
		Status: string(srv.Status), Endpoint: s.endpointOf(srv)}
	ver := srv.DefaultVersion()
	if ver == nil && len(srv.Versions) > 0 {
		ver = &srv.Versions[0] // newest: a stdio-only server has no default
	}
	if ver != nil {
		sum.Version, sum.Transport = ver.Version, string(ver.Transport)
		for _, t := range ver.Tools {
			if keep == nil || keep(t.Name) {
				sum.Tools = append(sum.Tools, t.Name)
			}
		}
	}
	return sum
}

func (s *Server) listAgents(ctx context.Context, req *mcp.CallToolRequest, in ListIn) (*mcp.CallToolResult, ListAgentsOut, error) {
	v, err := s.caller(ctx, req)
	if err != nil {
		return nil, ListAgentsOut{}, err
	}
	items, next, err := s.list(catalog.KindAgent, in, v)
	if err != nil {
		return nil, ListAgentsOut{}, err
	}
	out := ListAgentsOut{Agents: make([]AgentSummary, 0, len(items)), NextCursor: next}
	for _, o := range items {
		a := o.(*catalog.Agent)
		sum := AgentSummary{Name: a.Name, Title: a.Title, Description: a.Description, Tags: a.Tags,
			Status: string(a.Status), URL: a.Card.URL, Version: a.Card.Version}
		for _, sk := range a.Card.Skills {
			sum.Skills = append(sum.Skills, AgentSkillID{ID: sk.ID, Name: sk.Name, Description: sk.Description})
		}
		out.Agents = append(out.Agents, sum)
	}
	return nil, out, nil
}

func (s *Server) listSkills(ctx context.Context, req *mcp.CallToolRequest, in ListIn) (*mcp.CallToolResult, ListSkillsOut, error) {
	v, err := s.caller(ctx, req)
	if err != nil {
		return nil, ListSkillsOut{}, err
	}
	items, next, err := s.list(catalog.KindSkill, in, v)
	if err != nil {
		return nil, ListSkillsOut{}, err
	}
	out := ListSkillsOut{Skills: make([]SkillSummary, 0, len(items)), NextCursor: next}
	for _, o := range items {
		sk := o.(*catalog.Skill)
		out.Skills = append(out.Skills, SkillSummary{Name: sk.Name, Title: sk.Title, Description: sk.Description,
			Tags: sk.Tags, Status: string(sk.Status), Source: sk.Source})
	}
	return nil, out, nil
}

// list reads one page of a kind the caller may see, as the REST API's listings do: the caller's visible keys bound
// the walk, and the filters run before the page limit.
func (s *Server) list(kind catalog.Kind, in ListIn, v search.Visibility) ([]catalog.Object, string, error) {
	page := view.Page{Limit: in.Limit}
	if page.Limit == 0 {
		page.Limit = DefaultListLimit
	}
	if page.Limit < 1 || page.Limit > MaxListLimit {
		return nil, "", &ArgumentError{Argument: "limit", Reason: fmt.Sprintf("must be from 1 to %d", MaxListLimit)}
	}
	if in.Namespace != "" {
		if _, _, err := catalog.SplitName(in.Namespace + "/x"); err != nil {
			return nil, "", &ArgumentError{Argument: "namespace", Reason: "is not a valid namespace"}
		}
		page.Prefix = in.Namespace + "/"
	}
	if in.Cursor != "" {
		after, ok := decodeCursor(in.Cursor)
		if !ok {
			return nil, "", &ArgumentError{Argument: "cursor", Reason: "is not a next_cursor this server returned"}
		}
		page.After = after
	}
	tag := strings.ToLower(strings.TrimSpace(in.Tag))
	page.Keys = v.Keys(kind)
	page.Match = func(o catalog.Object) bool {
		if page.Keys == nil && !v.Sees(kind, o.Key()) {
			return false
		}
		return tag == "" || slices.Contains(tags(o), tag)
	}
	items, more := s.cat.List(kind, page)
	var next string
	if more && len(items) > 0 {
		next = encodeCursor(items[len(items)-1].Key())
	}
	return items, next, nil
}

func tags(o catalog.Object) []string {
	switch x := o.(type) {
	case *catalog.Server:
		return x.Tags
	case *catalog.Agent:
		return x.Tags
	case *catalog.Skill:
		return x.Tags
	}
	return nil
}

// Cursors are opaque to callers: the last key of the page, tagged so a foreign string is refused.
const cursorTag = "ts1:"

func encodeCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorTag + key))
}

func decodeCursor(c string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", false
	}
	return strings.CutPrefix(string(b), cursorTag)
}

// get returns an object the caller may see, or a NotFoundError for one that is missing, invisible or misnamed
// (a malformed name is an argument error).
func (s *Server) get(kind catalog.Kind, noun, name string, v search.Visibility) (catalog.Object, error) {
	if _, _, err := catalog.SplitName(name); err != nil {
		return nil, &ArgumentError{Argument: "name", Reason: "must be namespace/name"}
	}
	o, ok := s.cat.Get(kind, name)
	if !ok || !v.Sees(kind, name) {
		return nil, &NotFoundError{Kind: noun, Name: name}
	}
	return o, nil
}

func (s *Server) getServer(ctx context.Context, req *mcp.CallToolRequest, in NameIn) (*mcp.CallToolResult, any, error) {
	v, err := s.caller(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	o, err := s.get(catalog.KindServer, "server", in.Name, v)
	if err != nil {
		return nil, nil, err
	}
	return nil, visibleServer(o.(*catalog.Server), v.Tools(in.Name)), nil
}

// visibleServer is a server as the caller may read it: secret references removed, tools cut to those it may call.
func visibleServer(srv *catalog.Server, keep func(string) bool) *catalog.Server {
	out := srv.Redacted()
	if keep == nil {
		return out
	}
	for i := range out.Versions {
		var tools []catalog.Tool
		for _, t := range out.Versions[i].Tools {
			if keep(t.Name) {
				tools = append(tools, t)
			}
		}
		out.Versions[i].Tools = tools
	}
	return out
}

func (s *Server) getSkillContent(ctx context.Context, req *mcp.CallToolRequest, in NameIn) (*mcp.CallToolResult, SkillContentOut, error) {
	v, err := s.caller(ctx, req)
	if err != nil {
		return nil, SkillContentOut{}, err
	}
	o, err := s.get(catalog.KindSkill, "skill", in.Name, v)
	if err != nil {
		return nil, SkillContentOut{}, err
	}
	sk := o.(*catalog.Skill)
	res := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: sk.Content}}}
	return res, SkillContentOut{Name: sk.Name, Description: sk.Description, FrontMatter: sk.FrontMatter, Content: sk.Content}, nil
}
