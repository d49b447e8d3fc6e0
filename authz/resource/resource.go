// Package resource describes the gateway's MCP endpoints as OAuth 2.0 protected resources (RFC 9728): where each
// endpoint lives under the gateway's public base URL, where its metadata document lives, and an http.Handler that
// serves those documents.
//
// An MCP client that meets a 401 follows the resource_metadata URL of the WWW-Authenticate challenge (ext_authz
// puts it there), reads which authorization servers protect the endpoint, and starts OAuth against one of them.
// RFC 9728 §3.1 builds the metadata URL by inserting "/.well-known/oauth-protected-resource" between the host and
// the path of the resource's URL, so both URLs come from one Base and always agree; clients check that the
// document's "resource" equals the URL they called.
//
// The package is plain net/http and imports no framework: the registry mounts Handler as a public route.
package resource

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// WellKnownPath is the RFC 9728 well-known URI suffix.
const WellKnownPath = "/.well-known/oauth-protected-resource"

// Kinds of gateway endpoint, as the route's ext_authz context_extensions name them.
const (
	// KindServer is an MCP server at /mcp/{namespace}/{name}; the name is "namespace/name".
	KindServer = "server"
	// KindVirtual is a virtual server at /virtual/{name}.
	KindVirtual = "virtual"
	// KindRegistryTools is the registry's own MCP server at /airegistry-tools/mcp; its name is not part of the URL.
	KindRegistryTools = "registry-tools"
)

// RegistryToolsPath is the path of the airegistry-tools MCP endpoint.
const RegistryToolsPath = "/airegistry-tools/mcp"

// ErrUnknownKind means a kind is none of KindServer, KindVirtual and KindRegistryTools.
var ErrUnknownKind = errors.New("unknown resource kind")

// ErrInvalidName means a name cannot be part of an endpoint URL: empty, a server name that is not
// "namespace/name", or a segment that is "." or "..".
var ErrInvalidName = errors.New("invalid resource name")

// ErrInvalidConfig is matched by every error Config.Validate and ParseBase return.
var ErrInvalidConfig = errors.New("invalid resource config")

// Base is the gateway's public base URL, parsed once: an origin and an optional path prefix.
type Base struct {
	origin string // scheme://host[:port]
	prefix string // "" or "/some/prefix" without a trailing slash
}

// ParseBase parses the gateway's public base URL: an absolute http or https URL with a host, optionally with a
// path prefix under which Envoy serves the gateway, and no user info, query or fragment. A trailing slash is
// dropped.
func ParseBase(raw string) (Base, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Base{}, fmt.Errorf("parse public base URL: %w: %w", ErrInvalidConfig, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return Base{}, fmt.Errorf("check public base URL %q: want an absolute http(s) URL: %w", raw, ErrInvalidConfig)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawFragment != "" {
		return Base{}, fmt.Errorf("check public base URL %q: user info, query and fragment are not allowed: %w", raw,
			ErrInvalidConfig)
	}
	prefix := strings.TrimRight(u.EscapedPath(), "/")
	for seg := range strings.SplitSeq(strings.TrimPrefix(prefix, "/"), "/") {
		if seg == "." || seg == ".." || (seg == "" && prefix != "") {
			return Base{}, fmt.Errorf("check public base URL %q: path %q is not clean: %w", raw, u.Path, ErrInvalidConfig)
		}
	}
	return Base{origin: strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host), prefix: prefix}, nil
}

// String returns the base URL without a trailing slash: the resource identifier of the gateway as a whole.
func (b Base) String() string { return b.origin + b.prefix }

// IsZero reports whether b was never parsed.
func (b Base) IsZero() bool { return b.origin == "" }

// Path returns the path of an endpoint relative to the base: "/mcp/{namespace}/{name}", "/virtual/{name}" or
// RegistryToolsPath. Name segments are percent-escaped.
func Path(kind, name string) (string, error) {
	switch kind {
	case KindServer:
		ns, n, ok := strings.Cut(name, "/")
		if !ok || !segmentOK(ns) || !segmentOK(n) {
			return "", fmt.Errorf("build path of server %q: want namespace/name: %w", name, ErrInvalidName)
		}
		return "/mcp/" + url.PathEscape(ns) + "/" + url.PathEscape(n), nil
	case KindVirtual:
		if !segmentOK(name) {
			return "", fmt.Errorf("build path of virtual server %q: %w", name, ErrInvalidName)
		}
		return "/virtual/" + url.PathEscape(name), nil
	case KindRegistryTools:
		return RegistryToolsPath, nil
	}
	return "", fmt.Errorf("build path of %q: kind %q: %w", name, kind, ErrUnknownKind)
}

func segmentOK(s string) bool { return s != "" && s != "." && s != ".." && !strings.Contains(s, "/") }

// ResourceURL returns the public URL of an endpoint: the resource identifier clients request tokens for.
func (b Base) ResourceURL(kind, name string) (string, error) {
	p, err := Path(kind, name)
	if err != nil {
		return "", err
	}
	return b.origin + b.prefix + p, nil
}

// MetadataURL returns the URL of an endpoint's metadata document, the resource_metadata of its 401 challenge.
func (b Base) MetadataURL(kind, name string) (string, error) {
	p, err := Path(kind, name)
	if err != nil {
		return "", err
	}
	return b.origin + WellKnownPath + b.prefix + p, nil
}

// RootMetadataURL returns the URL of the metadata document of the gateway as a whole.
func (b Base) RootMetadataURL() string { return b.origin + WellKnownPath + b.prefix }
