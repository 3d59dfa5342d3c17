package fanout

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/wire"
)

// TestLeafFailover: when a viewer's leaf dies, the viewer reconnects to the
// next leaf of its server list and, by late join, ends on the latest window.
func TestLeafFailover(t *testing.T) {
	tr := startTree(t)
	js := stageJS(t, tr.hub)
	urls := tr.a.WebSocketURL() + "," + tr.b.WebSocketURL()
	nc := connect(t, urls, nats.DontRandomize(), nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1))
	if nc.ConnectedUrl() != tr.a.WebSocketURL() {
		t.Fatalf("connected to %s, want leaf a first", nc.ConnectedUrl())
	}
	r := watch(t, nc, "final")
	waitInterest(t, tr.hub.embedded, wire.LiveSubject("final"), 1)
	for w := 1; w <= 3; w++ {
		publishSwarm(t, js, "final", w)
	}
	waitWindows(t, "before", r, []int{1, 2, 3})

	tr.a1.Shutdown() // its own leaf would otherwise retry a forever
	tr.a.Shutdown()
	for w := 4; w <= 6; w++ { // published while the viewer has no leaf
		publishSwarm(t, js, "final", w)
	}
	waitFor(t, 10*time.Second, func() bool { return nc.IsConnected() && nc.ConnectedUrl() == tr.b.WebSocketURL() },
		"viewer reconnected to leaf b")
	waitFor(t, 10*time.Second, func() bool { g := r.got(); return g[len(g)-1] == 6 }, "late join of window 6")
	waitInterest(t, tr.hub.embedded, wire.LiveSubject("final"), 1)
	publishSwarm(t, js, "final", 7)
	waitFor(t, 10*time.Second, func() bool { g := r.got(); return g[len(g)-1] == 7 }, "live window 7")
	got := r.got()
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Errorf("windows out of order or repeated: %v", got)
		}
	}
}

// TestStalledViewer: a viewer that stops reading is cut off by the write
// deadline and counted as a slow consumer; another viewer of the same leaf
// receives every swarm.
func TestStalledViewer(t *testing.T) {
	h := startHub(t)
	cfg := leafConfig("leaf-a", h.LeafRemote(), false)
	cfg.MaxPending = 256 << 20 // so that the write deadline, not the buffer, cuts it off
	l := startLeaf(t, cfg)
	waitLeafs(t, h.embedded, 1)
	js := stageJS(t, h)

	// The reading viewer's interest reaches the hub first: the stalled
	// viewer's would otherwise let the swarms start before the reader's
	// subscription is in place.
	r := watch(t, connect(t, l.WebSocketURL()), "big")
	waitInterest(t, h.embedded, wire.LiveSubject("big"), 1)
	stalled := stallingViewer(t, l.WebSocketURL(), wire.LiveSubject("big"))
	defer stalled.Close()

	pad := strings.Repeat("x", 32<<10)
	var want []int
	for w := 1; w <= 2000 && l.Server().NumSlowConsumersClients() == 0; w++ {
		publishPadded(t, js, "big", w, pad)
		want = append(want, w)
	}
	if l.Server().NumSlowConsumersClients() == 0 {
		t.Fatalf("stalled viewer not cut off after %d swarms", len(want))
	}
	publishPadded(t, js, "big", len(want)+1, pad)
	want = append(want, len(want)+1)
	waitWindows(t, "reading viewer", r, want)
	closed, err := l.Server().Connz(&server.ConnzOptions{State: server.ConnClosed})
	if err != nil {
		t.Fatal(err)
	}
	reasons := []string{}
	for _, c := range closed.Conns {
		reasons = append(reasons, c.Reason)
	}
	if !strings.Contains(strings.Join(reasons, ","), "Slow Consumer (Write Deadline)") {
		t.Errorf("closed connections' reasons %v, want a write-deadline slow consumer", reasons)
	}
}

func publishPadded(t *testing.T, js jetstream.JetStream, match string, w int, pad string) {
	t.Helper()
	msg := nats.NewMsg(wire.SwarmSubject(match))
	body := swarmBody(match, w)
	msg.Data = append(body[:len(body)-1], []byte(`,"pad":"`+pad+`"}`)...)
	msg.Header.Set(nats.MsgIdHdr, fmt.Sprintf("%s/%d", match, window(w).UnixMilli()))
	if _, err := js.PublishMsg(t.Context(), msg); err != nil {
		t.Fatalf("publishing %d: %v", w, err)
	}
}

