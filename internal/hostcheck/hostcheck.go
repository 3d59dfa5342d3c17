package hostcheck

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// Checker says whether a Host header names the listener it was built for.
// A Host is allowed when, its port aside, it is
//   - empty (HTTP/1.0 clients; browsers always send one);
//   - localhost, the machine's host name, or one of the names given;
//   - the listener's IP address; when it listens on every address
//     (0.0.0.0, ::), a loopback address or one of the machine's interface
//     addresses.
//
// The port is not compared: a proxy or a port mapping may change it, and
// a rebinding page cannot choose a Host without choosing a name.
type Checker struct {
	names map[string]bool
	ip    netip.Addr // the listener's; unspecified: any of the machine's
	any   bool

	mu        sync.Mutex
	local     map[netip.Addr]bool // the interface addresses, when any
	refreshed time.Time
}

// refreshEvery bounds how often a Host naming an unknown IP makes the
// Checker list the interface addresses again (they may have changed).
const refreshEvery = 10 * time.Second

// New builds the Checker of a listener bound at addr, allowing names too
// (host names or IP addresses, without ports; see ParseNames).
func New(addr net.Addr, names []string) *Checker {
	c := &Checker{names: map[string]bool{"localhost": true}}
	if h, err := os.Hostname(); err == nil && h != "" {
		c.names[normal(h)] = true
	}
	for _, n := range names {
		c.names[normal(n)] = true
	}
	if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
		c.ip = ap.Addr().Unmap()
		c.any = c.ip.IsUnspecified()
	}
	return c
}

// Allowed reports whether host, a Host header's value, names this listener.
func (c *Checker) Allowed(host string) bool {
	if host == "" {
		return true
	}
	h := normal(stripPort(host))
	if c.names[h] {
		return true
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	switch {
	case ip == c.ip:
		return true
	case !c.any:
		return false
	case ip.IsLoopback():
		return true
	}
	return c.isLocal(ip)
}

// isLocal reports whether ip is one of the machine's interface addresses.
func (c *Checker) isLocal(ip netip.Addr) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.local[ip] && time.Since(c.refreshed) >= refreshEvery {
		c.local, c.refreshed = interfaceAddrs(), time.Now()
	}
	return c.local[ip]
}

func interfaceAddrs() map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out[p.Addr().Unmap()] = true
		}
	}
	return out
}

// stripPort removes a port from host:port or [v6]:port, and the brackets
// of [v6].
func stripPort(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
}

// normal is a name lowercased, without the root's trailing dot.
func normal(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

// Refusal is the body of the 403 for a Host that is not the listener's.
const Refusal = `{"error":{"code":"forbidden","message":"the Host header names none of this listener's addresses or names (see --ops-host)"}}`

// Handler wraps h: a request with another Host is refused 403.
func (c *Checker) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.Allowed(r.Host) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(Refusal + "\n"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ParseNames reads a comma-separated list of host names and IP addresses
// (no ports, schemes or paths), as the --ops-host flags give it.
func ParseNames(list string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !validName(n) {
			return nil, fmt.Errorf("%q: want a host name or an IP address, without a port", n)
		}
		out = append(out, n)
	}
	return out, nil
}

func validName(n string) bool {
	if _, err := netip.ParseAddr(n); err == nil {
		return true
	}
	if len(n) > 253 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}
