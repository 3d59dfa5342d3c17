package fanout

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// TestReadOnlyRepliesStoreNothing: nats-server lets a requester choose any
// reply subject, and the answer goes to that subject in the account that
// answered. The read-only users (monitor, edge with its swarm reads, and
// ingest with its registry and timeline reads) aim answers at the
// partials, swarm, timeline and registry subjects; none of them is
// stored, because no such user is in the streams' account STAGES: each
// reaches the JetStream API it may use through a service import, whose
// answer goes back to its own account. The reads themselves still work.
// Both on a hub of HubConfig and on one of the repository's nats.conf.
func TestReadOnlyRepliesStoreNothing(t *testing.T) { onBothHubs(t, checkRepliesStoreNothing) }

// onBothHubs runs check on a hub of HubConfig with stage users and on one
// of the repository's nats.conf, with their users' passwords.
func onBothHubs(t *testing.T, check func(*testing.T, *Hub, map[string]string)) {
	t.Run("HubConfig", func(t *testing.T) {
		h := startAuthHub(t, HubConfig{})
		check(t, h, h.Passwords())
	})
	t.Run("nats.conf", func(t *testing.T) {
		pw := confPasswords(t)
		check(t, startHubConfig(t, HubConfig{ConfigFile: fileCopy(t, "nats.conf", nil), Logger: testLogger()}), pw)
	})
}

