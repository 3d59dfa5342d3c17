package stack_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

// Reactions with a video_ts, posted over HTTP to the whole pipeline: the
// timeline by program time (?by=video) counts each in the 2 s window
// containing its video_ts, and each without one in the window its 202
// named; by named window and by arrival they stay where they were
// received (live stays live). The stack is then stopped and started again
// on its data, and every request is sent again with the same event_ids
// (a client retrying across the restart), plus new ones: the program-time
// counts are exact, none doubled.
func TestVideoTSCountsInProgramTimeWindow(t *testing.T) {
	cfg := stack.Config{DataDir: t.TempDir(), Partitions: 4, Logger: testenv.Logger(t),
		WebSocketListens: []string{"127.0.0.1:0"}, Registry: registry.Config{AutoMatches: 10}}
	st, stop := startAndRun(t, cfg)
	named, video := map[int64]map[string]int64{}, map[int64]map[string]int64{}
	add := func(m map[int64]map[string]int64, w int64, e string) {
		if m[w] == nil {
			m[w] = map[string]int64{}
		}
		m[w][e]++
	}
	var sent [][]map[string]any
	send := func(base string, evs []map[string]any, count bool) {
		t.Helper()
		status, a := postReply(t, base, evs)
		if status != http.StatusAccepted || len(a.Windows) != 1 {
			t.Fatalf("POST: %d %+v", status, a)
		}
		if !count {
			return
		}
		for _, ev := range evs {
			e := ev["emoji_type"].(string)
			add(named, a.Windows[0], e)
			if v, ok := ev["video_ts"].(int64); ok {
				add(video, wire.WindowStart(v, 2000), e)
			} else {
				add(video, a.Windows[0], e)
			}
		}
	}
	batch := func(round int, behind time.Duration) []map[string]any {
		now := time.Now().UnixMilli()
		var evs []map[string]any
		for i := range 6 {
			ev := map[string]any{"user_id": fmt.Sprintf("u%d-%d", round, i), "match_id": "video",
				"emoji_type": []string{"🔥", "👏", "😂"}[i%3], "event_id": fmt.Sprintf("e%d-%d", round, i)}
			if i != 5 { // one without video_ts
				ev["video_ts"] = now - behind.Milliseconds() - int64(i)*300
			}
			evs = append(evs, ev)
		}
		return evs
	}
	for round, behind := range []time.Duration{20 * time.Second, 10 * time.Second, 0} {
		evs := batch(round, behind)
		send(st.HTTPURL(), evs, true)
		sent = append(sent, evs)
	}
	want := func(base string) {
		t.Helper()
		for by, w := range map[string]map[int64]map[string]int64{"video": video, "named": named, "arrival": named} {
			url := base + "/v1/matches/video/timeline?step=2s&by=" + by
			var got map[int64]map[string]int64
			if !testenv.Until(30*time.Second, func() bool {
				got = tryTimelineSteps(url)
				return maps.EqualFunc(got, w, maps.Equal)
			}) {
				t.Fatalf("timeline by %s:\n got  %v\n want %v", by, got, w)
			}
		}
	}
	want(st.HTTPURL())
	if maps.EqualFunc(video, named, maps.Equal) {
		t.Fatal("the program-time view equals the named one: the test moved nothing")
	}

	stop()
	st, _ = startAndRun(t, cfg)
	for _, evs := range sent { // retries after the restart: counted once
		send(st.HTTPURL(), evs, false)
	}
	send(st.HTTPURL(), batch(3, 30*time.Second), true)
	want(st.HTTPURL())
}

// tryTimelineSteps is timelineSteps, nil on any failure (a store not
// reachable yet answers 503).
func tryTimelineSteps(url string) map[int64]map[string]int64 {
	res, err := http.Get(url)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	var a struct {
		Steps []struct {
			Start  time.Time        `json:"start"`
			Counts map[string]int64 `json:"counts"`
		} `json:"steps"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(res.Body).Decode(&a) != nil {
		return nil
	}
	out := map[int64]map[string]int64{}
	for _, s := range a.Steps {
		out[s.Start.UnixMilli()] = s.Counts
	}
	return out
}
