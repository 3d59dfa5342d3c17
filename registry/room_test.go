package registry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
)

// TestFullRegistryKeepsTheOperatorIn: at the bound, an existing id is
// "exists" (a restart needs no room), a new one is "registry full" with
// what to do, and start, end and remove still work; removing makes room.
func TestFullRegistryKeepsTheOperatorIn(t *testing.T) {
	n := testenv.StartNATS(t)
	r := open(t, n, registry.Config{MaxMatches: 3})
	ctx := context.Background()
	for _, id := range []string{"m0", "m1", "m2"} {
		if _, err := r.Create(ctx, registry.Match{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Create(ctx, registry.Match{ID: "m1", State: registry.Live}); !errors.Is(err, registry.ErrExists) {
		t.Fatalf("creating an existing match in a full registry: %v, want ErrExists", err)
	}
	_, err := r.Create(ctx, registry.Match{ID: "m3"})
	if !errors.Is(err, registry.ErrFull) || !strings.Contains(err.Error(), "registry full: 3 of 3; end and delete matches") ||
		!strings.Contains(err.Error(), "--max-matches") {
		t.Fatalf("a fourth match: %v", err)
	}
	if _, err := r.Start(ctx, "m0"); err != nil {
		t.Fatalf("start in a full registry: %v", err)
	}
	if _, err := r.End(ctx, "m0"); err != nil {
		t.Fatalf("end in a full registry: %v", err)
	}
	if err := r.Remove(ctx, "m0"); err != nil {
		t.Fatalf("remove in a full registry: %v", err)
	}
	if _, err := r.Create(ctx, registry.Match{ID: "m3"}); err != nil {
		t.Fatalf("create after a remove: %v", err)
	}
	// Removed matches leave delete markers in the bucket; they take no room.
	for i := range 3 {
		id := fmt.Sprint("cycle", i)
		if err := r.Remove(ctx, "m3"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Create(ctx, registry.Match{ID: id}); err != nil {
			t.Fatalf("create %s after removing: %v", id, err)
		}
		if _, err := r.Create(ctx, registry.Match{ID: "m3"}); !errors.Is(err, registry.ErrFull) {
			t.Fatalf("create m3 into a full registry: %v", err)
		}
		if err := r.Remove(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Create(ctx, registry.Match{ID: "m3"}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrentCreatesAtTheBound: 4 registries on 4 connections (as 4
// processes; three watching the bucket, one reading it per create, like
// "emostream match create") create 100 distinct matches at once into room
// for 40 operator matches, while the three watching ones auto-admit 45
// distinct matches into room for 20. Exactly the bounds are created.
func TestConcurrentCreatesAtTheBound(t *testing.T) {
	const maxOp, maxAuto, perRegistry = 40, 20, 25
	n := testenv.StartNATS(t)
	cfg := registry.Config{MaxMatches: maxOp, AutoMatches: maxAuto}
	var rs []*registry.Registry
	for i := range 4 {
		r := open(t, n, cfg)
		if i < 3 {
			run(t, r)
		}
		rs = append(rs, r)
	}
	var created, full, admitted, refused atomic.Int64
	var wg sync.WaitGroup
	for i, r := range rs {
		for j := range perRegistry {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				_, err := r.Create(ctx, registry.Match{ID: fmt.Sprintf("op-%d-%d", i, j)})
				count(t, err, registry.ErrFull, &created, &full)
				if i < 3 && j < 15 {
					count(t, r.Admit(fmt.Sprintf("auto-%d-%d", i, j)), registry.ErrUnknownMatch, &admitted, &refused)
				}
			}()
		}
	}
	wg.Wait()
	if created.Load() != maxOp || full.Load() != 4*perRegistry-maxOp {
		t.Errorf("operator creates: %d created, %d full; want %d created", created.Load(), full.Load(), maxOp)
	}
	if admitted.Load() != maxAuto {
		t.Errorf("auto-admissions: %d admitted, %d refused; want %d admitted", admitted.Load(), refused.Load(), maxAuto)
	}
	ms, err := rs[3].List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var op, auto int
	for _, m := range ms {
		if m.Auto {
			auto++
		} else {
			op++
		}
	}
	if op != maxOp || auto != maxAuto {
		t.Fatalf("the bucket holds %d operator and %d auto-admitted matches, want %d and %d", op, auto, maxOp, maxAuto)
	}
}

// count adds a nil err to ok, one wrapping refusal to no, and fails on
// any other.
func count(t *testing.T, err, refusal error, ok, no *atomic.Int64) {
	switch {
	case err == nil:
		ok.Add(1)
	case errors.Is(err, refusal):
		no.Add(1)
	default:
		t.Errorf("unexpected error: %v", err)
	}
}

// TestAutoMatchesHaveTheirOwnRoom: auto-admitted matches count against
// AutoMatches only; the operator's room stays whole, and the operator's
// matches list first.
func TestAutoMatchesHaveTheirOwnRoom(t *testing.T) {
	n := testenv.StartNATS(t)
	r := open(t, n, registry.Config{MaxMatches: 4, AutoMatches: 3})
	run(t, r)
	for _, id := range []string{"a1", "a2", "a3"} {
		if err := r.Admit(id); err != nil {
			t.Fatalf("admit %s: %v", id, err)
		}
	}
	if err := r.Admit("a4"); !errors.Is(err, registry.ErrUnknownMatch) || !strings.Contains(err.Error(), "3 of 3 auto-admitted") {
		t.Fatalf("a fourth auto match: %v", err)
	}
	ctx := context.Background()
	for _, id := range []string{"z1", "z2", "z3", "z4"} {
		if _, err := r.Create(ctx, registry.Match{ID: id, State: registry.Live}); err != nil {
			t.Fatalf("operator create %s beside 3 auto matches: %v", id, err)
		}
	}
	if _, err := r.Create(ctx, registry.Match{ID: "z5"}); !errors.Is(err, registry.ErrFull) {
		t.Fatalf("a fifth operator match: %v", err)
	}
	// Room made is room at once, although the watched copy may not have
	// seen the removal yet: a refusal is decided on the bucket's newest.
	for _, id := range []string{"z4", "z5", "z4"} {
		if err := r.Remove(ctx, id); err != nil {
			t.Fatal(err)
		}
		next := map[string]string{"z4": "z5", "z5": "z4"}[id]
		if _, err := r.Create(ctx, registry.Match{ID: next, State: registry.Live}); err != nil {
			t.Fatalf("create %s right after removing %s: %v", next, id, err)
		}
	}
	testenv.WaitFor(t, 5*time.Second, "all 7 in the copy", func() bool { return r.Snapshot().Len() == 7 })
	var got []string
	for _, m := range r.Snapshot().Sorted() {
		got = append(got, m.ID)
	}
	if want := "z1 z2 z3 z5 a1 a2 a3"; strings.Join(got, " ") != want {
		t.Fatalf("listing order %v, want %s", got, want)
	}
}

// clock is a settable clock for registry.Config.Now.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestAutoMatchesEndWhenIdle: with the clock under the test's control, an
// auto-admitted match that takes no reactions ends after AutoMatchIdle and
// is removed AutoMatchRetention later; one that takes reactions in one
// process stays live although another process, which sweeps too, saw
// none (the activity is written to the match's LastActive).
func TestAutoMatchesEndWhenIdle(t *testing.T) {
	const idle, retention = time.Minute, time.Hour
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	c := newClock(t0)
	n := testenv.StartNATS(t)
	cfg := registry.Config{AutoMatches: 5, AutoMatchIdle: idle, AutoMatchRetention: retention,
		SweepInterval: 20 * time.Millisecond, Now: c.now}
	a, b := open(t, n, cfg), open(t, n, cfg)
	run(t, a)
	run(t, b)
	ctx := context.Background()
	if _, err := a.Create(ctx, registry.Match{ID: "operator", State: registry.Live}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"quiet", "busy"} {
		if err := a.Admit(id); err != nil {
			t.Fatal(err)
		}
	}
	c.advance(30 * time.Second)
	if err := a.Admit("busy"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "busy's activity written", func() bool {
		m, err := b.Get(ctx, "busy")
		return err == nil && m.LastActive != nil && m.LastActive.Equal(t0.Add(30*time.Second))
	})
	c.advance(idle - 29*time.Second) // quiet: idle 61 s; busy: 31 s
	// (An Admit would be a reaction, keeping the match live.)
	testenv.WaitFor(t, 10*time.Second, "quiet ended", func() bool {
		m, ok := a.Snapshot().Lookup("quiet")
		return ok && m.State == registry.Ended
	})
	if err := a.Admit("quiet"); !errors.Is(err, registry.ErrNotLive) {
		t.Fatalf("reactions to an ended auto match: %v", err)
	}
	wantState(t, a, "busy", registry.Live)
	wantState(t, a, "operator", registry.Live)
	c.advance(retention - time.Second)
	wantState(t, a, "quiet", registry.Ended)
	c.advance(2 * time.Second)
	testenv.WaitFor(t, 10*time.Second, "quiet removed", func() bool {
		_, err := a.Get(ctx, "quiet")
		return errors.Is(err, registry.ErrUnknownMatch)
	})
	testenv.WaitFor(t, 10*time.Second, "busy ended once idle", func() bool {
		m, err := a.Get(ctx, "busy")
		return err == nil && m.State == registry.Ended
	})
	c.advance(retention)
	testenv.WaitFor(t, 10*time.Second, "busy removed", func() bool {
		_, err := a.Get(ctx, "busy")
		return errors.Is(err, registry.ErrUnknownMatch)
	})
	wantState(t, a, "operator", registry.Live)
}

func wantState(t *testing.T, r *registry.Registry, id string, want registry.State) {
	t.Helper()
	m, err := r.Get(context.Background(), id)
	if err != nil || m.State != want {
		t.Fatalf("%s: %+v %v, want %s", id, m, err, want)
	}
}
