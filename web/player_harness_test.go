package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/web/teststream"
	"github.com/emostream/emostream/wire"
)

// The player page's harness: the loop of web/teststream rendered once per
// test by ffmpeg and served as live HLS streams some seconds behind the
// wall clock, a publisher that stores a swarm for every window as the
// pipeline would (the recent past at once, then each window as it ends),
// and teststream.RecorderJS in the page, which reads, for each window
// shown, the program time of the frame on screen from the frame itself.

// renderLoop renders the test stream's loop into a temp dir (about a
// second), or skips the test without ffmpeg (fails it under CI=true).
func renderLoop(t *testing.T) string {
	t.Helper()
	testenv.RequireTool(t, "ffmpeg", teststream.InstallHint)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := teststream.Render(ctx, dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// hlsPlayerHoldBack is how far behind a live playlist's edge hls.js
// starts playing: 3 target durations of 1 s.
const hlsPlayerHoldBack = 3 * time.Second

// serveStream serves the loop in dir as a live stream whose video runs
// behind the wall clock by about behind once hls.js plays it, and returns
// the playlist's URL.
func serveStream(t *testing.T, dir string, behind time.Duration) string {
	t.Helper()
	s, err := teststream.New(teststream.Config{Dir: dir, Behind: behind - hlsPlayerHoldBack, Window: 40})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL + teststream.PlaylistPath
}

// swarmsOnTime stores a swarm of match for every window of the last
// backfill at once, then one for each window 200 ms after it ends, as the
// pipeline would, until stop is called (or the test ends). Each swarm
// counts 🔥 and 👏.
func (f *fakeIngest) swarmsOnTime(t *testing.T, match string, backfill time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	next := wire.WindowOf(time.Now().Add(-backfill), testWindow)
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			due := next.Add(testWindow + 200*time.Millisecond)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(due)):
			}
			sw := &wire.Swarm{MatchID: match, WindowStart: next, WindowEnd: next.Add(testWindow),
				Counts: map[string]int64{"🔥": int64(10 + i%7), "👏": 3}, Swarm: map[string]int64{"🔥": 2},
				Partitions: 1, ClosedBy: wire.ClosedByAllPartitions, PublishedAt: time.Now()}
			sw.Total = sw.Counts["🔥"] + sw.Counts["👏"]
			if err := f.storeQuiet(ctx, sw); err != nil {
				if ctx.Err() == nil {
					t.Errorf("publishing window %s: %v", next.Format(time.TimeOnly), err)
				}
				return
			}
			next = next.Add(testWindow)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// storeQuiet is store for another goroutine than the test's: it returns
// its error, after trying for 10 s (the server may be restarting).
func (f *fakeIngest) storeQuiet(ctx context.Context, sw *wire.Swarm) error {
	body, err := sw.Encode()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		_, err = f.js.Publish(ctx, wire.SwarmSubject(sw.MatchID), body, jetstream.WithMsgID(sw.MsgID()))
		if err == nil || ctx.Err() != nil {
			break
		}
		select { // the client reconnects every 100 ms
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.stored[sw.MatchID] = append(f.stored[sw.MatchID], sw)
	f.mu.Unlock()
	return nil
}

// shown is one window the page showed (teststream.RecorderJS).
type shown = teststream.Shown

// recorded returns the windows the page showed so far.
func (p page) recorded() []shown {
	p.t.Helper()
	var out []shown
	if err := json.Unmarshal([]byte(p.eval(`JSON.stringify(window.recorded || [])`)), &out); err != nil {
		p.t.Fatal(err)
	}
	return out
}

// openPlayer opens the player page on stream and match with lead, starts
// the recorder and waits until the video plays and the page is connected.
func (p page) openPlayer(base, stream, match string, lead int) {
	p.t.Helper()
	p.do(chromedp.Navigate(fmt.Sprintf("%s/player.html?match=%s&video=%s&lead=%d", base, match, stream, lead)),
		chromedp.Evaluate[chromedp.Void](teststream.RecorderJS))
	p.until("the page connected and the video playing", `document.body.dataset.player === "hls.js" &&
		document.getElementById("status").dataset.state === "connected" &&
		!document.getElementById("video").paused && `+programTime+` > 0`)
}

// programTime is the JavaScript for the page's video clock (Unix ms).
const programTime = `Number(document.getElementById("program").dataset.ms)`

// behindLive is how far the page's video runs behind the wall clock now.
func (p page) behindLive() time.Duration {
	p.t.Helper()
	var ms float64
	fmt.Sscan(p.eval(`String(Date.now() - `+programTime+`)`), &ms)
	return time.Duration(ms) * time.Millisecond
}

// percentile is the p-th percentile (0-100) of xs, nearest rank.
func percentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
