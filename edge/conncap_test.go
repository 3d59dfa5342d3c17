package edge

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// dialRawFrom is dialRaw from the local address local (127.0.0.0/8 is all
// loopback: tests play clients of many networks there).
func dialRawFrom(t testing.TB, e *Edge, local string) *rawClient {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", e.cfg.Listener.Addr().String())
	if errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Skipf("cannot bind %s on this system: %v", local, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawClient{t: t, conn: conn, r: bufio.NewReader(conn)}
}

// TestOneNetworkCannotTakeEveryViewerSlot: one /24 opens as many viewer
// connections as it can; past the high-water mark (three quarters of
// MaxConnections) it is refused, 503 network_share, and viewers of other
// networks still connect and watch while it holds its connections.
func TestOneNetworkCannotTakeEveryViewerSlot(t *testing.T) {
	wd := startWorld(t)
	const total, highWater, flood = 40, 30, 50
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), MaxConnections: total, LimitLoopback: true,
		ConnectTimeout: time.Minute})
	accepted := 0
	for i := range flood {
		switch st := dialRawFrom(t, e, fmt.Sprintf("127.0.6.%d", 1+i)).handshake(); st {
		case 101:
			accepted++
		case 503:
		default:
			t.Fatalf("flood connection %d: status %d", i, st)
		}
	}
	if accepted != highWater {
		t.Errorf("one network holds %d viewer connections, want the high-water mark %d", accepted, highWater)
	}
	for n := range 7 {
		if st := dialRawFrom(t, e, fmt.Sprintf("127.1.%d.1", n)).handshake(); st != 101 {
			t.Fatalf("viewer of network %d: status %d, want 101", n, st)
		}
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.2.0.1")}}
	viewer := connect(t, e.URL(), nats.SetCustomDialer(d))
	if err := viewer.Flush(); err != nil {
		t.Fatalf("a NATS viewer of another network: %v", err)
	}
	if got := testutil.ToFloat64(e.m.refused.WithLabelValues("network_share")); got != flood-highWater {
		t.Errorf("refused for the network's share: %v, want %d", got, flood-highWater)
	}
}

// TestEdgeCapsAddUp: a per-network cap above the total is refused at
// start; a defaulted one is never above the total.
func TestEdgeCapsAddUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := Config{Listener: ln, NATSURL: "nats://127.0.0.1:1", MaxConnections: 100, MaxPerNetwork: 101}
	if _, err := c.withDefaults(); err == nil || !strings.Contains(err.Error(), "MaxPerNetwork 101: want at most MaxConnections (100)") {
		t.Fatalf("got %v, want the caps refused", err)
	}
	c.MaxPerNetwork = 0
	if got, err := c.withDefaults(); err != nil || got.MaxPerNetwork != 100 {
		t.Fatalf("defaulted per-network cap %d (%v), want 100", got.MaxPerNetwork, err)
	}
}

// TestViewersBehindTrustedProxy: behind a TLS-terminating proxy (here
// net/http/httputil's, which sets X-Forwarded-For as an Ingress does) every
// viewer comes from the proxy's address. With the proxy in TrustedProxies
// each counts in its own network, the one X-Forwarded-For names (the last
// line's right-most address that is no trusted proxy); a client that
// writes X-Forwarded-For itself is not believed, and counts in its own.
func TestViewersBehindTrustedProxy(t *testing.T) {
	wd := startWorld(t)
	const proxyAddr = "127.0.5.1"
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), MaxConnections: 100, MaxPerNetwork: 2, LimitLoopback: true,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix(proxyAddr + "/32")}, ConnectTimeout: time.Minute, OccupancyInterval: -1})
	target, _ := url.Parse("http://" + e.cfg.Listener.Addr().String())
	proxy := httputil.NewSingleHostReverseProxy(target)
	from := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(proxyAddr)}}
	proxy.Transport = &http.Transport{DialContext: from.DialContext}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	networks := func() []string {
		e.mu.Lock()
		defer e.mu.Unlock()
		return slices.Sorted(maps.Keys(e.prefixes))
	}

	for n := range 5 { // five viewers of five networks, through the proxy
		local := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(fmt.Sprintf("127.9.%d.1", n))}}
		conn, err := local.Dial("tcp", srv.Listener.Addr().String())
		if errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Skipf("cannot bind 127.9.%d.1 on this system: %v", n, err)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		rc := &rawClient{t: t, conn: conn, r: bufio.NewReader(conn)}
		if st := rc.handshake(); st != 101 {
			t.Fatalf("viewer %d of 127.9.%d.0/24 through the proxy: status %d, want 101", n, n, st)
		}
	}
	if got, want := networks(), []string{"127.9.0.0", "127.9.1.0", "127.9.2.0", "127.9.3.0", "127.9.4.0"}; !slices.Equal(got, want) {
		t.Fatalf("networks %v, want %v", got, want)
	}

	// The proxy's own lines: the client's X-Forwarded-For, then its own.
	rc := dialRawFrom(t, e, proxyAddr)
	if st := rc.handshake("X-Forwarded-For: 127.66.0.1\r\n", "X-Forwarded-For: 127.9.9.1\r\n"); st != 101 {
		t.Fatalf("a viewer with two X-Forwarded-For lines: status %d", st)
	}
	if got := networks(); !slices.Contains(got, "127.9.9.0") || slices.Contains(got, "127.66.0.0") {
		t.Errorf("networks %v: want the last line's 127.9.9.0, not the client's own 127.66.0.0", got)
	}

	// A client that is no proxy names other networks in vain.
	for i, want := range []int{101, 101, 503} {
		rc := dialRawFrom(t, e, "127.8.0.1")
		if st := rc.handshake(fmt.Sprintf("X-Forwarded-For: 127.70.%d.1\r\n", i)); st != want {
			t.Fatalf("connection %d from 127.8.0.1 naming 127.70.%d.1: status %d, want %d", i, i, st, want)
		}
	}
}
