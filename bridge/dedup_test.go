package bridge

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// ids hashes events of user u for the tests.
type ids struct{ h eventHasher }

func (x *ids) event(user, id string) (uint64, uint64) {
	return x.h.sum([]byte(user), []byte("m"), []byte(id)), x.h.user([]byte(user))
}

func TestDedup(t *testing.T) {
	type ev struct {
		user, id string
		ts       int64
		want     bool
	}
	tests := []struct {
		name              string
		horizon           int64
		capacity, perUser int
		events            []ev
	}{
		{"repeat within horizon", 1000, 10, 0, []ev{{"u", "a", 0, false}, {"u", "b", 10, false}, {"u", "a", 999, true}}},
		{"repeat after horizon and a span counts again", 800, 10, 0,
			[]ev{{"u", "a", 0, false}, {"u", "a", 800, true}, {"u", "b", 901, false}, {"u", "a", 902, false}}},
		{"empty ids never repeat", 1000, 10, 0, []ev{{"u", "", 0, false}, {"u", "", 1, false}}},
		{"off", -1, 10, 0, []ev{{"u", "a", 0, false}, {"u", "a", 1, false}}},
		{"a full set forgets nothing and remembers no new id", 1000, 2, 0, []ev{{"u", "a", 0, false},
			{"v", "b", 1, false}, {"w", "c", 2, false}, {"u", "a", 3, true}, {"v", "b", 4, true}, {"w", "c", 5, false}}},
		{"a full set takes new ids once old ones pass the horizon", 1000, 2, 0, []ev{{"u", "a", 0, false},
			{"v", "b", 1, false}, {"w", "c", 2, false}, {"w", "c", 1200, false}, {"w", "c", 1201, true}}},
		{"one user's ids past the cap are not remembered, others' are", 1000, 10, 2, []ev{{"u", "a", 0, false},
			{"u", "b", 1, false}, {"u", "c", 2, false}, {"v", "a", 3, false}, {"u", "c", 4, false},
			{"u", "a", 5, true}, {"v", "a", 6, true}}},
		{"the cap frees as the user's ids pass the horizon", 1000, 10, 1, []ev{{"u", "a", 0, false},
			{"u", "b", 1, false}, {"u", "b", 1200, false}, {"u", "b", 1201, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDedup(tt.horizon, tt.capacity, tt.perUser)
			var x ids
			for i, e := range tt.events {
				h, u := x.event(e.user, e.id)
				if got := d.repeat(h, u, e.ts); got != e.want {
					t.Errorf("event %d %+v: repeat = %v, want %v", i, e, got, e.want)
				}
			}
			if d.len() > tt.capacity {
				t.Errorf("remembers %d ids, capacity %d", d.len(), tt.capacity)
			}
		})
	}
}

func TestDedupScopedToTheEvent(t *testing.T) {
	type ev struct{ user, match, id string }
	a := ev{"u-a", "final", "e1"}
	tests := []struct {
		name   string
		events []ev
		want   []bool
	}{
		{"a retry by the same user is a repeat", []ev{a, a}, []bool{false, true}},
		{"another user's id, same match", []ev{{"u-b", "final", "e1"}, a, a}, []bool{false, false, true}},
		{"another match's id, same user", []ev{{"u-a", "semi", "e1"}, a}, []bool{false, false}},
		{"fields do not run together", []ev{{"u-a", "final", "e1"}, {"u-af", "inal", "e1"}, {"u-", "afinal", "e1"}},
			[]bool{false, false, false}},
		{"no event_id never repeats", []ev{{"u-a", "final", ""}, {"u-a", "final", ""}}, []bool{false, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDedup(1000, 100, 10)
			var h eventHasher
			for i, e := range tt.events {
				got := d.repeat(h.sum([]byte(e.user), []byte(e.match), []byte(e.id)), h.user([]byte(e.user)), int64(i))
				if got != tt.want[i] {
					t.Errorf("event %d %+v: repeat = %v, want %v", i, e, got, tt.want[i])
				}
			}
		})
	}
}

// The attack in the set itself: an event, then a flood of other
// users' distinct ids at 10,000/s, 100 times what the set holds, until
// just before the event's horizon. Its retry is still a repeat; the flood
// only found the set full. Past the horizon (and a span) the id is
// forgotten.
func TestDedupHorizonUnderFlood(t *testing.T) {
	const horizon, capacity = 60_000, 6_000 // ms; the flood sends 600,000 ids
	d := newDedup(horizon, capacity, 5)
	var x ids
	victim, vu := x.event("victim", "tap-1")
	d.repeat(victim, vu, 0)
	n := 0
	for ts := int64(1); ts < horizon; ts++ {
		for range 10 {
			h, u := x.event(fmt.Sprint("flood-", n/5), fmt.Sprint(n))
			if d.repeat(h, u, ts) {
				t.Fatalf("flood id %d taken for a repeat", n)
			}
			n++
		}
	}
	if !d.repeat(victim, vu, horizon-1) {
		t.Fatalf("the victim's retry within the horizon, after %d flood ids, counted again", n)
	}
	if d.notRemembered[full] == 0 || d.len() > capacity {
		t.Errorf("not remembered %v, %d remembered of capacity %d", d.notRemembered, d.len(), capacity)
	}
	d.advance(horizon + horizon/8 + 1)
	if d.repeat(victim, vu, horizon+horizon/8+1) {
		t.Error("an id past its horizon and a span is still remembered")
	}
}

// One heavy user at its cap leaves the others alone: the per-user sketch
// overcounts a light user only if both its counters collide with the heavy
// one's.
func TestDedupPerUserCapSparesOthers(t *testing.T) {
	const perUser = 1000
	d := newDedup(600_000, 1_000_000, perUser)
	var x ids
	for i := range 50_000 {
		h, u := x.event("heavy", fmt.Sprint(i))
		d.repeat(h, u, int64(i))
	}
	if got := d.notRemembered[userCap]; got != 50_000-perUser {
		t.Errorf("heavy user: %d ids not remembered, want %d", got, 50_000-perUser)
	}
	for i := range 20_000 {
		h, u := x.event(fmt.Sprint("light-", i), "tap")
		d.repeat(h, u, 50_000)
		if !d.repeat(h, u, 50_001) {
			t.Fatalf("light user %d's retry counted again", i)
		}
	}
}

// idSet against a map: random adds and drops across growth, the ring's
// wrap-around and its chunks freed; with random hashes (probe runs of a
// table at load 3/4), and with hashes that share their high bits, so that
// all go to a few home slots: one long run, whose entries lie farther from
// home than a slot's distance field says, which deletions then read from
// the ring.
func TestIDSetModel(t *testing.T) {
	tests := []struct {
		name          string
		capacity, ops int
		hash          func(*rand.Rand) uint64
	}{
		{"random", 20_000, 300_000, func(r *rand.Rand) uint64 { return r.Uint64() | 1 }},
		{"one cluster", 600, 20_000, func(r *rand.Rand) uint64 { return 0xabcde<<44 | r.Uint64()>>20 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			s := newIDSet(tt.capacity)
			var order []uint64
			model := map[uint64]bool{}
			for op := range tt.ops {
				order = idSetOp(t, &s, order, model, rng, tt.hash)
				if op%1000 == 0 {
					checkIDSet(t, &s, order, rng)
				}
			}
			checkIDSet(t, &s, order, rng)
		})
	}
}

// idSetOp adds a hash (2 times in 3) or drops up to 500 of the oldest, in
// s and in the model, and returns the model's order.
func idSetOp(t *testing.T, s *idSet, order []uint64, model map[uint64]bool, rng *rand.Rand, hash func(*rand.Rand) uint64) []uint64 {
	t.Helper()
	if rng.IntN(3) == 0 && len(order) > 0 {
		k := rng.IntN(min(len(order), 500)) + 1
		s.dropOldest(k)
		for _, h := range order[:k] {
			delete(model, h)
		}
		return order[k:]
	}
	h := hash(rng)
	if model[h] {
		return order
	}
	room := len(order) < s.capacity
	if s.add(h) != room {
		t.Fatalf("add with %d of %d", len(order), s.capacity)
	}
	if room {
		order, model[h] = append(order, h), true
	}
	return order
}

func checkIDSet(t *testing.T, s *idSet, order []uint64, rng *rand.Rand) {
	t.Helper()
	if s.n != len(order) {
		t.Fatalf("%d remembered, want %d", s.n, len(order))
	}
	for _, h := range order {
		if !s.has(h) {
			t.Fatalf("lost %x", h)
		}
	}
	for range 100 {
		if h := rng.Uint64(); s.has(h) != contains(order, h) {
			t.Fatalf("has(%x) wrong", h)
		}
	}
}

func contains(xs []uint64, h uint64) bool {
	for _, x := range xs {
		if x == h {
			return true
		}
	}
	return false
}

// BenchmarkDedupMemory measures the memory per remembered id of a set of
// the default budget: the Go heap it holds at capacity (B/id, the per-user
// counts' 768 KiB included), and, over a fill from empty to capacity
// sampled every 1%, the most its ring and table hold per id outside a
// table move (max_B/id) and during one (max_moving_B/id).
//
//	go test ./bridge -run '^$' -bench DedupMemory -benchtime 1x -count 3
func BenchmarkDedupMemory(b *testing.B) {
	capacity := dedupCapacity(DefaultDedupMemory, DefaultDedupPerUser)
	hashes := floodHashes(capacity, 100)
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		d := newDedup(1<<40, capacity, DefaultDedupPerUser)
		var most, moving float64
		for i, e := range hashes {
			d.repeat(e[0], e[1], int64(i))
			if (i+1)%(capacity/100) == 0 {
				per := float64(d.set.bytes()) / float64(i+1)
				if d.set.old != nil {
					moving = max(moving, per)
				} else {
					most = max(most, per)
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(capacity), "B/id")
		b.ReportMetric(most, "max_B/id")
		b.ReportMetric(moving, "max_moving_B/id")
		runtime.KeepAlive(d)
	}
}

// floodHashes are the (event, user) hashes of n distinct events, perUser
// per user.
func floodHashes(n, perUser int) [][2]uint64 {
	var x ids
	out := make([][2]uint64, n)
	for i := range out {
		out[i][0], out[i][1] = x.event(fmt.Sprint("user-", i/perUser), fmt.Sprint("event-", i))
	}
	return out
}

// BenchmarkDedupRepeat is the cost of one event with an id on a set of the
// default budget in its steady state: a horizon of 1,000,000 ids at 1,000
// ids per ms of receive time, old ones passing the horizon as new ones
// come.
//
//	go test ./bridge -run '^$' -bench DedupRepeat -count 3
func BenchmarkDedupRepeat(b *testing.B) {
	const window, perMs = 1_000_000, 1000
	hashes := floodHashes(window+b.N, 10)
	d := newDedup(window/perMs, dedupCapacity(DefaultDedupMemory, DefaultDedupPerUser), DefaultDedupPerUser)
	for i, e := range hashes[:window] {
		d.repeat(e[0], e[1], int64(i/perMs))
	}
	b.ResetTimer()
	for i, e := range hashes[window:] {
		d.repeat(e[0], e[1], int64((window+i)/perMs))
	}
}

// BenchmarkDedupHorizonUnderFlood is the attack on a set of the
// default budget and horizon: a victim's event, then other users flooding
// the partition with distinct ids at 10,000/s (the budget holds 3,460/s)
// for 15 minutes of receive time. It reports the effective horizon, how
// long the victim's retry still counts once (the configured 600 s plus at
// most a span, whatever the flood), and the share of the flood's ids of
// the last horizon remembered (the rest count, unprotected).
//
//	go test ./bridge -run '^$' -bench DedupHorizonUnderFlood -benchtime 1x -count 3
func BenchmarkDedupHorizonUnderFlood(b *testing.B) {
	const floodPerSec, seconds = 10_000, 900
	horizon := DefaultDedupHorizon.Milliseconds()
	for range b.N {
		d := newDedup(horizon, dedupCapacity(DefaultDedupMemory, DefaultDedupPerUser), DefaultDedupPerUser)
		var x ids
		victim, vu := x.event("victim", "tap-1")
		d.repeat(victim, vu, 0)
		remembered := 0
		for s := range seconds {
			for i := range floodPerSec {
				h, u := x.event(fmt.Sprint("flood-", s, "-", i/100), fmt.Sprint(i))
				d.repeat(h, u, int64(s)*1000+int64(i)/10)
			}
			if d.set.has(victim) {
				remembered = s + 1
			}
		}
		b.ReportMetric(float64(remembered), "effective_horizon_s")
		b.ReportMetric(float64(d.len())/float64(floodPerSec*horizon/1000), "flood_share_remembered")
	}
}