// stallingViewer opens a raw WebSocket NATS connection with a tiny receive
// buffer, subscribes to subject, waits for the server's PONG and then never
// reads again.
func stallingViewer(t *testing.T, wsURL, subject string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", strings.TrimPrefix(wsURL, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", conn.RemoteAddr())
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	var seen bytes.Buffer
	for !bytes.HasSuffix(seen.Bytes(), []byte("\r\n\r\n")) {
		b, err := br.ReadByte()
		if err != nil {
			t.Fatalf("stalling viewer upgrade: %v (read %q)", err, seen.String())
		}
		seen.WriteByte(b)
	}
	writeFrame(t, conn, "CONNECT {\"verbose\":false,\"protocol\":1}\r\nSUB "+subject+" 1\r\nPING\r\n")
	for !bytes.Contains(seen.Bytes(), []byte("PONG")) {
		b, err := br.ReadByte()
		if err != nil {
			t.Fatalf("stalling viewer handshake: %v (read %q)", err, seen.String())
		}
		seen.WriteByte(b)
	}
	return conn
}

// writeFrame writes one masked binary WebSocket frame (payload < 64 KiB).
func writeFrame(t *testing.T, w net.Conn, payload string) {
	var mask [4]byte
	rand.Read(mask[:])
	frame := []byte{0x82}
	if len(payload) < 126 {
		frame = append(frame, 0x80|byte(len(payload)))
	} else {
		frame = append(frame, 0x80|126)
		frame = binary.BigEndian.AppendUint16(frame, uint16(len(payload)))
	}
	frame = append(frame, mask[:]...)
	for i := range len(payload) {
		frame = append(frame, payload[i]^mask[i%4])
	}
	if _, err := w.Write(frame); err != nil {
		t.Fatal(err)
	}
}

// TestEdgeTakesABurst: a leaf without WebSocket serves only edges, each
// reading every match's swarms on one connection; the burst of a window
// whose swarms are published at once (10,000 matches, 8 MB) reaches an
// edge that starts reading it late, and is not cut off at a viewer's
// 256 KiB.
func TestEdgeTakesABurst(t *testing.T) {
	h := startHub(t)
	cfg := leafConfig("leaf-a", h.LeafRemote(), false)
	cfg.DisableWebSocket = true
	l := startLeaf(t, cfg)
	waitLeafs(t, h.embedded, 1)
	edge, br := rawEdge(t, l)
	waitInterest(t, h.embedded, wire.LiveSubjects, 1)
	pub := connect(t, h.ClientURL())
	body := make([]byte, 800)
	const matches = 10000
	for m := range matches {
		if err := pub.Publish(wire.LiveSubject(fmt.Sprintf("m%d", m)), body); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(); err != nil {
		t.Fatal(err)
	}
	edge.SetReadDeadline(time.Now().Add(30 * time.Second))
	for got := 0; got < matches; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("edge read %d of %d swarms, then %v (leaf slow consumers %d)", got, matches, err,
				l.Server().NumSlowConsumersClients())
		}
		if strings.HasPrefix(line, "INFO ") || line == "PING\r\n" {
			continue // an updated INFO; pings come every 2 minutes
		}
		var subject string
		var sid, size int
		if _, err := fmt.Sscanf(line, "MSG %s %d %d\r\n", &subject, &sid, &size); err != nil {
			t.Fatalf("edge read %q: %v", line, err)
		}
		if _, err := br.Discard(size + 2); err != nil {
			t.Fatal(err)
		}
		got++
	}
}

// rawEdge connects to l's client port as user edge, subscribes to every
// live swarm and waits for the server's PONG; it reads nothing more until
// the caller does.
func rawEdge(t *testing.T, l *Leaf) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(l.ClientURL(), "nats://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	fmt.Fprintf(conn, "CONNECT {\"verbose\":false,\"protocol\":1,\"user\":%q,\"pass\":%q}\r\nSUB %s 1\r\nPING\r\n",
		UserEdge, l.cfg.EdgePassword, wire.LiveSubjects)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("edge handshake: %v", err)
		}
		if strings.HasPrefix(line, "-ERR") {
			t.Fatalf("edge handshake: %s", line)
		}
		if line == "PONG\r\n" {
			return conn, br
		}
	}
}
