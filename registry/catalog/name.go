package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// SplitName splits "namespace/name" and validates both halves: the namespace is [a-z0-9.-], the name [a-z0-9._-], both
// non-empty, at most MaxNameLen characters in all, with exactly one slash.
func SplitName(full string) (namespace, name string, err error) {
	if err := checkName(full); err != nil {
		return "", "", err
	}
	ns, n, _ := strings.Cut(full, "/")
	return ns, n, nil
}

// Namespace returns the part of a valid name before the slash.
func Namespace(full string) string {
	ns, _, _ := strings.Cut(full, "/")
	return ns
}

func checkName(full string) error {
	if full == "" {
		return fmt.Errorf("is required")
	}
	if len(full) > MaxNameLen {
		return fmt.Errorf("must be at most %d characters", MaxNameLen)
	}
	ns, n, ok := strings.Cut(full, "/")
	if !ok || strings.Contains(n, "/") {
		return fmt.Errorf("must be namespace/name with exactly one slash")
	}
	if ns == "" || n == "" {
		return fmt.Errorf("namespace and name must both be non-empty")
	}
	for _, r := range ns {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return fmt.Errorf("namespace may contain only lowercase letters, digits, '.' and '-'")
		}
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("name may contain only lowercase letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

// checkSimpleName validates a single-segment identifier such as a scope, entity type or tool name.
func checkSimpleName(s string, max int, extra string) error {
	if s == "" {
		return fmt.Errorf("is required")
	}
	if len(s) > max {
		return fmt.Errorf("must be at most %d characters", max)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(extra, r)) {
			return fmt.Errorf("may contain only letters, digits and %q", extra)
		}
	}
	return nil
}

func indexed(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

// KeyField names the member of obj that makes its key differ from that of cur, an object of the same kind: the
// field a client should be told about when it tries to change an object's identity.
func KeyField(cur, obj Object) string {
	switch x := obj.(type) {
	case *GroupMapping:
		if c, ok := cur.(*GroupMapping); ok && c.Group == x.Group {
			return "issuer"
		}
		return "group"
	case *ClientMapping:
		if c, ok := cur.(*ClientMapping); ok && c.Client == x.Client {
			return "issuer"
		}
		return "client"
	case *Entity:
		if c, ok := cur.(*Entity); ok && c.Type != x.Type {
			return "type"
		}
	}
	return "name"
}
