package stack_test

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

// swarmSubjects lists the subjects of the swarm stream.
func swarmSubjects(t *testing.T, st *stack.Stack) map[string]uint64 {
	t.Helper()
	nc, err := nats.Connect(st.NATSURL(), st.NATSOptions(fanout.UserProcessor)...) // may read the swarm stream
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := js.Stream(context.Background(), wire.SwarmsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(wire.SwarmsSubjects))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Subjects
}

func heapMiB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// TestHostileMatchFlood: an anonymous client posting valid reactions to tens
// of thousands of distinct match ids gets 404 unknown_match for each, writes
// nothing to Kafka and creates no stream subject, while a legitimate live
// match is counted exactly. In development mode (--auto-matches N) the
// attacker creates at most N matches.
func TestHostileMatchFlood(t *testing.T) {
	const auto = 3
	st := startStackWith(t, stack.Config{Window: 500 * time.Millisecond, DemoMatch: "legit",
		Registry: registry.Config{AutoMatches: auto}, Ingest: ingest.Config{IPRate: -1, UserRate: -1}}) // limits: TestPrefixAggregation
	v := watch(t, st.WebSocketURLs()[0])
	requests, perRequest := 40, 1000
	if testing.Short() {
		requests = 10
	}
	heapBefore := heapMiB()
	var refused, accepted int
	want := wire.Counts{}
	for r := 0; r < requests; r++ {
		flood := make([]map[string]string, perRequest)
		for i := range flood {
			flood[i] = map[string]string{"user_id": fmt.Sprintf("attacker-%d", i), "emoji_type": "🔥",
				"match_id": fmt.Sprintf("flood-%06d-%04d-padding-to-sixty-four-bytes-of-match-id-xxxxxxx", r, i)[:64]}
		}
		switch code, errCode, _ := postStatus(t, st.HTTPURL(), flood); {
		case code == http.StatusNotFound && errCode == wire.CodeUnknownMatch,
			code == http.StatusTooManyRequests && errCode == wire.CodeRateLimited: // refusals spend tokens too
			refused++
		default:
			t.Fatalf("flood request %d: %d %s", r, code, errCode)
		}
		legit := []map[string]string{{"user_id": fmt.Sprintf("fan-%d", r), "match_id": "legit", "emoji_type": "👏"}}
		accepted += post(t, st.HTTPURL(), legit)
		want.Add("legit", "👏", 1)
	}
	heapAfter := heapMiB()
	testenv.WaitFor(t, 30*time.Second, "legit events in swarms", func() bool { return v.total() >= int64(accepted) })
	v.mu.Lock()
	if fmt.Sprint(v.counts) != fmt.Sprint(want) {
		t.Errorf("viewer counted %v, want %v", v.counts, want)
	}
	v.mu.Unlock()
	subjects := swarmSubjects(t, st)
	if len(subjects) != 1 || subjects[wire.SwarmSubject("legit")] == 0 {
		t.Errorf("swarm subjects after the flood: %v, want only legit's", subjects)
	}
	ms := st.Matches.Snapshot().Sorted()
	autoMade := 0
	for _, m := range ms {
		if m.Auto {
			autoMade++
		}
	}
	if autoMade > auto {
		t.Errorf("the flood created %d matches, more than --auto-matches %d", autoMade, auto)
	}
	t.Logf("%d flood requests of %d distinct matches refused; %d legitimate events counted exactly; heap %.1f → %.1f MiB; %d auto matches",
		refused, perRequest, accepted, heapBefore, heapAfter, autoMade)
}

// TestHostileEventIDReuse: a client that reuses another user's event_ids,
// in the same match and in another, removes none of that user's events;
// the victim's own retries still count once.
func TestHostileEventIDReuse(t *testing.T) {
	st := startStackWith(t, stack.Config{Window: 500 * time.Millisecond, DemoMatch: "legit",
		Registry: registry.Config{AutoMatches: 1}, Ingest: ingest.Config{UserRate: -1}})
	v := watch(t, st.WebSocketURLs()[0])
	const n = 50
	ev := func(user, match, id string) map[string]string {
		return map[string]string{"user_id": user, "match_id": match, "emoji_type": "🔥", "event_id": id}
	}
	want := wire.Counts{}
	var attacker, victim []map[string]string
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("tap-%d", i)
		attacker = append(attacker, ev("attacker", "legit", id), ev("attacker", "other", id))
		victim = append(victim, ev("victim", "legit", id))
		want.Add("legit", "🔥", 2) // the attacker's and the victim's
		want.Add("other", "🔥", 1)
	}
	post(t, st.HTTPURL(), attacker) // first: the victim's events come after it
	post(t, st.HTTPURL(), victim)
	post(t, st.HTTPURL(), victim[:n/2]) // the victim's retry of half of them
	post(t, st.HTTPURL(), attacker)     // and the attacker's replay
	testenv.WaitFor(t, 30*time.Second, "every distinct event counted", func() bool { return v.total() >= want.Total() })
	v.mu.Lock()
	defer v.mu.Unlock()
	if fmt.Sprint(v.counts) != fmt.Sprint(want) {
		t.Errorf("viewer counted %v, want %v (each distinct (user, match, event_id) once)", v.counts, want)
	}
}
