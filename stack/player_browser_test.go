package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/web/teststream"
	"github.com/emostream/emostream/web/webtest"
)

// TestPlayerFullStack: the player page served by ingest, under its
// Content-Security-Policy with the test stream's origin in VideoOrigins
// (--video-origins), plays a live HLS stream (web/teststream, its video
// 10 s behind live) with hls.js, and shows the swarms of reactions POSTed
// through the whole pipeline in step with it: each when the frame at its
// window's end is on screen (within ±250 ms, never before), read back
// from the frame itself. A stream of another origin is refused by the
// policy.
func TestPlayerFullStack(t *testing.T) {
	testenv.RequireTool(t, "ffmpeg", teststream.InstallHint)
	ctx := webtest.NewBrowser(t)
	dir := t.TempDir()
	rctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := teststream.Render(rctx, dir); err != nil {
		t.Fatal(err)
	}
	s, err := teststream.New(teststream.Config{Dir: dir, Behind: 7 * time.Second}) // hls.js plays 3 s behind the edge
	if err != nil {
		t.Fatal(err)
	}
	allowed, other := httptest.NewServer(s), httptest.NewServer(s)
	t.Cleanup(allowed.Close)
	t.Cleanup(other.Close)
	st := startStackWith(t, stack.Config{Window: 2 * time.Second, Registry: registry.Config{AutoMatches: 100},
		Ingest: ingest.Config{VideoOrigins: []string{allowed.URL}}})
	const match = "player-e2e"
	open := func(stream string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(st.HTTPURL()+"/player.html?match="+match+"&video="+stream+teststream.PlaylistPath),
			chromedp.Evaluate[chromedp.Void](teststream.RecorderJS)); err != nil {
			t.Fatal(err)
		}
	}

	open(other.URL)
	until(ctx, t, "the stream of another origin refused", `document.getElementById("log").innerText.includes("networkError")`)
	if got := evalString(ctx, t, `String(document.getElementById("video").currentTime)`); got != "0" {
		t.Errorf("the video of another origin played to %s s", got)
	}

	open(allowed.URL)
	until(ctx, t, "the video playing", `!document.getElementById("video").paused && Number(document.getElementById("program").dataset.ms) > 0 &&
		document.getElementById("status").dataset.state === "connected"`)
	stop := postEvery(t, st.HTTPURL(), match, 300*time.Millisecond)
	defer stop()
	const windows = 3
	_, err = chromedp.Run(ctx, chromedp.Poll[chromedp.Void](fmt.Sprintf(`window.recorded.filter((r) => r.source === "live").length >= %d`, windows),
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(45*time.Second)))
	if err != nil {
		t.Fatalf("waiting for %d live windows: %v\npage log:\n%s", windows, err, evalString(ctx, t, `document.getElementById("log").innerText`))
	}
	var rec []teststream.Shown
	if err := json.Unmarshal([]byte(evalString(ctx, t, `JSON.stringify(window.recorded)`)), &rec); err != nil {
		t.Fatal(err)
	}
	var frames []float64
	for _, r := range rec {
		w := time.UnixMilli(r.End).Format("15:04:05")
		if r.Frame < -40 || r.Frame > 250 || r.Clock < -250 || r.Clock > 250 || r.Paused {
			t.Errorf("window ending %s (%s) shown with the frame on screen %+v ms and the video clock %+v ms from its end, want within ±250, never before its last frame (-40)",
				w, r.Source, r.Frame, r.Clock)
		}
		frames = append(frames, r.Frame)
	}
	slices.Sort(frames)
	t.Logf("%d windows shown over the video, 10 s behind live; the frame on screen at their end: %v ms", len(rec), frames)
}

// postEvery posts one reaction to match every interval until stop.
func postEvery(t *testing.T, base, match string, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			body := fmt.Sprintf(`{"user_id":"u-%d","match_id":%q,"emoji_type":"🔥"}`, i%50, match)
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/emojis", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("POST: %v", err)
				}
				return
			}
			res.Body.Close()
			if res.StatusCode != http.StatusAccepted {
				t.Errorf("POST: %s", res.Status)
				return
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}
