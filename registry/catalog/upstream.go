package catalog

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// DefaultDeniedUpstreams are the address ranges a server's URLs may not name unless the operator says otherwise:
// "this network" and the unspecified addresses, and link-local ranges, where cloud providers serve instance metadata
// and credentials (169.254.169.254, fd00:ec2::254 on AWS, 100.100.100.200 on Alibaba Cloud). The gateway would
// otherwise proxy callers to them, and virtual servers would make the registry itself call them. Loopback stays
// allowed by default: sidecar and development upstreams use it; production fleets add 127.0.0.0/8 and ::1/128.
var DefaultDeniedUpstreams = []string{"0.0.0.0/8", "169.254.0.0/16", "100.100.100.200/32", "::/128", "fe80::/10", "fd00:ec2::254/128"}

// wellKnownHosts are DNS names with a fixed meaning, checked as the addresses they stand for.
var wellKnownHosts = map[string][]netip.Addr{
	"localhost":                {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
	"metadata.google.internal": {netip.MustParseAddr("169.254.169.254")},
}

// UpstreamPolicy decides which addresses a server's upstream URLs (url, endpoints, egress_auth.token_url) may name.
// It checks what the URL says: an IP address, or a name with a fixed meaning (localhost, metadata.google.internal).
// Other DNS names are resolved by Envoy and by the registry's HTTP client when they connect, not here; a name that
// resolves into a denied range is stopped only by network policy (docs/catalog.md, "Upstream addresses").
type UpstreamPolicy struct {
	deny []netip.Prefix
}

// NewUpstreamPolicy parses CIDR prefixes (a bare address stands for itself). No prefixes allow every address.
func NewUpstreamPolicy(cidrs []string) (*UpstreamPolicy, error) {
	p := &UpstreamPolicy{}
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		pre, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, fmt.Errorf("denied upstream range %q: not a CIDR prefix or an IP address", c)
			}
			pre = netip.PrefixFrom(a, a.BitLen())
		}
		p.deny = append(p.deny, pre.Masked())
	}
	return p, nil
}

// CheckServer refuses a server whose versions name a denied address, with the fields that do.
func (p *UpstreamPolicy) CheckServer(s *Server) error {
	var pr problems
	for i := range s.Versions {
		p.checkVersion(&pr, &s.Versions[i], indexed("versions", i)+".")
	}
	return pr.err()
}

// CheckVersion refuses one version that names a denied address; field names are relative to the version.
func (p *UpstreamPolicy) CheckVersion(v *ServerVersion) error {
	var pr problems
	p.checkVersion(&pr, v, "")
	return pr.err()
}

func (p *UpstreamPolicy) checkVersion(pr *problems, v *ServerVersion, prefix string) {
	check := func(field, raw string) {
		if raw == "" {
			return
		}
		if err := p.checkURL(raw); err != nil {
			pr.add(prefix+field, "%v", err)
		}
	}
	check("url", v.URL)
	for j, e := range v.Endpoints {
		check(indexed("endpoints", j), e)
	}
	if v.EgressAuth != nil {
		check("egress_auth.token_url", v.EgressAuth.TokenURL)
	}
}

func (p *UpstreamPolicy) checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil // Validate reports a malformed URL
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = withEmbeddedIPv4(a.WithZone("").Unmap())
	} else if numericHost(host) {
		// 2130706433, 0x7f.1, 0177.0.0.1: not DNS names, and resolvers read them as addresses.
		return fmt.Errorf("host %q must be a DNS name or an IP address in standard form", u.Hostname())
	} else if known, ok := wellKnownHosts[host]; ok {
		addrs = known
	} else if strings.HasSuffix(host, ".localhost") {
		addrs = wellKnownHosts["localhost"]
	}
	for _, a := range addrs {
		for _, d := range p.deny {
			if d.Contains(a) {
				return fmt.Errorf("must not name an address in %s, which this registry refuses as an upstream", d)
			}
		}
	}
	return nil
}

// IPv6 forms that carry an IPv4 address a connection may end up at: IPv4-compatible (deprecated, ::a.b.c.d), the
// NAT64 well-known prefix (RFC 6052) and 6to4 (RFC 3056).
var (
	ipv4Compatible = netip.MustParsePrefix("::/96")
	nat64          = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour      = netip.MustParsePrefix("2002::/16")
	lastSpecial    = netip.MustParseAddr("::ffff") // :: and ::1 through ::ffff are not IPv4-compatible addresses
)

// withEmbeddedIPv4 returns a, and the IPv4 address it embeds if it is one of the forms above, so that
// 64:ff9b::a9fe:a9fe is refused like 169.254.169.254.
func withEmbeddedIPv4(a netip.Addr) []netip.Addr {
	out := []netip.Addr{a}
	if !a.Is6() {
		return out
	}
	b := a.As16()
	switch {
	case nat64.Contains(a), ipv4Compatible.Contains(a) && a.Compare(lastSpecial) > 0:
		out = append(out, netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		out = append(out, netip.AddrFrom4([4]byte(b[2:6])))
	}
	return out
}

// numericHost reports a host whose labels are all numbers (decimal, octal or hex), which no DNS name is.
func numericHost(host string) bool {
	if host == "" {
		return false
	}
	for _, l := range strings.Split(host, ".") {
		digits := strings.TrimPrefix(l, "0x")
		if digits == "" && l != "0x" {
			return false
		}
		for _, c := range digits {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' && l != digits) {
				return false
			}
		}
	}
	return true
}
