package loadgen

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/valyala/fasthttp"
)

// Resolver looks up a host name; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

var _ Resolver = (*net.Resolver)(nil)

// CheckTarget returns nil if target is an http(s) URL whose host resolves
// only to loopback addresses (see CheckLoopback). New runs it unless
// Config.AllowRemote is set; call it yourself before any other traffic to
// a target.
func CheckTarget(ctx context.Context, r Resolver, target string) error {
	u, err := parseTarget(target)
	if err != nil {
		return err
	}
	return CheckLoopback(ctx, r, u.Hostname())
}

// CheckLoopback returns nil if host (a name or an IP literal) resolves only
// to loopback addresses: 127.0.0.0/8 or ::1. Otherwise it returns an error
// wrapping ErrRemoteTarget, or the lookup error.
func CheckLoopback(ctx context.Context, r Resolver, host string) error {
	_, err := loopbackAddrs(ctx, r, host)
	return err
}

// loopbackAddrs returns host's addresses if they are all loopback ones,
// else CheckLoopback's error.
func loopbackAddrs(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := lookup(ctx, r, host)
	if err != nil {
		return nil, fmt.Errorf("resolving target host %q: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: %q resolves to no address", ErrRemoteTarget, host)
	}
	for _, a := range addrs {
		if !isLoopback(a) {
			return nil, fmt.Errorf("%w: %q resolves to %v (use --allow-remote to load a remote system)", ErrRemoteTarget, host, a)
		}
	}
	return addrs, nil
}

// dialLoopback is a HostClient's dial without AllowRemote: it resolves the
// host again at every dial, with r, and connects only if every address is
// a loopback one, to the first that answers. A name that passed the check
// in New cannot then resolve elsewhere when a connection opens (DNS
// rebinding, or a dialer's resolver that answers otherwise than r).
func dialLoopback(r Resolver, timeout time.Duration) fasthttp.DialFunc {
	return func(hostport string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		addrs, err := loopbackAddrs(ctx, r, host)
		if err != nil {
			return nil, err
		}
		var d net.Dialer
		for _, a := range addrs {
			var conn net.Conn
			if conn, err = d.DialContext(ctx, "tcp", net.JoinHostPort(a.String(), port)); err == nil {
				return conn, nil
			}
		}
		return nil, err
	}
}

// lookup resolves host, taking IP literals as they are.
func lookup(ctx context.Context, r Resolver, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a}, nil
	}
	return r.LookupNetIP(ctx, "ip", host)
}

var loopback4 = netip.MustParsePrefix("127.0.0.0/8")

// isLoopback reports whether a is in 127.0.0.0/8 (also written as an
// IPv4-mapped IPv6 address) or is ::1.
func isLoopback(a netip.Addr) bool {
	a = a.WithZone("")
	return loopback4.Contains(a.Unmap()) || a == netip.IPv6Loopback()
}