func checkRepliesStoreNothing(t *testing.T, h *Hub, passwords map[string]string) {
	as := func(user string) *stage { return connectWith(t, h, user, nats.UserInfo(user, passwords[user])) }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := as(UserAdmin)
	reg, err := registry.Open(ctx, admin.js, registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Create(ctx, registry.Match{ID: "m1", State: registry.Live}); err != nil {
		t.Fatal(err)
	}
	proc := as(UserProcessor)
	if err := streams.Ensure(ctx, proc.js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	// A swarm without Nats-Msg-Id, so that a copy of it aimed back at the
	// swarm stream would not be dropped as a duplicate.
	if _, err := proc.js.Publish(ctx, wire.SwarmSubject("m1"), swarmBody("m1", 1)); err != nil {
		t.Fatal(err)
	}
	record := wire.TimelineSubject("m1", wire.TimelineWindows)
	if _, err := proc.js.Publish(ctx, record, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	bridge := as(UserBridge)
	if _, err := bridge.js.Publish(ctx, wire.PartialSubject(0), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	kvStream := "KV_" + wire.MatchesBucket
	lastSeqs := func() map[string]uint64 {
		t.Helper()
		seqs := map[string]uint64{}
		for _, name := range []string{wire.PartialsStream, wire.SwarmsStream, wire.TimelineStream, kvStream} {
			s, err := admin.js.Stream(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			seqs[name] = s.CachedInfo().State.LastSeq
		}
		return seqs
	}
	before := lastSeqs()

	targets := []string{wire.PartialSubject(0), wire.SwarmSubject("evil"), wire.TimelineSubject("evil", wire.TimelineWindows),
		"$KV." + wire.MatchesBucket + ".evil"}
	latest := wire.LatestSwarmRequest("m1")
	key := "$KV." + wire.MatchesBucket + ".m1"
	for _, c := range []struct {
		user     string
		requests []string // with a reply subject aimed at a stream
		read     string   // a direct get the user may make, of subject
		subject  string
	}{
		// $JS.API.INFO and STREAM.INFO are answered by JetStream's pool of
		// workers, in no set order: only the direct gets, answered in the
		// order they come, are sure to be answered before the check below.
		{UserMonitor, []string{jsAPI + "INFO", streamInfo(wire.SwarmsStream), latest, directGet(kvStream) + "." + key}, latest, wire.SwarmSubject("m1")},
		{UserEdge, []string{latest, wire.SwarmsGet}, latest, wire.SwarmSubject("m1")},
		{UserIngest, []string{directGet(wire.TimelineStream) + "." + record, directGet(kvStream) + "." + key},
			directGet(kvStream) + "." + key, key},
	} {
		s := as(c.user)
		for _, subject := range c.requests {
			for _, reply := range targets {
				body := []byte(nil)
				if subject == wire.SwarmsGet {
					body = wire.SwarmsAfter("m1", 1)
				}
				if err := s.nc.PublishRequest(subject, reply, body); err != nil {
					t.Fatal(err)
				}
			}
		}
		// A read with a reply inbox: it works, and its answer comes after
		// those of the requests above.
		m, err := s.nc.Request(c.read, nil, 5*time.Second)
		if err != nil || m.Header.Get("Nats-Subject") != c.subject {
			t.Fatalf("%s reads %s: %v %v", c.user, c.subject, m, err)
		}
		select {
		case e := <-s.errs:
			t.Errorf("%s: %s", c.user, e)
		default:
		}
	}
	// The monitor's account information is the streams' account's.
	monitor := as(UserMonitor)
	m, err := monitor.nc.Request(jsAPI+"INFO", nil, 5*time.Second)
	var info struct {
		Streams int `json:"streams"`
		Error   any `json:"error"`
	}
	if err != nil || json.Unmarshal(m.Data, &info) != nil || info.Error != nil || info.Streams != 4 {
		t.Errorf("monitor's $JS.API.INFO: %v, %+v, want the 4 streams of STAGES", err, info)
	}

	// One message more in each stream, stored after anything aimed at it
	// above (a stream stores in the order messages come).
	if _, err := bridge.js.Publish(ctx, wire.PartialSubject(0), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := proc.js.Publish(ctx, wire.SwarmSubject("m1"), swarmBody("m1", 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := proc.js.Publish(ctx, record, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	kv, err := admin.js.KeyValue(ctx, wire.MatchesBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "barrier", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	after := lastSeqs()
	for name, seq := range before {
		if after[name] != seq+1 {
			t.Errorf("%s: last sequence %d, then %d: %d message(s) stored besides the stage's one", name, seq, after[name], after[name]-seq-1)
		}
	}
	if _, err := kv.Get(ctx, "evil"); err == nil {
		t.Errorf("the registry has a key %q", "evil")
	}
}

// TestHubEdgeUser: an edge connected to the hub as user edge (in the
// leaves' account) gets live swarms, the latest and the next stored swarm,
// and its occupancy reports reach the processor; on a hub of HubConfig and
// of nats.conf.
func TestHubEdgeUser(t *testing.T) { onBothHubs(t, checkHubEdge) }

func checkHubEdge(t *testing.T, h *Hub, passwords map[string]string) {
	as := func(user string) *stage { return connectWith(t, h, user, nats.UserInfo(user, passwords[user])) }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	proc := as(UserProcessor)
	if err := streams.Ensure(ctx, proc.js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	reports, err := proc.nc.SubscribeSync(wire.ViewersSubjects)
	if err == nil {
		err = proc.nc.Flush() // the server has the subscription
	}
	if err != nil {
		t.Fatal(err)
	}
	publishSwarm(t, proc.js, "cup", 1)
	edge := as(UserEdge)
	live, err := edge.nc.SubscribeSync(wire.LiveSubject("cup"))
	if err != nil {
		t.Fatal(err)
	}
	if body, err := LatestSwarm(ctx, edge.nc, "cup"); err != nil || windowOf(t, body) != 1 {
		t.Fatalf("edge's latest swarm: %s, %v", body, err)
	}
	// The answer came after the server had the live subscription.
	publishSwarm(t, proc.js, "cup", 2)
	if m, err := live.NextMsg(5 * time.Second); err != nil || windowOf(t, m.Data) != 2 {
		t.Fatalf("edge's live swarm: %v, %v", m, err)
	}
	if s, ok, err := nextSwarm(ctx, edge.nc, "cup", 2, getTimeout); err != nil || !ok || windowOf(t, s.body) != 2 {
		t.Fatalf("edge's next swarm from sequence 2: %+v %v %v", s, ok, err)
	}
	report := []byte(`{"edge":"e1","matches":{"cup":3}}`)
	if err := edge.nc.Publish(wire.ViewersSubjects[:len(wire.ViewersSubjects)-1]+"e1", report); err != nil {
		t.Fatal(err)
	}
	if m, err := reports.NextMsg(5 * time.Second); err != nil || string(m.Data) != string(report) {
		t.Fatalf("the processor's occupancy report: %v, %v", m, err)
	}
	select {
	case e := <-edge.errs:
		t.Errorf("edge: %s", e)
	default:
	}
}
