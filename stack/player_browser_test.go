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
	"github.com/emostream/emostream/wire"
)

// TestPlayerFullStack: the player page served by ingest, under its
// Content-Security-Policy with the test stream's origin in VideoOrigins
// (--video-origins), plays a live HLS stream (web/teststream, its video
// 10 s behind live) with hls.js, and shows the swarms of reactions POSTed
// through the whole pipeline in step with it: each when the frame at its
// window's end is on screen (within ±250 ms, never before), read back
// from the frame itself. A stream of another origin is refused by the
// policy. A reaction clicked on the page at video time T carries T as
// video_ts and is counted in T's window in the timeline by program time
// (and in the window it arrived in by named window, 10 s later); hostile
// video_ts values sent with fetch from the page are refused with 400
// bad_video_ts and counted nowhere.
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
	reactAtVideoTime(ctx, t, st.HTTPURL(), match)
}

// postedJS records, in window.posted, every POST /v1/emojis the page
// makes: its events, status and answer.
const postedJS = `window.posted = []; { const f = window.fetch; window.fetch = async (url, init) => {
  const res = await f(url, init);
  if (String(url).endsWith("/v1/emojis")) {
    window.posted.push({ body: JSON.parse(init.body), status: res.status, answer: await res.clone().json().catch(() => null) });
  }
  return res;
}; }`

// reactAtVideoTime clicks 👏 on the player page, playing behind live, and
// checks where the timeline counts it; then posts hostile video_ts values
// with fetch from the page (😂, which nothing else sends).
func reactAtVideoTime(ctx context.Context, t *testing.T, base, match string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](postedJS)); err != nil {
		t.Fatal(err)
	}
	before := evalString(ctx, t, `document.getElementById("program").dataset.ms`)
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector('#emoji-buttons [data-emoji="👏"]').click()`)); err != nil {
		t.Fatal(err)
	}
	until(ctx, t, "the click's POST answered", `window.posted.some((p) => p.body.some((e) => e.emoji_type === "👏"))`)
	after := evalString(ctx, t, `document.getElementById("program").dataset.ms`)
	var posted []struct {
		Body   []map[string]any `json:"body"`
		Status int              `json:"status"`
		Answer struct {
			Windows []int64 `json:"windows"`
		} `json:"answer"`
	}
	if err := json.Unmarshal([]byte(evalString(ctx, t, `JSON.stringify(window.posted)`)), &posted); err != nil {
		t.Fatal(err)
	}
	p := posted[0]
	v, ok := p.Body[0]["video_ts"].(float64)
	var lo, hi float64
	fmt.Sscan(before, &lo)
	fmt.Sscan(after, &hi)
	if p.Status != http.StatusAccepted || len(p.Answer.Windows) != 1 || !ok || v < lo || v > hi+250 {
		t.Fatalf("the click posted %+v (status %d); want video_ts between the program times %s and %s around it, and a 202", p.Body, p.Status, before, after)
	}
	videoWin, namedWin := wire.WindowStart(int64(v), 2000), p.Answer.Windows[0]
	if namedWin-videoWin < 6000 {
		t.Fatalf("video window %d, named %d: want the video about 10 s behind live", videoWin, namedWin)
	}
	// Hostile program times, sent by a script on the page: each refused.
	for _, hostile := range []string{"Date.now() + 3600e3", "253402300799999", "Date.now() - 120e3", "-1", `"now"`} {
		js := fmt.Sprintf(`fetch("/v1/emojis", {method: "POST", headers: {"Content-Type": "application/json"},
			body: JSON.stringify([{user_id: "h", match_id: %q, emoji_type: "😂"}, {user_id: "h", match_id: %q, emoji_type: "😂", video_ts: %s}])})
			.then(async (r) => r.status + " " + (await r.json()).error.code)`, match, match, hostile)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		want := "400 bad_video_ts"
		if hostile == `"now"` {
			want = "400 bad_field"
		}
		if err != nil || got != want {
			t.Errorf("video_ts %s from the page: %q (%v), want %q", hostile, got, err, want)
		}
	}
	for by, win := range map[string]int64{"video": videoWin, "named": namedWin} {
		url := base + "/v1/matches/" + match + "/timeline?step=2s&by=" + by
		var got map[int64]map[string]int64
		if !testenv.Until(30*time.Second, func() bool {
			got = tryTimelineSteps(url)
			return got[win]["👏"] == 1
		}) {
			t.Fatalf("timeline by %s: %v; want the 👏 in window %d", by, got, win)
		}
		for w, c := range got {
			if (c["👏"] != 0) != (w == win) || c["😂"] != 0 {
				t.Errorf("timeline by %s: window %d counts %v; want 👏 only in %d and no 😂", by, w, c, win)
			}
		}
	}
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
