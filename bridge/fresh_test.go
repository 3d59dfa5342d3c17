package bridge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/wire"
)

// produceAt writes n records received at at, counted in want when count.
func (e *env) produceAt(n int, at time.Time, count bool) {
	e.t.Helper()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		k := e.seq.Add(1)
		r := wire.Record{UserID: fmt.Sprintf("u-%d", k), MatchID: matches[k%3], EmojiType: emojis[k%4],
			ReceivedAt: at.UnixMilli()}
		msgs[i] = kafka.Message{Key: []byte(r.UserID), Value: r.AppendJSON(nil), Time: at}
		if count {
			e.want.Add(r.MatchID, r.EmojiType, 1)
		}
	}
	e.write(msgs...)
}

// TestFreshStoreOnOldTopic: a bridge whose store has no partial of a
// partition (a new JetStream store on a topic with history) counts only the
// records received within FreshLookback and reports the rest, in a warning
// that names the flag's spelling that counts them (--fresh-lookback 0; a
// negative one is deprecated); a negative lookback counts the whole topic
// on purpose.
func TestFreshStoreOnOldTopic(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lookback time.Duration
		history  bool // whether the old records are counted
	}{{"default lookback skips history", 0, false}, {"negative lookback replays it", -1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 2)
			e.produceAt(300, time.Now().Add(-2*time.Hour), tc.history)
			e.produceAt(200, time.Now(), true)
			reg := prometheus.NewRegistry()
			cfg := e.config(reg)
			cfg.FreshLookback = tc.lookback
			logs := captureLogs(&cfg)
			b, stop := e.startBridge(cfg)
			defer stop()
			ps := e.waitCovered()
			got := wire.Counts{}
			var skipped float64
			for _, p := range ps {
				got.Merge(p.Counts)
			}
			for p := range 2 {
				skipped += counter(b.metrics.history, fmt.Sprint(p))
			}
			if fmt.Sprint(got) != fmt.Sprint(e.want) {
				t.Errorf("counted %v, want %v", got, e.want)
			}
			if want := map[bool]float64{false: 300, true: 0}[tc.history]; skipped != want {
				t.Errorf("history_skipped_records_total = %v, want %v", skipped, want)
			}
			warned := strings.Contains(logs.String(), "older ones are history")
			if warned == tc.history || warned && !strings.Contains(logs.String(), "(--fresh-lookback 0 counts them)") {
				t.Errorf("the warning about history, want one naming --fresh-lookback 0 if skipped:\n%s", logs)
			}
		})
	}
}
