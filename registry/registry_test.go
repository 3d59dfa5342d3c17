package registry_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

func open(t *testing.T, n *testenv.NATS, cfg registry.Config) *registry.Registry {
	t.Helper()
	_, js := n.Connect()
	r, err := registry.Open(context.Background(), js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run starts r's watch and waits until it has loaded the bucket.
func run(t *testing.T, r *registry.Registry) {
	t.Helper()
	testenv.Background(t, "registry", r.Run)
	testenv.WaitFor(t, 10*time.Second, "registry loaded", func() bool { return r.Ready() == nil })
}

func TestLifecycle(t *testing.T) {
	n := testenv.StartNATS(t)
	r := open(t, n, registry.Config{})
	ctx := context.Background()
	run(t, r)
	if err := r.Admit("final"); !errors.Is(err, registry.ErrUnknownMatch) {
		t.Fatalf("unknown match admitted: %v", err)
	}
	start := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	m, err := r.Create(ctx, registry.Match{ID: "final", Title: "The final", Home: "A", Away: "B", PlannedStart: &start})
	if err != nil || m.State != registry.Scheduled {
		t.Fatalf("create: %+v %v", m, err)
	}
	if _, err := r.Create(ctx, registry.Match{ID: "final"}); !errors.Is(err, registry.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	testenv.WaitFor(t, 5*time.Second, "scheduled match seen", func() bool { return errors.Is(r.Admit("final"), registry.ErrNotLive) })
	if _, err := r.Start(ctx, "final"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "live match admitted", func() bool { return r.Admit("final") == nil })
	if _, err := r.Start(ctx, "final"); !errors.Is(err, registry.ErrTransition) {
		t.Fatalf("starting a live match: %v", err)
	}
	if got := r.Snapshot().Sorted(); len(got) != 1 || got[0].Title != "The final" || got[0].StartedAt == nil {
		t.Fatalf("live matches: %+v", got)
	}
	if _, err := r.End(ctx, "final"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "ended match refused", func() bool { return errors.Is(r.Admit("final"), registry.ErrNotLive) })
	if _, err := r.Start(ctx, "final"); !errors.Is(err, registry.ErrTransition) {
		t.Fatalf("restarting an ended match: %v", err)
	}
	if err := r.Remove(ctx, "final"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "removed match unknown", func() bool { return errors.Is(r.Admit("final"), registry.ErrUnknownMatch) })
	if err := r.Remove(ctx, "final"); !errors.Is(err, registry.ErrUnknownMatch) {
		t.Fatalf("removing twice: %v", err)
	}
}

func TestInvalidMatches(t *testing.T) {
	n := testenv.StartNATS(t)
	r := open(t, n, registry.Config{})
	for _, m := range []registry.Match{
		{ID: ""}, {ID: "a.b"}, {ID: "a>"}, {ID: string(make([]byte, 65))},
		{ID: "ok", State: "paused"}, {ID: "ok", State: registry.Ended},
		{ID: "ok", Title: string(make([]byte, registry.MaxTitle+1))}, {ID: "ok", Home: "a\x00b"},
		{ID: "ok", Away: "\xff"},
	} {
		if _, err := r.Create(context.Background(), m); !errors.Is(err, registry.ErrInvalid) {
			t.Errorf("create %+.40v: %v, want ErrInvalid", m, err)
		}
	}
	if ms, err := r.List(context.Background()); err != nil || len(ms) != 0 {
		t.Fatalf("bad matches stored: %v %v", ms, err)
	}
}

func TestMaxMatches(t *testing.T) {
	n := testenv.StartNATS(t)
	r := open(t, n, registry.Config{MaxMatches: 3})
	for i := range 3 {
		if _, err := r.Create(context.Background(), registry.Match{ID: "m" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Create(context.Background(), registry.Match{ID: "m9"}); !errors.Is(err, registry.ErrFull) {
		t.Fatalf("fourth match: %v", err)
	}
}

func TestAutoMatches(t *testing.T) {
	n := testenv.StartNATS(t)
	r := open(t, n, registry.Config{AutoMatches: 2})
	run(t, r)
	for _, id := range []string{"a", "b", "a"} {
		if err := r.Admit(id); err != nil {
			t.Fatalf("admit %s: %v", id, err)
		}
	}
	if err := r.Admit("c"); !errors.Is(err, registry.ErrUnknownMatch) {
		t.Fatalf("third auto match: %v", err)
	}
	other := open(t, n, registry.Config{})
	if m, err := other.Get(context.Background(), "b"); err != nil || m.State != registry.Live || !m.Auto {
		t.Fatalf("auto match in the bucket: %+v %v", m, err)
	}
}

// TestSurvivesHubRestart: the bucket is on the hub's disk, and a watching
// registry sees changes made after the hub came back.
func TestSurvivesHubRestart(t *testing.T) {
	n := testenv.StartNATS(t)
	r := open(t, n, registry.Config{})
	run(t, r)
	ctx := context.Background()
	if _, err := r.Create(ctx, registry.Match{ID: "m1", State: registry.Live}); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "m1 admitted", func() bool { return r.Admit("m1") == nil })
	n.Restart()
	if err := r.Admit("m1"); err != nil {
		t.Fatalf("copy lost while the hub restarted: %v", err)
	}
	admin := open(t, n, registry.Config{})
	if m, err := admin.Get(ctx, "m1"); err != nil || m.State != registry.Live {
		t.Fatalf("after restart: %+v %v", m, err)
	}
	testenv.WaitFor(t, 10*time.Second, "m2 created after restart", func() bool {
		_, err := admin.Create(ctx, registry.Match{ID: "m2", State: registry.Live})
		return err == nil || errors.Is(err, registry.ErrExists)
	})
	testenv.WaitFor(t, 20*time.Second, "m2 seen by the watch", func() bool { return r.Admit("m2") == nil })
}

// TestBindFollowsTheBucket: a registry of Bind, which creates no consumer,
// loads the bucket and then follows it: matches started, ended and
// removed; a purge's gap in the sequences; a burst of more than one batch
// of updates (maxBatch, 1000). An ended match is refused within a second
// or so of the end's write (the deadline is loose, for a slow machine).
func TestBindFollowsTheBucket(t *testing.T) {
	n := testenv.StartNATS(t)
	ctx := context.Background()
	admin := open(t, n, registry.Config{})
	run(t, admin)
	for _, id := range []string{"m1", "m2", "m3"} {
		if _, err := admin.Create(ctx, registry.Match{ID: id, State: registry.Live}); err != nil {
			t.Fatal(err)
		}
	}
	if err := admin.Remove(ctx, "m3"); err != nil { // a delete marker in the first load
		t.Fatal(err)
	}
	_, js := n.Connect()
	r, err := registry.Bind(ctx, js, registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	run(t, r)
	if r.Admit("m1") != nil || r.Admit("m2") != nil || !errors.Is(r.Admit("m3"), registry.ErrUnknownMatch) {
		t.Fatalf("first load: m1 %v, m2 %v, m3 %v", r.Admit("m1"), r.Admit("m2"), r.Admit("m3"))
	}
	if _, err := admin.End(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "m1 ended", func() bool { return errors.Is(r.Admit("m1"), registry.ErrNotLive) })
	kv, err := js.KeyValue(ctx, wire.MatchesBucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Purge(ctx, "m2"); err != nil { // a rollup: m2's earlier messages gone
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "m2 purged", func() bool { return errors.Is(r.Admit("m2"), registry.ErrUnknownMatch) })
	var last jetstream.PubAckFuture
	for i := range 2500 { // asynchronous: more than maxBatch between two reads
		id := fmt.Sprintf("b%d", i)
		if last, err = js.PublishAsync("$KV."+wire.MatchesBucket+"."+id, []byte(`{"id":"`+id+`","state":"live"}`)); err != nil {
			t.Fatal(err)
		}
	}
	var ack *jetstream.PubAck
	select {
	case ack = <-last.Ok():
	case err := <-last.Err():
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "the burst read", func() bool { return r.Snapshot().Revision() == ack.Sequence })
	if got := r.Snapshot().Count(false, registry.Live); got != 2500 {
		t.Errorf("%d live matches after the burst, want 2500", got)
	}
}
