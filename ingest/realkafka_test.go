package ingest_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
)

// On the real cluster, the leader of a partition is killed (kill -9) while
// requests keep coming: every event answered 202 is in Kafka (a producer
// retry may store one twice; the bridge counts it once by event_id), and
// ingest answers 202 again once a new leader is elected.
func TestRealKafkaLeaderKilledUnderIngest(t *testing.T) {
	k := testenv.OnRealKafka(t, realKafka, 4)
	k.WarmUp(t)
	st := startIngest(t, k, ingest.Config{})
	before := k.EndOffsets(t)
	leader, err := k.Real.Leader(k.Topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	node := k.Real.Node(leader)
	t.Cleanup(func() { // leave the shared cluster whole
		if !node.Running() {
			if err := node.Restart(); err != nil {
				t.Error(err)
			}
		}
		// A restarted JVM rejoins its ISRs in well under a minute on a
		// quiet machine; a clean-clone CI run, every package at once on two
		// cores, once took more than two.
		testenv.WaitFor(t, 4*time.Minute, "every ISR full again", func() bool { return k.Real.FullISR(k.Topic, k.Partitions) })
	})
	accepted := map[string]bool{}
	var refused int
	post := func(i int) {
		id := fmt.Sprintf("ev-%d", i)
		r := st.post(t, fmt.Sprintf(`{"user_id":"u-%d","match_id":"final-2026","emoji_type":"🔥","event_id":%q}`, i, id))
		switch r.status {
		case http.StatusAccepted:
			accepted[id] = true
		case http.StatusServiceUnavailable:
			refused++
		default:
			t.Fatalf("status %d: %s", r.status, r.body)
		}
	}
	i := 0
	for ; i < 200; i++ {
		post(i)
	}
	node.Kill()
	killedAt := time.Now()
	for ; i < 400; i++ { // bounded: the failover happens within these
		post(i)
	}
	testenv.WaitFor(t, time.Minute, "a 202 after the failover", func() bool {
		i++
		post(i)
		return accepted[fmt.Sprintf("ev-%d", i)]
	})
	t.Logf("leader %d killed: %d accepted, %d refused (503), answering again %v after the kill",
		leader, len(accepted), refused, time.Since(killedAt).Round(time.Millisecond))
	after := k.EndOffsets(t)
	stored := map[string]int{}
	for _, g := range fromKafkaGo(t, readRange(t, k, before, after)) {
		stored[g.rec.EventID]++
	}
	for id := range accepted {
		if stored[id] == 0 {
			t.Errorf("event %s answered 202 but not in kafka", id)
		}
	}
}
