package edge

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

const connectOp = "CONNECT {\"verbose\":false,\"headers\":true}\r\n"

// TestHostileInput: malformed and hostile protocol input gets nats-server's
// -ERR and a close, or a refusal that leaves the connection open; a viewer
// on the same edge keeps receiving every swarm.
func TestHostileInput(t *testing.T) {
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), MaxControlLine: 256, MaxPayload: 128,
		MaxSubscriptions: 3, ConnectTimeout: 300 * time.Millisecond, PingInterval: 200 * time.Millisecond, MaxPingsOut: 2})
	viewer := connect(t, e.URL())
	live := subscribe(t, viewer, wire.LiveSubject("m1"))

	closing := []struct {
		name, input, want string
	}{
		{"long line", connectOp + "SUB " + strings.Repeat("x", 300), "-ERR 'Maximum Control Line Exceeded'"},
		{"long line in pieces", strings.Repeat("y", 200) + "\x00" + strings.Repeat("y", 200), "-ERR 'Maximum Control Line Exceeded'"},
		{"big payload", connectOp + "PUB " + wire.SwarmsGet + " _INBOX.a.b 100000\r\n", "-ERR 'Maximum Payload Violation'"},
		{"garbage", connectOp + "HELLO WORLD\r\n", "-ERR 'Unknown Protocol Operation'"},
		{"pipelined garbage", connectOp + "PING\r\nSUB emostream.live.m1 1\r\n\x00\xff\xfe garbage\r\nPING\r\n", "-ERR 'Unknown Protocol Operation'"},
		{"bad size", connectOp + "PUB x -5\r\n", "-ERR 'Unknown Protocol Operation'"},
		{"payload without CRLF", connectOp + "PUB x 2\r\nabcd", "-ERR 'Unknown Protocol Operation'"},
		{"HPUB header past payload", connectOp + "HPUB x 9 2\r\nab\r\n", "-ERR 'Unknown Protocol Operation'"},
		{"bad CONNECT", "CONNECT {nope\r\n", "-ERR 'Unknown Protocol Operation'"},
		{"SUB before CONNECT", "SUB emostream.live.m1 1\r\n", "-ERR 'Authorization Violation'"},
		{"no CONNECT", "", "-ERR 'Authentication Timeout'"},
		{"no PONG", connectOp, "-ERR 'Stale Connection'"},
	}
	for _, c := range closing {
		t.Run(c.name, func(t *testing.T) {
			rc := dialRaw(t, e)
			if st := rc.handshake(); st != 101 {
				t.Fatalf("handshake: %d", st)
			}
			for _, part := range strings.Split(c.input, "\x00") {
				if part != "" {
					_ = rc.send([]byte(part))
				}
			}
			got, closed := rc.until(c.want, 5*time.Second)
			if !strings.Contains(got, c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			if !closed && !rc.closed(5*time.Second) {
				t.Fatalf("still open after %q", c.want)
			}
		})
	}
	open := []struct {
		name, input, want string
	}{
		{"too many subscriptions", "SUB emostream.live.a 1\r\nSUB emostream.live.b 2\r\nSUB emostream.live.c 3\r\nSUB emostream.live.d 4\r\n", "-ERR 'Maximum Subscriptions Exceeded'"},
		{"long sid", "SUB emostream.live.a " + strings.Repeat("9", 40) + "\r\n", "-ERR 'Invalid Subscription ID'"},
		{"bad next", "UNSUB 77\r\nSUB _INBOX.x.* 9\r\nPUB $JS.API.DIRECT.GET.EMOSTREAM_SWARMS _INBOX.x.y 2\r\n{}\r\n", `-ERR 'Permissions Violation for Publish to "$JS.API.DIRECT.GET.EMOSTREAM_SWARMS"'`},
		{"bad match", "SUB emostream.live.a.b 1\r\n", `-ERR 'Permissions Violation for Subscription to "emostream.live.a.b"'`},
	}
	for _, c := range open {
		t.Run(c.name, func(t *testing.T) {
			rc := dialRaw(t, e)
			rc.handshake()
			_ = rc.send([]byte(connectOp + c.input + "PING\r\n"))
			got, closed := rc.until("PONG", 5*time.Second)
			if closed || !strings.Contains(got, c.want) || !strings.Contains(got, "PONG") {
				t.Fatalf("got %q (closed %v), want %q and PONG", got, closed, c.want)
			}
		})
	}
	for w := range 3 {
		wd.publish(t, "m1", w)
	}
	testenv.WaitFor(t, 5*time.Second, "3 swarms", func() bool { return live.len() == 3 })
	if got := live.windows(t); !slices.Equal(got, []int{0, 1, 2}) || !viewer.IsConnected() {
		t.Fatalf("the viewer got %v (connected %v)", got, viewer.IsConnected())
	}
}

// TestSlowloris: connections that never finish the WebSocket handshake are
// closed after ConnectTimeout.
func TestSlowloris(t *testing.T) {
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), ConnectTimeout: 300 * time.Millisecond})
	var clients []*rawClient
	for range 20 {
		rc := dialRaw(t, e)
		fmt.Fprintf(rc.conn, "GET / HTTP/1.1\r\nHost: ed")
		clients = append(clients, rc)
	}
	for i, rc := range clients {
		if !rc.closed(5 * time.Second) {
			t.Fatalf("slow handshake %d still open", i)
		}
	}
}

