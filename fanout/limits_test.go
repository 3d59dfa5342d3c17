package fanout

import (
	"context"
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
		nc, refused := connectRefused(t, h.ClientURL())
		got := make(chan string, stageMax+1)
		for i := range stageMax + 1 {
			if _, err := nc.Subscribe(fmt.Sprintf("test.stage.%d", i), func(m *nats.Msg) { got <- m.Subject }); err != nil {
				t.Fatal(err)
			}
		}
		wantTooManySubs(t, refused, stageMax)
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
			if n := subscribeMany(t, h.embedded, nc, DefaultHubMaxSubs+1, "_INBOX.bound."); n != DefaultHubMaxSubs {
				t.Errorf("the processor holds %d subscriptions on the hub, want DefaultHubMaxSubs (%d)", n, DefaultHubMaxSubs)
			}
		})
	}
}

// connectRefused connects to url and returns the connection with its first
// asynchronous error (a subscription refused).
func connectRefused(t *testing.T, url string) (*nats.Conn, <-chan error) {
	refused := make(chan error, 1)
	nc := connect(t, url, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case refused <- err:
		default:
		}
	}))
	return nc, refused
}

// wantTooManySubs waits for the refusal of subscription bound+1.
func wantTooManySubs(t *testing.T, refused <-chan error, bound int) {
	t.Helper()
	select {
	case err := <-refused:
		if !errors.Is(err, nats.ErrMaxSubscriptionsExceeded) {
			t.Fatalf("subscription %d: %v, want nats.ErrMaxSubscriptionsExceeded", bound+1, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("subscription %d of a bound of %d: no error", bound+1, bound)
	}
}

// Subscription bounds along the leaf hierarchy, scaled down: what a leaf
// connection carries to its hub (or parent leaf) is one subscription per
// distinct subject its viewers watch, not one per viewer.

// TestViewersPastTheHubsLeafBound: more viewers on a leaf's WebSocket than
// the hub's LeafMaxSubscriptions each get their late-join swarm and the
// live ones. A viewer's reply inbox is in the leaf's account VIEWERS and
// never crosses the link: its request reaches the hub through a service
// import, whose answer comes back on one wildcard (_R_.<id>.>) per leaf.
func TestViewersPastTheHubsLeafBound(t *testing.T) {
	const bound, viewers = 8, 3 * 8
	var log testenv.LogBuffer
	h := startHubConfig(t, HubConfig{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0",
		MaxSubscriptions: bound, LeafMaxSubscriptions: bound, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	l := startLeaf(t, leafConfig("wide", h.LeafRemote(), false))
	waitLeafs(t, h.embedded, 1)
	checkViewersServed(t, h, l, h.embedded, slices.Repeat([]string{"m"}, viewers))
	wantNoRefusal(t, "the hub", &log)
}

// TestViewersPastTheParentLeafsBound: more viewers on a leaf of a leaf than
// the parent's LeafMaxSubscriptions each get their late-join swarm and the
// live ones.
func TestViewersPastTheParentLeafsBound(t *testing.T) {
	const bound, viewers = minLeafLinkSubs, 3 * minLeafLinkSubs
	h, parent, child, log := startChain(t, func(c *LeafConfig) { c.MaxSubscriptions, c.LeafMaxSubscriptions = bound, bound })
	checkViewersServed(t, h, child, parent.embedded, slices.Repeat([]string{"m"}, viewers))
	wantNoRefusal(t, "the parent", log)
}

// startChain starts a hub, a leaf "parent" of it (cfg applied, its log in
// the returned buffer) and a leaf "child" of the parent.
func startChain(t *testing.T, cfg func(*LeafConfig)) (h *Hub, parent, child *Leaf, log *testenv.LogBuffer) {
	h = startHub(t)
	c, log := loggedLeaf("parent", h.LeafRemote(), true)
	cfg(&c)
	parent = startLeaf(t, c)
	child = startLeaf(t, leafConfig("child", parent.LeafRemote(), false))
	waitLeafs(t, h.embedded, 1)
	waitLeafs(t, parent.embedded, 2) // its hub and the child
	return h, parent, child, log
}

// loggedLeaf is leafConfig logging into the returned buffer.
func loggedLeaf(name, remote string, withLeafListener bool) (LeafConfig, *testenv.LogBuffer) {
	log := &testenv.LogBuffer{}
	c := leafConfig(name, remote, withLeafListener)
	c.Logger = slog.New(slog.NewTextHandler(log, nil))
	return c, log
}

// TestLeafLinkPastTheViewersBound: a leaf's MaxSubscriptions bounds its
// viewers, not its link to the hub, which carries the hub's interest (its
// JetStream API and the two reads' imports, about a dozen subjects). With
// MaxSubscriptions below that, the leaf takes all of it and its viewers
// get their late join and live swarms; a viewer is still refused past
// MaxSubscriptions. The leaf refused the subjects past its bound, in the
// order the hub sent them (at random), the late-join reads' among them.
func TestLeafLinkPastTheViewersBound(t *testing.T) {
	const bound = 4
	h := startHub(t)
	c, log := loggedLeaf("capped", h.LeafRemote(), false)
	c.MaxSubscriptions = bound
	l := startLeaf(t, c)
	waitLeafs(t, h.embedded, 1)
	// The hub's interest came in one batch when the link was made, before
	// any answer on it.
	checkViewersServed(t, h, l, h.embedded, slices.Repeat([]string{"m"}, 2*bound))
	wantNoRefusal(t, "the leaf", log)
	nc, refused := connectRefused(t, l.WebSocketURL())
	for i := range bound + 1 {
		if _, err := nc.SubscribeSync(wire.LiveSubject(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	wantTooManySubs(t, refused, bound)
}

// TestChildMatchesPastTheParentsViewerBound: a leaf of a leaf carries to
// its parent one subscription per distinct match its viewers watch; more
// of them than the parent's MaxSubscriptions (a viewer's bound) each get
// their late-join and live swarms.
func TestChildMatchesPastTheParentsViewerBound(t *testing.T) {
	const bound = 8
	h, parent, child, log := startChain(t, func(c *LeafConfig) { c.MaxSubscriptions = bound })
	matches := make([]string, 3*bound)
	for i := range matches {
		matches[i] = fmt.Sprintf("m%d", i)
	}
	checkViewersServed(t, h, child, parent.embedded, matches)
	wantNoRefusal(t, "the parent", log)
}

// checkViewersServed connects one viewer per entry of matches to l's
// WebSocket, watching that match, and checks that each gets the latest
// stored swarm (window 1), then the live one of window 2, which up must
// forward.
func checkViewersServed(t *testing.T, h *Hub, l *Leaf, up *embedded, matches []string) {
	t.Helper()
	js := stageJS(t, h)
	distinct := slices.Compact(slices.Sorted(slices.Values(matches)))
	for _, m := range distinct {
		publishSwarm(t, js, m, 1)
	}
	live := make([]*nats.Subscription, len(matches))
	for i, m := range matches {
		nc := connect(t, l.WebSocketURL())
		sub, err := nc.SubscribeSync(wire.LiveSubject(m))
		if err != nil {
			t.Fatal(err)
		}
		live[i] = sub
		if w := lateJoin(t, nc, m); w != 1 {
			t.Fatalf("viewer %d of %d: late-join window %d, want 1", i+1, len(matches), w)
		}
	}
	for _, m := range distinct {
		waitInterest(t, up, wire.LiveSubject(m), 1)
		publishSwarm(t, js, m, 2)
	}
	for i, sub := range live {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("viewer %d of %d (%s): live swarm: %v", i+1, len(matches), matches[i], err)
		}
		if w := windowOf(t, m.Data); w != 2 {
			t.Errorf("viewer %d of %d: live window %d, want 2", i+1, len(matches), w)
		}
	}
}

// wantNoRefusal fails the test if who logged a subscription refused past
// its bound. A server logs it as it reads the subscription, and a link
// carries a viewer's subscriptions before its request: checked after the
// answers, the log is complete.
func wantNoRefusal(t *testing.T, who string, log *testenv.LogBuffer) {
	t.Helper()
	if strings.Contains(log.String(), server.ErrTooManySubs.Error()) {
		t.Errorf("%s refused subscriptions past its bound:\n%s", who, log.String())
	}
}

// lateJoin is the window of the latest swarm of match read on nc, asking
// again while a read gets no answer (a link just up), for at most 10 s.
func lateJoin(t *testing.T, nc *nats.Conn, match string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := storedGet(context.Background(), nc, wire.LatestSwarmRequest(match), nil, 2*time.Second)
		switch {
		case err == nil && m != nil:
			return windowOf(t, m.Data)
		case err == nil:
			t.Fatalf("late join of %s: no stored swarm", match)
		case !noAnswer(err) || time.Now().After(deadline):
			t.Fatalf("late join of %s: %v", match, err)
		}
	}
}

// TestLeafSubscriptionBoundsDefaults: the rendered configuration and the
// deploy/ leaf files bound a viewer at DefaultLeafMaxSubs and every other
// connection (the link to the hub among them) at DefaultLeafLinkMaxSubs.
func TestLeafSubscriptionBoundsDefaults(t *testing.T) {
	h := startHubConfig(t, HubConfig{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0",
		LeafPassword: "file-test-secret", Logger: testLogger()})
	t.Setenv("EMOSTREAM_LEAF_PASSWORD", "file-test-secret")
	t.Setenv("EMOSTREAM_LEAF_REMOTE", strings.Replace(h.LeafURL(), "nats-leaf://", "nats-leaf://leaf:file-test-secret@", 1))
	for _, name := range []string{"rendered", "deploy/leaf-a.conf", "deploy/leaf-a1.conf", "deploy/leaf-b.conf"} {
		t.Run(name, func(t *testing.T) {
			c := leafConfig("bounded", h.LeafRemote(), false)
			if name != "rendered" {
				c = LeafConfig{ConfigFile: fileCopy(t, name, nil), Logger: testLogger()}
			}
			l := startLeaf(t, c)
			if l.opts.MaxSubs != DefaultLeafLinkMaxSubs {
				t.Errorf("max_subscriptions %d, want DefaultLeafLinkMaxSubs (%d)", l.opts.MaxSubs, DefaultLeafLinkMaxSubs)
			}
			nc := connect(t, l.WebSocketURL(), nats.Name("bounded"), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
			if n := subscribeMany(t, l.embedded, nc, DefaultLeafMaxSubs+1, wire.LiveSubject("m")); n != DefaultLeafMaxSubs {
				t.Errorf("a viewer holds %d subscriptions on the leaf, want DefaultLeafMaxSubs (%d)", n, DefaultLeafMaxSubs)
			}
		})
	}
}

// subscribeMany subscribes nc, a connection named "bounded" on e, to n
// subjects (prefix and a number) and returns how many e holds.
func subscribeMany(t *testing.T, e *embedded, nc *nats.Conn, n int, prefix string) int {
	t.Helper()
	for i := range n {
		if _, err := nc.SubscribeSync(fmt.Sprintf("%s%d", prefix, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	cz, err := e.Server().Connz(&server.ConnzOptions{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(cz.Conns, func(c *server.ConnInfo) bool { return c.Name == "bounded" })
	if i < 0 {
		t.Fatal("the connection is not in /connz")
	}
	return int(cz.Conns[i].NumSubs)
}
