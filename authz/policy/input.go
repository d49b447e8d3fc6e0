package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// The input documents are built as AST values directly: no reflection and
// no JSON round trip on the request path.

var (
	keyPrincipal  = ast.StringTerm("principal")
	keyIssuer     = ast.StringTerm("issuer")
	keySubject    = ast.StringTerm("subject")
	keyClientID   = ast.StringTerm("client_id")
	keyGroups     = ast.StringTerm("groups")
	keyScopes     = ast.StringTerm("scopes")
	keyTarget     = ast.StringTerm("target")
	keyKind       = ast.StringTerm("kind")
	keyServer     = ast.StringTerm("server")
	keyVersion    = ast.StringTerm("version")
	keyMCP        = ast.StringTerm("mcp")
	keyMethod     = ast.StringTerm("method")
	keyName       = ast.StringTerm("name")
	keyNameKind   = ast.StringTerm("name_kind")
	keyArguments  = ast.StringTerm("arguments")
	keyHTTPMethod = ast.StringTerm("http_method")
	keyAssets     = ast.StringTerm("assets")
	keyVisibility = ast.StringTerm("visibility")
	keyIndex      = ast.StringTerm("index")
	keyNames      = ast.StringTerm("names")
	keyNamespaces = ast.StringTerm("namespaces")
	keyTools      = ast.StringTerm("tools")
	keyManage     = ast.StringTerm("manage")
	keyAction     = ast.StringTerm("action")
)

