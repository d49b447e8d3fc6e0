package identity

import (
	"fmt"
	"strings"
)

// ClaimPath names a claim in the token payload. Segments are separated by dots and walk nested JSON objects:
// "ext.groups" is the "groups" member of the "ext" object (where Hydra puts custom claims),
// "realm_access.roles" is Keycloak's realm roles. A dot inside a claim name is written `\.` and a backslash `\\`.
//
// Namespaced claim names that contain dots and slashes, as Auth0 requires ("https://example.com/groups"), can be
// written verbatim: when a path has several segments and no escapes, a top-level claim whose name is the whole
// path is preferred to the nested walk. So "https://example.com/groups" and `https://example\.com/groups` name the
// same claim.
type ClaimPath string

// claimPath is a ClaimPath compiled once at configuration time.
type claimPath struct {
	// literal is the whole path as one top-level claim name, tried first; empty when the path has escapes or a
	// single segment.
	literal string
	segs    []string
}

func (p ClaimPath) compile() (claimPath, error) {
	s := string(p)
	if s == "" {
		return claimPath{}, fmt.Errorf("parse claim path: empty path")
	}
	var (
		segs    []string
		cur     strings.Builder
		escaped bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) || (s[i+1] != '.' && s[i+1] != '\\') {
				return claimPath{}, fmt.Errorf("parse claim path %q: a backslash must escape '.' or '\\'", s)
			}
			i++
			cur.WriteByte(s[i])
			escaped = true
		case c == '.':
			if cur.Len() == 0 {
				return claimPath{}, fmt.Errorf("parse claim path %q: empty segment", s)
			}
			segs = append(segs, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() == 0 {
		return claimPath{}, fmt.Errorf("parse claim path %q: empty segment", s)
	}
	segs = append(segs, cur.String())
	cp := claimPath{segs: segs}
	if len(segs) > 1 && !escaped {
		cp.literal = s
	}
	return cp, nil
}

// lookup returns the value the path names in claims.
func (p *claimPath) lookup(claims map[string]any) (any, bool) {
	if p.literal != "" {
		if v, ok := claims[p.literal]; ok {
			return v, true
		}
	}
	var cur any = claims
	for _, seg := range p.segs {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// lookupString returns the path's value when it is a non-empty string.
func (p *claimPath) lookupString(claims map[string]any) string {
	v, ok := p.lookup(claims)
	if !ok {
		return ""
	}
	s, _ := v.(string)
	return s
}

// appendStrings appends the strings the path names: each string element of an array, or a string value itself
// (split on white space when split is set, as the OAuth "scope" claim is).
func (p *claimPath) appendStrings(dst []string, claims map[string]any, split bool) []string {
	v, ok := p.lookup(claims)
	if !ok {
		return dst
	}
	switch v := v.(type) {
	case string:
		if split {
			return append(dst, strings.Fields(v)...)
		}
		if v != "" {
			dst = append(dst, v)
		}
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				dst = append(dst, s)
			}
		}
	}
	return dst
}

// dedupe removes repeated strings in place, keeping the first occurrence.
func dedupe(s []string) []string {
	if len(s) < 2 {
		return s
	}
	if len(s) <= 16 {
		out := s[:0]
	outer:
		for _, v := range s {
			for _, w := range out {
				if v == w {
					continue outer
				}
			}
			out = append(out, v)
		}
		return out
	}
	seen := make(map[string]struct{}, len(s))
	out := s[:0]
	for _, v := range s {
		if _, dup := seen[v]; dup {
			continue
		}
		seen[v] = struct{}{}
		out = append(out, v)
	}
	return out
}
