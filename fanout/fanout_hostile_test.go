package fanout_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/fanout/fanouttest"
	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// hostileTree is a hub with the streams and one stored swarm, and one leaf
// built from cfg (remote and listeners filled in).
func hostileTree(t *testing.T, cfg fanout.LeafConfig) (*fanout.Leaf, func() jetstream.StreamState) {
	t.Helper()
	h, err := fanout.NewHub(fanout.HubConfig{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0",
		Logger: testenv.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Shutdown)
	cfg.Remotes, cfg.WebSocketListen = []string{h.LeafRemote()}, "127.0.0.1:0"
	l := fanouttest.StartLeaf(t, cfg)
	nc, err := nats.Connect(h.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if err := streams.Ensure(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	sw := `{"match_id":"final","window_start":"2026-11-23T05:00:00Z","window_end":"2026-11-23T05:00:02Z","counts":{"🔥":1},"swarm":{},"carry":{"🔥":1},"total":1,"partitions":1,"closed_by":"all_partitions","published_at":"2026-11-23T05:00:02Z"}`
	if _, err := js.Publish(ctx, wire.SwarmSubject("final"), []byte(sw)); err != nil {
		t.Fatal(err)
	}
	state := func() jetstream.StreamState {
		out := jetstream.StreamState{}
		for _, name := range []string{wire.SwarmsStream, wire.PartialsStream} {
			s, err := js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			info, err := s.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out.Msgs += info.State.Msgs
			out.LastSeq += info.State.LastSeq
			out.Bytes += info.State.Bytes
		}
		return out
	}
	return l, state
}

// wsHandshake opens a raw WebSocket upgrade to the leaf with origin and
// returns the HTTP status the server answered.
func wsHandshake(t *testing.T, wsURL, origin string) int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(wsURL, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req, _ := http.NewRequest(http.MethodGet, "http://"+strings.TrimPrefix(wsURL, "ws://")+"/", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestBadOrigin: with AllowedOrigins set, a browser page of another origin
// cannot open a viewer connection; the listed origin can.
func TestBadOrigin(t *testing.T) {
	l, _ := hostileTree(t, fanout.LeafConfig{AllowedOrigins: []string{"https://emostream.example"}})
	if s := wsHandshake(t, l.WebSocketURL(), "https://evil.example"); s != http.StatusForbidden {
		t.Errorf("foreign origin: status %d, want 403", s)
	}
	if s := wsHandshake(t, l.WebSocketURL(), "http://emostream.example"); s != http.StatusForbidden {
		t.Errorf("listed host, other scheme: status %d, want 403", s)
	}
	if s := wsHandshake(t, l.WebSocketURL(), "https://emostream.example"); s != http.StatusSwitchingProtocols {
		t.Errorf("listed origin: status %d, want 101", s)
	}
}

// TestViewerLimits: past the leaf's connection, subscription and payload
// limits a viewer is refused, the others keep working, and the streams are
// unchanged.
func TestViewerLimits(t *testing.T) {
	l, state := hostileTree(t, fanout.LeafConfig{MaxConnections: 4, MaxSubscriptions: 16, MaxPayload: 1024})
	before := state()
	var viewers []*nats.Conn
	for range 4 {
		errs := make(chan error, 16)
		nc, err := nats.Connect(l.WebSocketURL(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
		if err != nil {
			t.Fatalf("viewer %d: %v", len(viewers), err)
		}
		t.Cleanup(nc.Close)
		viewers = append(viewers, nc)
	}
	if nc, err := nats.Connect(l.WebSocketURL(), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Error("a fifth viewer was accepted past max_connections 4")
	} else if msg := strings.ToLower(err.Error()); !strings.Contains(msg, "maximum connections") &&
		!strings.Contains(msg, "broken pipe") && !strings.Contains(msg, "connection reset") {
		// The server writes -ERR and closes at once: the client may see the
		// close (broken pipe, reset) before it reads the error.
		t.Errorf("fifth viewer refused with %v, want maximum connections exceeded", err)
	}

	// Subscriptions: the 17th is refused. (The limit also applies to the
	// leaf's own link to the hub, which needs a few: at 3 the link itself
	// is refused subscriptions and late joins find no responder.)
	errs := make(chan error, 16)
	nc, err := nats.Connect(l.WebSocketURL()+"", nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err == nil {
		t.Fatal("expected the connection limit to hold")
	}
	viewers[0].Close()
	testenv.WaitFor(t, 10*time.Second, "a free connection slot", func() bool {
		nc, err = nats.Connect(l.WebSocketURL(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
		return err == nil
	})
	t.Cleanup(nc.Close)
	for i := range 17 {
		if _, err := nc.SubscribeSync(wire.LiveSubject(string(rune('a' + i)))); err != nil {
			t.Fatal(err)
		}
	}
	nc.Flush()
	select {
	case err := <-errs:
		if !strings.Contains(strings.ToLower(err.Error()), "maximum subscriptions") {
			t.Errorf("17th subscription: %v, want maximum subscriptions exceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("a 17th subscription was not refused")
	}

	// Payload: a request over max_payload is refused by the client library
	// or cuts the viewer off; the leaf serves the others.
	big := make([]byte, 4096)
	if err := viewers[1].Publish(wire.LatestSwarmRequest("final"), big); err == nil {
		viewers[1].Flush()
	}
	if b, err := fanout.LatestSwarm(context.Background(), viewers[2], "final"); err != nil || len(b) == 0 {
		t.Errorf("another viewer's latest swarm after the oversized publish: %q %v", b, err)
	}
	if after := state(); !reflect.DeepEqual(after, before) {
		t.Errorf("streams changed: %+v → %+v", before, after)
	}
}
