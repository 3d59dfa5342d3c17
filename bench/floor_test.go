//go:build linux

package bench

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// startFloor runs a floor on a loopback port, reading from a real
// nats-server, and returns it with a publishing connection.
func startFloor(t testing.TB, cfg FloorConfig) (*Floor, *nats.Conn) {
	t.Helper()
	n := testenv.StartNATS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener, cfg.NATSURL, cfg.Logger = ln, n.URL, testenv.Logger(t)
	f, err := NewFloor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	nc, _ := n.Connect()
	return f, nc
}

// receive reads frames of v until it has want messages, failing after a
// deadline.
func receive(t *testing.T, v *rawViewer, want int) []string {
	t.Helper()
	v.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []string
	for len(got) < want {
		msgs, _, err := v.next()
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(got), want, err)
		}
		for _, m := range msgs {
			got = append(got, string(m))
		}
	}
	return got
}

// Every viewer of a match gets each of its swarms once, in order, and the
// viewers of another match get none of them.
func TestFloorDelivers(t *testing.T) {
	f, nc := startFloor(t, FloorConfig{Loops: 2})
	ctx := context.Background()
	a, err := dialRawViewers(ctx, []string{f.URL()}, 20, 8, wire.LiveSubject("a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := dialRawViewers(ctx, []string{f.URL()}, 5, 8, wire.LiveSubject("b"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "25 viewers held", func() bool { return f.Viewers() == 25 })
	for _, s := range []string{"a1", "a2", "a3"} {
		nc.Publish(wire.LiveSubject("a"), []byte(s))
	}
	nc.Publish(wire.LiveSubject("b"), []byte("b1"))
	nc.Flush()
	for i, v := range a {
		if got := strings.Join(receive(t, v, 3), ","); got != "a1,a2,a3" {
			t.Errorf("viewer a%d got %s, want a1,a2,a3", i, got)
		}
	}
	for i, v := range b {
		if got := strings.Join(receive(t, v, 1), ","); got != "b1" {
			t.Errorf("viewer b%d got %s, want b1", i, got)
		}
	}
	for _, v := range append(a, b...) {
		v.Close()
	}
	testenv.WaitFor(t, 10*time.Second, "closed viewers dropped", func() bool { return f.Viewers() == 0 })
}

// Bad clients are closed and change nothing for the others: no upgrade, a
// wildcard subscription, an unmasked frame, more than MaxConnections.
func TestFloorRefuses(t *testing.T) {
	f, nc := startFloor(t, FloorConfig{MaxConnections: 3})
	addr := strings.TrimPrefix(f.URL(), "ws://")
	plain, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	plain.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if line, _ := bufio.NewReader(plain).ReadString('\n'); !strings.Contains(line, "400") {
		t.Errorf("plain GET answered %q, want 400", line)
	}
	if _, err := dialRawViewer(context.Background(), f.URL(), "emostream.live.>"); err == nil {
		t.Error("a wildcard subscription was taken")
	}
	// The floor answers a refused handshake before it lets the connection
	// go: wait until both refused ones no longer count against the limit.
	plain.Close()
	testenv.WaitFor(t, 10*time.Second, "the refused connections released", func() bool { return f.open.Load() == 0 })
	good, err := dialRawViewers(context.Background(), []string{f.URL()}, 3, 1, wire.LiveSubject("m"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dialRawViewer(context.Background(), f.URL(), wire.LiveSubject("m")); err == nil {
		t.Error("a viewer past MaxConnections was taken")
	}
	testenv.WaitFor(t, 10*time.Second, "3 viewers held", func() bool { return f.Viewers() == 3 })
	nc.Publish(wire.LiveSubject("m"), []byte("x"))
	nc.Flush()
	for _, v := range good {
		receive(t, v, 1)
		v.Close()
	}
}

// A viewer that never reads is closed once MaxPending bytes wait for it;
// the others keep receiving.
func TestFloorDropsNeverReadingViewer(t *testing.T) {
	f, nc := startFloor(t, FloorConfig{MaxPending: 4 << 10, Loops: 1})
	vs, err := dialRawViewers(context.Background(), []string{f.URL()}, 2, 2, wire.LiveSubject("m"))
	if err != nil {
		t.Fatal(err)
	}
	reader, stalled := vs[0], vs[1]
	defer reader.Close()
	defer stalled.Close()
	// A viewer is counted once its loop took it, just after its PONG.
	testenv.WaitFor(t, 10*time.Second, "both viewers on a loop", func() bool { return f.Viewers() == 2 })
	body := []byte(strings.Repeat("x", 1000))
	sent := 0
	// Enough to fill both sockets' buffers many times over, in steps the
	// reader keeps up with.
	for f.Viewers() == 2 && sent < 40_000 {
		for range 100 {
			nc.Publish(wire.LiveSubject("m"), body)
		}
		nc.Flush()
		sent += 100
		receive(t, reader, 100)
	}
	if f.Viewers() != 1 {
		t.Fatalf("after %d messages the never-reading viewer is still held (%d viewers)", sent, f.Viewers())
	}
	nc.Publish(wire.LiveSubject("m"), []byte("after"))
	nc.Flush()
	if got := receive(t, reader, 1); got[0] != "after" {
		t.Errorf("reader got %q after the drop", got[0])
	}
}

// Whatever a client sends before and during the handshake, the floor
// neither crashes nor stalls: a good viewer is served afterwards.
func FuzzFloorHandshake(f *testing.F) {
	upgradeReq := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	for _, seed := range []string{"", "GET / HTTP/1.1\r\n\r\n", upgradeReq, upgradeReq + "\x81\x85\x00\x00\x00\x00PING\r",
		upgradeReq + "\x82\xff\xff\xff\xff\xff\xff\xff\xff\xff", upgradeReq + "\x82\x7e\xff\xff", strings.Repeat("A", 20000),
		upgradeReq + "\x88\x80\x00\x00\x00\x00"} {
		f.Add([]byte(seed))
	}
	fl, _ := startFloor(f, FloorConfig{HandshakeTimeout: 200 * time.Millisecond})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", strings.TrimPrefix(fl.URL(), "ws://"))
		if err != nil {
			t.Fatal(err)
		}
		c.Write(in)
		c.Close()
		v, err := dialRawViewer(context.Background(), fl.URL(), wire.LiveSubject("fuzz"))
		if err != nil {
			t.Fatalf("a good viewer after %q: %v", in, err)
		}
		v.Close()
	})
}
