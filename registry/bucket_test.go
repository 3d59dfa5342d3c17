package registry_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
)

// An admin command opened with a smaller --max-matches (emostream match ls
// --max-matches 1, or the default 10,000 against an up --max-matches
// 50000) leaves the bucket's size alone: the matches stored stay, and end
// and rm still work (the bucket used to shrink under them).
func TestOpenNeverShrinksTheBucket(t *testing.T) {
	n := testenv.StartNATS(t)
	ctx := context.Background()
	r := open(t, n, registry.Config{MaxMatches: 100})
	for i := range 100 {
		if _, err := r.Create(ctx, registry.Match{ID: "m" + strconv.Itoa(i), Title: strings.Repeat("t", 200), Home: strings.Repeat("h", 100), Away: strings.Repeat("a", 100), State: registry.Live}); err != nil {
			t.Fatal(err)
		}
	}
	_, js := n.Connect()
	if _, err := registry.Open(ctx, js, registry.Config{MaxMatches: 1}); err != nil {
		t.Fatalf("open with MaxMatches 1: %v", err)
	}
	if _, err := r.End(ctx, "m0"); err != nil {
		t.Errorf("ending a match after the shrink: %v", err)
	}
	if err := r.Remove(ctx, "m1"); err != nil {
		t.Errorf("removing a match after the shrink: %v", err)
	}
	ms, err := r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 99 {
		t.Fatalf("after an admin opened the registry with MaxMatches 1, and one removal: %d of 99 matches left", len(ms))
	}
}

// docs/matches.md's commands (emostream match start --id …) take no
// --replicas: opening the registry without Replicas keeps an R3 bucket at
// R3 (it used to scale it down to R1).
func TestOpenKeepsReplicas(t *testing.T) {
	urls := testenv.StartNATSCluster(t, 3)
	ctx := context.Background()
	nc, err := nats.Connect(urls)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := registry.Open(ctx, js, registry.Config{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := registry.Open(ctx, js, registry.Config{}); err != nil { // what "emostream match start" does
		t.Fatal(err)
	}
	kv, _ := js.KeyValue(ctx, "EMOSTREAM_MATCHES")
	st, _ := kv.Status(ctx)
	if r := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas; r != 3 {
		t.Fatalf("the registry, created at R3, is at R%d after an admin command without --replicas", r)
	}
}

// MaxMatches is bounded, so the bucket's size (4 values of 4 KiB a match)
// stays a number: near the int range it wrapped to 16 KiB or to -1
// (unbounded).
func TestMaxMatchesBounded(t *testing.T) {
	n := testenv.StartNATS(t)
	ctx := context.Background()
	_, js := n.Connect()
	for _, max := range []int{registry.MaxMaxMatches + 1, 1 << 51, 1<<63 - 1} {
		if _, err := registry.Open(ctx, js, registry.Config{MaxMatches: max}); !errors.Is(err, registry.ErrConfig) {
			t.Errorf("MaxMatches %d: %v, want ErrConfig", max, err)
		}
	}
}

// Every match removed leaves a delete marker in the bucket; Remove (and
// Run) purge the old ones, so a registry with room for 10 matches, used
// one match at a time, never fills up (it refused its 1,410th create,
// empty, when nothing purged them).
func TestRemovedMatchesDoNotFillTheBucket(t *testing.T) {
	n := testenv.StartNATS(t)
	ctx := context.Background()
	r := open(t, n, registry.Config{MaxMatches: 10})
	registry.SetMarkerAge(r, time.Second) // past what the watched copy takes to read a marker
	run(t, r)
	for i := range 1600 {
		id := "match-" + strconv.Itoa(i)
		if _, err := r.Create(ctx, registry.Match{ID: id, Title: "A title"}); err != nil {
			t.Fatalf("create %d, with the registry empty: %v", i, err)
		}
		if err := r.Remove(ctx, id); err != nil {
			t.Fatalf("rm %d: %v", i, err)
		}
	}
}