func stringsTerm(ss []string) *ast.Term {
	terms := make([]*ast.Term, len(ss))
	for i, s := range ss {
		terms[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(terms...)
}

func (p Principal) term() *ast.Term {
	return ast.ObjectTerm(
		ast.Item(keyIssuer, ast.StringTerm(p.Issuer)),
		ast.Item(keySubject, ast.StringTerm(p.Subject)),
		ast.Item(keyClientID, ast.StringTerm(p.ClientID)),
		ast.Item(keyGroups, stringsTerm(p.Groups)),
		ast.Item(keyScopes, stringsTerm(p.Scopes)),
	)
}

// callKinds are the target kinds a gateway route can carry.
var callKinds = []string{KindServer, KindVirtual}

// value validates in and builds the decision input document.
func (in Input) value() (ast.Value, error) {
	kind := in.Target.Kind
	if kind == "" {
		kind = KindServer
	}
	if !slices.Contains(callKinds, kind) {
		return nil, fmt.Errorf("check target kind %q: want %q or %q: %w", in.Target.Kind, KindServer, KindVirtual, ErrInvalidInput)
	}
	if in.Target.Server == "" {
		return nil, fmt.Errorf("check target: empty server: %w", ErrInvalidInput)
	}
	if in.MCP.Method == "" && in.MCP.HTTPMethod == "" {
		return nil, fmt.Errorf("check mcp: neither a JSON-RPC method nor an HTTP method: %w", ErrInvalidInput)
	}
	args := ast.NewObject()
	if len(in.MCP.Arguments) > 0 {
		v, err := ast.InterfaceToValue(in.MCP.Arguments)
		if err != nil {
			return nil, fmt.Errorf("convert arguments: %w: %w", err, ErrInvalidInput)
		}
		obj, ok := v.(ast.Object)
		if !ok {
			return nil, fmt.Errorf("convert arguments: not an object: %w", ErrInvalidInput)
		}
		args = obj
	}
	return ast.NewObject(
		ast.Item(keyPrincipal, in.Principal.term()),
		ast.Item(keyTarget, ast.ObjectTerm(
			ast.Item(keyKind, ast.StringTerm(kind)),
			ast.Item(keyServer, ast.StringTerm(in.Target.Server)),
			ast.Item(keyVersion, ast.StringTerm(in.Target.Version)),
		)),
		ast.Item(keyMCP, ast.ObjectTerm(
			ast.Item(keyMethod, ast.StringTerm(in.MCP.Method)),
			ast.Item(keyName, ast.StringTerm(in.MCP.Name)),
			ast.Item(keyNameKind, ast.StringTerm(in.MCP.NameKind)),
			ast.Item(keyArguments, ast.NewTerm(args)),
			ast.Item(keyHTTPMethod, ast.StringTerm(in.MCP.HTTPMethod)),
		)),
	), nil
}

// AssetBatch is a batch of assets prepared once for many visibility
// evaluations: the registry builds one per catalog version and evaluates it
// for each distinct scope set, so the (dominant) cost of converting the
// assets is paid once. It is immutable and safe for concurrent use.
type AssetBatch struct {
	assets []Asset
	list   *ast.Term
	index  *ast.Term
}

// NewAssetBatch validates and converts assets (copied): the asset list plus
// their positions grouped by name, namespace (the text before the first "/")
// and visibility, so that the policy looks assets up from the caller's
// grants instead of scanning the batch.
func NewAssetBatch(assets []Asset) (*AssetBatch, error) {
	terms := make([]*ast.Term, len(assets))
	names, namespaces, visibility := positions{}, positions{}, positions{}
	for i, a := range assets {
		if a.Kind == "" || a.Name == "" {
			return nil, fmt.Errorf("check assets[%d]: empty kind or name: %w", i, ErrInvalidInput)
		}
		terms[i] = ast.ObjectTerm(
			ast.Item(keyKind, ast.StringTerm(a.Kind)),
			ast.Item(keyName, ast.StringTerm(a.Name)),
			ast.Item(keyVisibility, ast.StringTerm(a.Visibility)),
			ast.Item(keyTools, stringsTerm(a.Tools)),
		)
		pos := ast.InternedTerm(i)
		names.add(a.Name, pos)
		if ns, _, ok := strings.Cut(a.Name, "/"); ok && ns != "" {
			namespaces.add(ns, pos)
		}
		visibility.add(a.Visibility, pos)
	}
	return &AssetBatch{
		assets: slices.Clone(assets),
		list:   ast.ArrayTerm(terms...),
		index: ast.ObjectTerm(
			ast.Item(keyNames, names.term()),
			ast.Item(keyNamespaces, namespaces.term()),
			ast.Item(keyVisibility, visibility.term()),
		),
	}, nil
}

// Len is the number of assets in the batch.
func (b *AssetBatch) Len() int { return len(b.assets) }

func (b *AssetBatch) value(p Principal) ast.Value {
	return ast.NewObject(
		ast.Item(keyPrincipal, p.term()),
		ast.Item(keyAssets, b.list),
		ast.Item(keyIndex, b.index),
	)
}

// positions groups asset positions by a key.
type positions map[string][]*ast.Term

func (p positions) add(key string, pos *ast.Term) { p[key] = append(p[key], pos) }

func (p positions) term() *ast.Term {
	obj := ast.NewObjectWithCapacity(len(p))
	for k, v := range p {
		obj.Insert(ast.StringTerm(k), ast.ArrayTerm(v...))
	}
	return ast.NewTerm(obj)
}

var manageActions = []Action{ActionCreate, ActionUpdate, ActionDelete}

// manageValue builds the management input document.
func manageValue(p Principal, action Action, kind, name string) (ast.Value, error) {
	if !slices.Contains(manageActions, action) {
		return nil, fmt.Errorf("check action %q: want create, update or delete: %w", action, ErrInvalidInput)
	}
	if kind == "" || name == "" {
		return nil, fmt.Errorf("check managed entry: empty kind or name: %w", ErrInvalidInput)
	}
	return ast.NewObject(
		ast.Item(keyPrincipal, p.term()),
		ast.Item(keyManage, ast.ObjectTerm(
			ast.Item(keyAction, ast.StringTerm(string(action))),
			ast.Item(keyKind, ast.StringTerm(kind)),
			ast.Item(keyName, ast.StringTerm(name)),
		)),
	), nil
}

// principalValue builds the input document for effective_scopes.
func principalValue(p Principal) ast.Value {
	return ast.NewObject(ast.Item(keyPrincipal, p.term()))
}
