package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mcpgw/mcpgw/registry/catalog"
)

// Versions is the versions sub-resource of one server. A version has no rev of its own: every change rewrites the
// server, so the revs these methods take and return are the server's (its ETag).
type Versions struct {
	c    *Client
	path string
	err  error
}

// ServerVersions addresses the versions of the server named "namespace/name".
func (c *Client) ServerVersions(server string) *Versions {
	p, err := c.Servers().ItemPath(server)
	return &Versions{c: c, path: p + "/versions", err: err}
}

// Path is the escaped path of the versions collection, for calls through Do.
func (v *Versions) Path() string { return v.path }

func (v *Versions) itemPath(version string) (string, error) {
	if v.err != nil {
		return "", v.err
	}
	if !segment(version) {
		return "", catalog.Invalid("version", "a version is required")
	}
	return v.path + "/" + url.PathEscape(version), nil
}

// List returns the server's versions, newest first, and the server's rev.
func (v *Versions) List(ctx context.Context) ([]catalog.ServerVersion, int64, error) {
	if v.err != nil {
		return nil, 0, v.err
	}
	var out struct {
		Items []catalog.ServerVersion `json:"items"`
	}
	resp, err := v.c.Do(ctx, http.MethodGet, v.path, nil, &out)
	if err != nil {
		return nil, 0, err
	}
	return out.Items, resp.Rev, nil
}

// Get returns one version and the server's rev.
func (v *Versions) Get(ctx context.Context, version string) (catalog.ServerVersion, int64, error) {
	p, err := v.itemPath(version)
	if err != nil {
		return catalog.ServerVersion{}, 0, err
	}
	return v.one(ctx, http.MethodGet, p, nil, 0)
}

// Add adds a version to the server and returns it as stored with the server's new rev. A non-zero ifRev makes the
// change conditional on the server's rev; without one the server still refuses to overwrite a concurrent change.
func (v *Versions) Add(ctx context.Context, ver catalog.ServerVersion, ifRev int64) (catalog.ServerVersion, int64, error) {
	return v.add(ctx, ver, ifRev)
}

// AddJSON adds the version encoded in doc, a JSON document sent as it is.
func (v *Versions) AddJSON(ctx context.Context, doc []byte, ifRev int64) (catalog.ServerVersion, int64, error) {
	return v.add(ctx, doc, ifRev)
}

func (v *Versions) add(ctx context.Context, body any, ifRev int64) (catalog.ServerVersion, int64, error) {
	if v.err != nil {
		return catalog.ServerVersion{}, 0, v.err
	}
	return v.one(ctx, http.MethodPost, v.path, body, ifRev)
}

// Replace overwrites the version named by ver.Version.
func (v *Versions) Replace(ctx context.Context, ver catalog.ServerVersion, ifRev int64) (catalog.ServerVersion, int64, error) {
	p, err := v.itemPath(ver.Version)
	if err != nil {
		return catalog.ServerVersion{}, 0, err
	}
	return v.one(ctx, http.MethodPut, p, ver, ifRev)
}

// Delete removes a version. The server refuses (catalog.ErrConflict) to delete its last one.
func (v *Versions) Delete(ctx context.Context, version string, ifRev int64) error {
	p, err := v.itemPath(version)
	if err != nil {
		return err
	}
	_, err = v.c.Do(ctx, http.MethodDelete, p, nil, nil, IfMatch(ifRev))
	return err
}

func (v *Versions) one(ctx context.Context, method, path string, body any, ifRev int64) (catalog.ServerVersion, int64, error) {
	var out catalog.ServerVersion
	resp, err := v.c.Do(ctx, method, path, body, &out, IfMatch(ifRev))
	if err != nil {
		return catalog.ServerVersion{}, 0, err
	}
	return out, resp.Rev, nil
}