// TestConnectionLimits: past MaxConnections the handshake is refused (503)
// and the edge's count comes back as viewers leave.
func TestConnectionLimits(t *testing.T) {
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), MaxConnections: 5})
	var ncs []*nats.Conn
	for range 5 {
		ncs = append(ncs, connect(t, e.URL()))
	}
	for range 3 {
		rc := dialRaw(t, e)
		if st := rc.handshake(); st != 503 {
			t.Fatalf("the sixth connection: status %d, want 503", st)
		}
	}
	if got := testutil.ToFloat64(e.m.refused.WithLabelValues("max_connections")); got != 3 {
		t.Errorf("refused %v, want 3", got)
	}
	ncs[0].Close()
	testenv.WaitFor(t, 5*time.Second, "a free slot", func() bool { return testutil.ToFloat64(e.m.conns) == 4 })
	connect(t, e.URL())
}

// TestPerNetworkLimit: MaxPerNetwork counts connections by /24 and /64;
// loopback is not limited.
func TestPerNetworkLimit(t *testing.T) {
	e := &Edge{}
	for _, c := range []struct{ addr, want string }{
		{"203.0.113.7:5000", "203.0.113.0"}, {"[2001:db8:1:2:3::4]:80", "2001:db8:1:2::"}, {"127.0.0.9:1", ""}, {"bad", ""},
		{"[::ffff:203.0.113.7]:80", "203.0.113.0"},
	} {
		if got := e.clientNetwork(&http.Request{RemoteAddr: c.addr}); got != c.want {
			t.Errorf("the network of %s: %q, want %q", c.addr, got, c.want)
		}
	}
	e = &Edge{cfg: Config{MaxConnections: 100, MaxPerNetwork: 2}, m: newMetrics(nil), prefixes: map[string]int{}}
	for i, want := range []string{"", "", "max_per_network"} {
		if got := e.admit("203.0.113.0"); got != want {
			t.Errorf("connection %d: %q, want %q", i, got, want)
		}
	}
	if got := e.admit("203.0.114.0"); got != "" {
		t.Errorf("another network: %q", got)
	}
}

// TestForwardedLoopbackIsLimited: the loopback exemption is for a TCP
// peer on loopback (a local proxy or load generator). A client behind a
// trusted proxy (the shipped manifest trusts 10.0.0.0/8) that writes
// 127.0.0.1 into X-Forwarded-For counts in the loopback network, not in
// none; a local trusted proxy keeps its own exemption.
func TestForwardedLoopbackIsLimited(t *testing.T) {
	e := &Edge{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}}}
	for _, c := range []struct{ peer, xff, want string }{
		{"10.0.0.7:4000", "127.0.0.1, 10.20.30.40", "127.0.0.0"}, // the client's own entry, then the Ingress controller's
		{"10.0.0.7:4000", "::1", "::"},
		{"10.0.0.7:4000", "203.0.113.7", "203.0.113.0"},
		{"127.0.0.1:4000", "", ""}, // the local proxy itself
	} {
		r := &http.Request{RemoteAddr: c.peer, Header: http.Header{}}
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := e.clientNetwork(r); got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: network %q, want %q", c.peer, c.xff, got, c.want)
		}
	}
}

// TestSlowConsumer: a viewer that reads nothing is cut off once MaxPending
// bytes wait for it, counted, and the other viewer gets every message.
func TestSlowConsumer(t *testing.T) {
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), MaxPending: 64 << 10})
	viewer := connect(t, e.URL())
	live := subscribe(t, viewer, wire.LiveSubject("m1"))
	rc := dialRaw(t, e)
	rc.handshake()
	_ = rc.send([]byte(connectOp + "SUB emostream.live.m1 1\r\nPING\r\n"))
	rc.until("PONG", 5*time.Second)
	pub := connect(t, wd.hub.ClientURL())
	body := []byte(strings.Repeat("x", 8<<10))
	const n, batch = 2000, 4 // 16 MB, past any socket buffer; the viewer keeps up batch by batch
	for i := 0; i < n; i += batch {
		for range batch {
			if err := pub.Publish(wire.LiveSubject("m1"), body); err != nil {
				t.Fatal(err)
			}
		}
		testenv.WaitFor(t, 10*time.Second, "the batch at the viewer", func() bool { return live.len() == i+batch })
	}
	testenv.WaitFor(t, 5*time.Second, "the slow consumer cut off", func() bool {
		return testutil.ToFloat64(e.m.closed.WithLabelValues("slow_consumer")) == 1
	})
}

// TestAllowedOrigins: a browser from another origin is refused (403) before
// the upgrade; the allowed origin and clients without Origin connect.
func TestAllowedOrigins(t *testing.T) {
	wd := startWorld(t)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL(), AllowedOrigins: []string{"https://emostream.example"}})
	for _, c := range []struct {
		origin string
		want   int
	}{{"https://evil.example", 403}, {"https://emostream.example", 101}, {"", 101}} {
		var extra []string
		if c.origin != "" {
			extra = append(extra, "Origin: "+c.origin+"\r\n")
		}
		if got := dialRaw(t, e).handshake(extra...); got != c.want {
			t.Errorf("Origin %q: status %d, want %d", c.origin, got, c.want)
		}
	}
	if got := testutil.ToFloat64(e.m.refused.WithLabelValues("origin")); got != 1 {
		t.Errorf("refused for origin: %v, want 1", got)
	}
}
