package ir

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// MaxFleetLen bounds a fleet name (it becomes part of cache keys and log lines).
const MaxFleetLen = 128

// Validate checks the model's invariants (see the package comment) and returns every violation joined.
func (m *Model) Validate() error {
	var errs []error
	for i, s := range m.Servers {
		if err := s.Validate(); err != nil {
			errs = append(errs, err)
		}
		if i > 0 && m.Servers[i-1].Name >= s.Name {
			errs = append(errs, invalid("", "servers", "not sorted by name or duplicated at %q", s.Name))
		}
	}
	for i, v := range m.Virtuals {
		if err := v.Validate(); err != nil {
			errs = append(errs, err)
		}
		if i > 0 && m.Virtuals[i-1].Name >= v.Name {
			errs = append(errs, invalid("", "virtuals", "not sorted by name or duplicated at %q", v.Name))
		}
	}
	return errors.Join(errs...)
}

// Validate checks one server.
func (s *Server) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) { errs = append(errs, invalid(s.Name, field, format, args...)) }
	if err := checkServerName(s.Name); err != nil {
		add("name", "%v", err)
	} else if s.Namespace+"/"+s.Short != s.Name {
		add("name", "namespace %q and short name %q do not make up the name", s.Namespace, s.Short)
	}
	if err := checkBlock(s.Blocked); err != nil {
		add("blocked", "%v", err)
	}
	if err := checkFleets(s.Fleets); err != nil {
		add("fleets", "%v", err)
	}
	seen := make(map[string]bool, len(s.Versions))
	defaults := 0
	for i, v := range s.Versions {
		f := fmt.Sprintf("versions[%d]", i)
		if v == nil {
			add(f, "is nil")
			continue
		}
		if v.Version == "" || strings.ContainsFunc(v.Version, notVersionRune) {
			add(f+".version", "%q is not a version string", v.Version)
		}
		if seen[v.Version] {
			add(f+".version", "duplicate version %q", v.Version)
		}
		seen[v.Version] = true
		if v.Default {
			defaults++
			if !v.Serves() {
				add(f, "the default version must serve (it is retired)")
			}
		}
		if v.Transport != TransportStreamableHTTP && v.Transport != TransportSSE {
			add(f+".transport", "%q is not a routable transport", v.Transport)
		}
		if !v.Serves() {
			continue
		}
		if len(v.Endpoints) == 0 {
			add(f+".endpoints", "a serving version needs at least one endpoint")
		}
		for j, e := range v.Endpoints {
			if err := e.validate(); err != nil {
				add(fmt.Sprintf("%s.endpoints[%d]", f, j), "%v", err)
			}
		}
		if err := checkPath(v.Path); err != nil {
			add(f+".path", "%v", err)
		}
	}
	if defaults > 1 {
		add("versions", "%d default versions; at most one", defaults)
	}
	return errors.Join(errs...)
}

// Validate checks one virtual server.
func (v *VirtualServer) Validate() error {
	var errs []error
	if v.Name == "" || len(v.Name) > 128 || strings.ContainsFunc(v.Name, notSegmentRune) || v.Name == "." || v.Name == ".." {
		errs = append(errs, invalid(v.Name, "name", "must be 1-128 of a-z, 0-9, '.', '_', '-'"))
	}
	if err := checkBlock(v.Blocked); err != nil {
		errs = append(errs, invalid(v.Name, "blocked", "%v", err))
	}
	if err := checkFleets(v.Fleets); err != nil {
		errs = append(errs, invalid(v.Name, "fleets", "%v", err))
	}
	return errors.Join(errs...)
}

func (e Endpoint) validate() error {
	if e.Port == 0 || e.Port > 65535 {
		return fmt.Errorf("port %d out of range", e.Port)
	}
	if e.IP {
		if a, err := netip.ParseAddr(e.Host); err != nil || a.Zone() != "" {
			return fmt.Errorf("%q is not an IP address without zone", e.Host)
		}
		return nil
	}
	if !validHostname(e.Host) {
		return fmt.Errorf("%q is not a DNS name", e.Host)
	}
	return nil
}

// validHostname accepts LDH labels (and '_', which real service names use) of at most 63 characters, 253 in all.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		if strings.ContainsFunc(label, func(r rune) bool { return !hostnameRune(r) }) {
			return false
		}
	}
	return true
}

// checkPath accepts an absolute, percent-encoded path made of RFC 3986 pchars. Backslashes never pass, so a path
// is safe as a regex substitution.
func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q must start with '/'", p)
	}
	if len(p) > 2048 {
		return fmt.Errorf("longer than 2048 characters")
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0:
		case c == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
		default:
			return fmt.Errorf("%q has a character a path may not carry unencoded", p)
		}
	}
	return nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func checkServerName(name string) error {
	ns, short, ok := strings.Cut(name, "/")
	if !ok || ns == "" || short == "" || strings.Contains(short, "/") {
		return fmt.Errorf("%q must be namespace/name", name)
	}
	if strings.ContainsFunc(ns, func(r rune) bool { return notSegmentRune(r) || r == '_' }) ||
		strings.ContainsFunc(short, notSegmentRune) {
		return fmt.Errorf("%q may contain only a-z, 0-9, '.', '-' (and '_' in the name)", name)
	}
	if ns == "." || ns == ".." || short == "." || short == ".." {
		return fmt.Errorf("%q has a dot segment", name)
	}
	return nil
}

func hostnameRune(r rune) bool { return alnum(r) || r == '-' || r == '_' }

func alnum(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' }

func segmentRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

func notSegmentRune(r rune) bool { return !segmentRune(r) }

// notVersionRune rejects what cannot appear in a semantic version (and so in a header match or cluster name).
func notVersionRune(r rune) bool { return !alnum(r) && r != '.' && r != '-' && r != '+' }

func checkBlock(b Block) error {
	switch b {
	case BlockNone, BlockDisabled, BlockSecurityPending, BlockScanPending:
		return nil
	}
	return fmt.Errorf("unknown block reason %q", b)
}

func checkFleets(fleets []string) error {
	for _, f := range fleets {
		if err := CheckFleet(f); err != nil {
			return err
		}
	}
	return nil
}

// CheckFleet validates a fleet name: 1 to MaxFleetLen printable ASCII characters.
func CheckFleet(f string) error {
	if f == "" || len(f) > MaxFleetLen {
		return fmt.Errorf("fleet %q must have 1 to %d characters", f, MaxFleetLen)
	}
	for i := 0; i < len(f); i++ {
		if f[i] <= 0x20 || f[i] >= 0x7f {
			return fmt.Errorf("fleet %q must be printable ASCII without spaces", f)
		}
	}
	return nil
}
