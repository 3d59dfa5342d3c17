package clientip

import (
	"fmt"
	"net/netip"
	"strings"
)

// ParsePrefixes parses a comma-separated list of CIDR prefixes or single
// addresses, as --trusted-proxies takes them.
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
			}
			s = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String()
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Trusted reports whether a is in one of proxies.
func Trusted(a netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Of is the client address of a request from peer: peer itself, or, when
// peer is a trusted proxy, the right-most address of X-Forwarded-For that
// is not a trusted proxy itself. xff is every X-Forwarded-For line in the
// order received: a proxy may add a line of its own rather than extend the
// client's, so the lines are read as one list, the last line's right-most
// address first. Addresses a client wrote to the left of the one used, on
// its line or a line of its own, are never believed; at an address that
// does not parse, the last one a proxy vouched for is used.
func Of[S string | []byte](peer netip.Addr, xff []S, proxies []netip.Prefix) netip.Addr {
	peer = peer.Unmap()
	if len(xff) == 0 || !Trusted(peer, proxies) {
		return peer
	}
	for l := len(xff) - 1; l >= 0; l-- {
		line := string(xff[l])
		for {
			i := strings.LastIndexByte(line, ',')
			hop := strings.TrimSpace(line[i+1:])
			line = line[:max(i, 0)]
			a, ok := parseHop(hop)
			if !ok {
				return peer
			}
			if peer = a; !Trusted(a, proxies) {
				return a
			}
			if i < 0 {
				break
			}
		}
	}
	return peer
}

// parseHop reads one X-Forwarded-For entry: an address, or an address and
// port.
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}
