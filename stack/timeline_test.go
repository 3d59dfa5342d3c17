package stack_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// Reactions posted over HTTP across several windows: at every step size,
// GET /v1/matches/{id}/timeline answers for each step by arrival exactly
// the sum of the live swarms a WebSocket viewer received for the windows
// in it, and by named window (the default) the sum of the 202s' windows.
func TestTimelineEqualsLiveSwarms(t *testing.T) {
	st := startStack(t, 500*time.Millisecond)
	nc, err := nats.Connect(st.WebSocketURLs()[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var mu sync.Mutex
	swarms := map[int64]map[string]int64{} // window start → counts, of match "tl"
	if _, err := nc.Subscribe(wire.LiveSubject("tl"), func(m *nats.Msg) {
		if s, err := wire.DecodeSwarm(m.Data); err == nil {
			mu.Lock()
			swarms[s.WindowStart.UnixMilli()] = s.Counts
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	emojis := []string{"🔥", "👏", "❤️"}
	var total int
	named := map[int64]map[string]int64{} // the 202's window → counts
	for round := range 12 {               // about 3 s: several windows, perhaps two steps of 2 s
		var evs []map[string]string
		for i := range 10 + round*5 {
			evs = append(evs, map[string]string{"user_id": fmt.Sprintf("u%d-%d", round, i), "match_id": "tl",
				"emoji_type": emojis[(round+i)%3], "event_id": fmt.Sprintf("e%d-%d", round, i)})
		}
		status, a := postReply(t, st.HTTPURL(), evs)
		if status != http.StatusAccepted || a.Accepted != len(evs) || len(a.Windows) != 1 {
			t.Fatalf("POST: %d %+v", status, a)
		}
		total += a.Accepted
		for _, ev := range evs {
			if named[a.Windows[0]] == nil {
				named[a.Windows[0]] = map[string]int64{}
			}
			named[a.Windows[0]][ev["emoji_type"]]++
		}
		time.Sleep(250 * time.Millisecond) // spreads the load over windows; no synchronisation rests on it
	}
	sumLive := func(stepMs int64) (map[int64]map[string]int64, int64) {
		mu.Lock()
		defer mu.Unlock()
		out, n := map[int64]map[string]int64{}, int64(0)
		for start, c := range swarms {
			k := wire.WindowStart(start, stepMs)
			if out[k] == nil {
				out[k] = map[string]int64{}
			}
			for e, v := range c {
				out[k][e] += v
				n += v
			}
		}
		return out, n
	}
	testenv.WaitFor(t, 30*time.Second, "the viewer to receive every reaction", func() bool {
		_, n := sumLive(2000)
		return n == int64(total)
	})
	for _, step := range []string{"2s", "10s", "1m", "5m"} {
		d, _ := time.ParseDuration(step)
		want, _ := sumLive(d.Milliseconds())
		var got map[int64]map[string]int64
		testenv.WaitFor(t, 30*time.Second, "the "+step+" timeline to equal the live swarms", func() bool {
			got = timelineSteps(t, st.HTTPURL()+"/v1/matches/tl/timeline?by=arrival&step="+step)
			return maps.EqualFunc(got, want, maps.Equal)
		})
		want = map[int64]map[string]int64{}
		for w, c := range named {
			k := wire.WindowStart(w, d.Milliseconds())
			if want[k] == nil {
				want[k] = map[string]int64{}
			}
			for e, n := range c {
				want[k][e] += n
			}
		}
		testenv.WaitFor(t, 30*time.Second, "the "+step+" timeline to equal the 202s' windows", func() bool {
			got = timelineSteps(t, st.HTTPURL()+"/v1/matches/tl/timeline?step="+step)
			return maps.EqualFunc(got, want, maps.Equal)
		})
	}
}

// timelineSteps is a timeline answer's counts by step start.
func timelineSteps(t *testing.T, url string) map[int64]map[string]int64 {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", url, res.StatusCode, b)
	}
	var a struct {
		Steps []struct {
			Start  time.Time        `json:"start"`
			Counts map[string]int64 `json:"counts"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	out := map[int64]map[string]int64{}
	for _, s := range a.Steps {
		out[s.Start.UnixMilli()] = s.Counts
	}
	return out
}
