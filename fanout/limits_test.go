package fanout

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// TestHubMaxSubscriptions: a stage connection past MaxSubscriptions and a
// leaf connection past LeafMaxSubscriptions get nats-server's "maximum
// subscriptions exceeded" for each subscription too many, and keep their
// connection and the subscriptions they had; the hub serves every other
// connection on. A connection's subscriptions on the hub had no bound.
func TestHubMaxSubscriptions(t *testing.T) {
	const stageMax, leafMax = 8, 16
	h := startHubConfig(t, HubConfig{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0",
		MaxSubscriptions: stageMax, LeafMaxSubscriptions: leafMax, Logger: testLogger()})
	stage := connect(t, h.ClientURL())

	t.Run("stage", func(t *testing.T) {
		refused := make(chan error, 1)
		nc := connect(t, h.ClientURL(), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case refused <- err:
			default:
			}
		}))
		got := make(chan string, stageMax+1)
		for i := range stageMax + 1 {
			if _, err := nc.Subscribe(fmt.Sprintf("test.stage.%d", i), func(m *nats.Msg) { got <- m.Subject }); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case err := <-refused:
			if !errors.Is(err, nats.ErrMaxSubscriptionsExceeded) {
				t.Fatalf("subscription %d: %v, want nats.ErrMaxSubscriptionsExceeded", stageMax+1, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("subscription %d of MaxSubscriptions %d: no error", stageMax+1, stageMax)
		}
		// Published in this order by one connection: the refused
		// subscription's message would arrive first.
		for _, s := range []string{fmt.Sprintf("test.stage.%d", stageMax), "test.stage.0"} {
			if err := stage.Publish(s, nil); err != nil {
				t.Fatal(err)
			}
		}
		if s := receive(t, got); s != "test.stage.0" || !nc.IsConnected() {
			t.Errorf("received %s (connected %v), want test.stage.0 on the same connection", s, nc.IsConnected())
		}
		other := connect(t, h.ClientURL())
		sub, err := other.SubscribeSync("test.stage.other")
		if err != nil {
			t.Fatal(err)
		}
		other.Flush()
		stage.Publish("test.stage.other", nil)
		if _, err := sub.NextMsg(10 * time.Second); err != nil {
			t.Errorf("another stage connection: %v", err)
		}
	})

	t.Run("leaf", func(t *testing.T) {
		var log testenv.LogBuffer
		c := leafConfig("capped", h.LeafRemote(), false)
		c.MaxSubscriptions, c.Logger = 4*leafMax, slog.New(slog.NewTextHandler(&log, nil))
		capped := startLeaf(t, c)
		other := startLeaf(t, leafConfig("other", h.LeafRemote(), false))
		waitLeafs(t, h.embedded, 2)
		edge := connect(t, capped.EdgeUpstream())
		for i := range 2 * leafMax {
			if _, err := edge.SubscribeSync(wire.LiveSubject(fmt.Sprintf("m%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		edge.Flush()
		waitFor(t, 10*time.Second, func() bool { return strings.Contains(log.String(), server.ErrTooManySubs.Error()) },
			"the leaf to log %q", server.ErrTooManySubs)
		lz, err := h.Server().Leafz(&server.LeafzOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lz.Leafs {
			if l.Name == "capped" && l.NumSubs > leafMax {
				t.Errorf("the hub holds %d subscriptions of leaf capped, LeafMaxSubscriptions %d", l.NumSubs, leafMax)
			}
		}
		if n := h.Server().NumLeafNodes(); n != 2 {
			t.Errorf("%d leaf connections, want both still connected", n)
		}
		viewer := connect(t, other.EdgeUpstream())
		sub, err := viewer.SubscribeSync(wire.LiveSubject("watched"))
		if err != nil {
			t.Fatal(err)
		}
		waitInterest(t, h.embedded, wire.LiveSubject("watched"), 1)
		stage.Publish(wire.LiveSubject("watched"), []byte("swarm"))
		if _, err := sub.NextMsg(10 * time.Second); err != nil {
			t.Errorf("a viewer of the other leaf: %v", err)
		}
	})
}

// TestHubLeafManyMatches: at the default bounds, a leaf whose viewers
// watch every match of a full registry (registry.DefaultMaxMatches, all
// live) has the hub's interest in each and gets every one's swarms.
func TestHubLeafManyMatches(t *testing.T) {
	const matches = 10_000 // registry.DefaultMaxMatches
	h := startHub(t)
	c := leafConfig("many", h.LeafRemote(), false)
	c.MaxSubscriptions = matches + 16
	l := startLeaf(t, c)
	waitLeafs(t, h.embedded, 1)
	edge := connect(t, l.EdgeUpstream())
	got := make(chan string, 2)
	for i := range matches {
		if _, err := edge.Subscribe(wire.LiveSubject(fmt.Sprintf("m%d", i)), func(m *nats.Msg) { got <- m.Subject }); err != nil {
			t.Fatal(err)
		}
	}
	edge.Flush()
	last := wire.LiveSubject(fmt.Sprintf("m%d", matches-1))
	waitInterest(t, h.embedded, last, 1)
	stage := connect(t, h.ClientURL())
	for _, s := range []string{wire.LiveSubject("m0"), last} {
		stage.Publish(s, []byte("swarm"))
		if r := receive(t, got); r != s {
			t.Errorf("received %s, want %s", r, s)
		}
	}
}

// receive is the next subject on got, failing after 10 s.
func receive(t *testing.T, got <-chan string) string {
	t.Helper()
	select {
	case s := <-got:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no message in 10 s")
		return ""
	}
}

// TestHubSubscriptionBoundsDefaults: the rendered configuration and
// nats.conf bound a stage connection at DefaultHubMaxSubs and every
// connection (a leaf's) at DefaultHubLeafMaxSubs.
func TestHubSubscriptionBoundsDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) (HubConfig, map[string]string)
	}{
		{"rendered", func(t *testing.T) (HubConfig, map[string]string) {
			return HubConfig{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0",
				Passwords: map[string]string{UserProcessor: "test-processor"}, Logger: testLogger()}, nil
		}},
		{"nats.conf", func(t *testing.T) (HubConfig, map[string]string) {
			pw := confPasswords(t)
			return HubConfig{ConfigFile: fileCopy(t, "nats.conf", nil), Logger: testLogger()}, pw
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, pw := tc.cfg(t)
			h := startHubConfig(t, cfg)
			if pw == nil {
				pw = h.Passwords()
			}
			if h.opts.MaxSubs != DefaultHubLeafMaxSubs {
				t.Errorf("max_subscriptions %d, want DefaultHubLeafMaxSubs (%d)", h.opts.MaxSubs, DefaultHubLeafMaxSubs)
			}
			nc := connect(t, h.ClientURL(), nats.UserInfo(UserProcessor, pw[UserProcessor]), nats.Name("bounded"),
				nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
			for i := range DefaultHubMaxSubs + 1 {
				if _, err := nc.SubscribeSync(fmt.Sprintf("_INBOX.bound.%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			cz, err := h.Server().Connz(&server.ConnzOptions{})
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(cz.Conns, func(c *server.ConnInfo) bool { return c.Name == "bounded" })
			if i < 0 {
				t.Fatal("the processor's connection is not in /connz")
			}
			if n := cz.Conns[i].NumSubs; n != DefaultHubMaxSubs {
				t.Errorf("the processor holds %d subscriptions on the hub, want DefaultHubMaxSubs (%d)", n, DefaultHubMaxSubs)
			}
		})
	}
}
