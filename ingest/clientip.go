package ingest

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ParseCIDRs parses a comma-separated list of CIDR prefixes or single
// addresses, as --trusted-proxies takes them.
func ParseCIDRs(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%w: trusted proxy %q: %v", ErrConfig, s, err)
			}
			s = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()).String()
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: trusted proxy %q: %v", ErrConfig, s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func trusted(a netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP is the address a request is rate-limited by: the TCP peer, or,
// when the peer is a trusted proxy, the right-most address of
// X-Forwarded-For that is not a trusted proxy itself. Addresses a client
// wrote to the left of that are never believed.
func clientIP(peer netip.Addr, xff []byte, proxies []netip.Prefix) netip.Addr {
	peer = peer.Unmap()
	if len(xff) == 0 || !trusted(peer, proxies) {
		return peer
	}
	for len(xff) > 0 {
		i := bytes.LastIndexByte(xff, ',')
		hop := bytes.TrimSpace(xff[i+1:])
		xff = xff[:max(i, 0)]
		a, ok := parseHop(hop)
		if !ok {
			return peer // garbage: keep the last address a proxy vouched for
		}
		if peer = a; !trusted(a, proxies) {
			return a
		}
		if i < 0 {
			break
		}
	}
	return peer
}

func parseHop(b []byte) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(string(b)); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(string(b)); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// limits applies the per-IP and per-user buckets to a request, all or
// nothing: a refused request takes no tokens.
type limits struct {
	ip   *limiter[netip.Addr]
	user *limiter[string]
}

func newLimits(cfg *Config) *limits {
	return &limits{
		ip:   newLimiter[netip.Addr](cfg.IPRate, cfg.IPBurst, cfg.MaxBuckets),
		user: newLimiter[string](cfg.UserRate, cfg.UserBurst, cfg.MaxBuckets),
	}
}

// allow charges one token per event to ip and to each event's user, or
// says why not.
func (l *limits) allow(ip netip.Addr, r *request, now time.Time) *httpError {
	n := len(r.events)
	if l.ip.enabled() {
		if ok, wait := l.ip.take(ip, n, now); !ok {
			return rateLimited(wait, "client IP", n, l.ip)
		}
	}
	user, n, wait := l.allowUsers(r, now)
	if user == "" {
		return nil
	}
	if l.ip.enabled() {
		l.ip.give(ip, len(r.events))
	}
	return rateLimited(wait, "user "+strconv.Quote(user), n, l.user)
}

// allowUsers charges every user of r, all or nothing, and returns the
// first user refused with their event count.
func (l *limits) allowUsers(r *request, now time.Time) (string, int, time.Duration) {
	if !l.user.enabled() {
		return "", 0, 0
	}
	if len(r.events) == 1 {
		if ok, wait := l.user.take(r.events[0].UserID, 1, now); !ok {
			return r.events[0].UserID, 1, wait
		}
		return "", 0, 0
	}
	for i := range r.events {
		r.users[r.events[i].UserID]++
	}
	for u, n := range r.users {
		if ok, wait := l.user.take(u, n, now); !ok {
			l.refund(r.users)
			return u, n, wait
		}
		r.users[u] = -n // taken
	}
	return "", 0, 0
}
func (l *limits) refund(users map[string]int) {
	for u, n := range users {
		if n < 0 {
			l.user.give(u, -n)
		}
	}
}

// sweep drops idle buckets.
func (l *limits) sweep(now time.Time) {
	l.ip.sweep(now)
	l.user.sweep(now)
}
