package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/emostream/emostream/bridge"
	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/processor"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/web/webtest"
	"github.com/emostream/emostream/wire"
)

// TestStoryFullStack drives Chromium against the whole pipeline and the
// timeline API: reactions clicked on the page come back in the "mood over
// time" chart, a reload reads them back from GET …/timeline, replay plays
// them, and with a spoiler-free delay a window shows no earlier than the
// delay after its end. Skipped while ingest has no timeline API (404).
// TestStoryMomentFullStack covers the moment markers.
func TestStoryFullStack(t *testing.T) {
	ctx := webtest.NewBrowser(t)
	st := startStack(t, time.Second)
	const match = "story-e2e"
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	click := func(emoji string, n int) {
		for range n {
			run("click "+emoji, chromedp.Click(chromedp.CSS(`button[data-emoji="`+emoji+`"]`)))
		}
	}
	totalAll := `Number(document.getElementById("total-all").textContent.replace(/,/g, ""))`
	chartTotal := `Number(document.getElementById("chart").dataset.total)`

	run("open the page", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(st.HTTPURL()+"/?match="+match))
	until(ctx, t, "connected", `document.getElementById("status").dataset.state === "connected"`)
	click("🔥", 5)
	until(ctx, t, "the clicks counted in swarms", totalAll+` === 5`)

	res, err := http.Get(st.HTTPURL() + "/v1/matches/" + match + "/timeline?step=2s")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		t.Skip("needs the timeline API")
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET timeline: %s", res.Status)
	}
	until(ctx, t, "the live chart", chartTotal+` === 5`)

	run("reload", chromedp.Reload())
	until(ctx, t, "the chart read back from the timeline", chartTotal+` === 5`)
	until(ctx, t, "connected again", `document.getElementById("status").dataset.state === "connected"`)
	click("👏", 3)
	until(ctx, t, "the chart with the new clicks", chartTotal+` === 8`)

	run("replay at 16×", chromedp.SetValue(chromedp.ID("replay-speed"), "16"), chromedp.SetValue(chromedp.ID("replay-from"), "0"),
		chromedp.Click(chromedp.ID("replay-toggle")))
	until(ctx, t, "replay done", `document.getElementById("replay-status").dataset.state === "done" &&
		document.getElementById("replay-status").dataset.played === document.getElementById("replay-status").dataset.steps`)

	run("open with a delay", chromedp.Navigate(st.HTTPURL()+"/?match="+match+"&delay=2s"))
	until(ctx, t, "connected with the delay", `document.getElementById("status").dataset.state === "connected" && document.body.dataset.delayMs === "2000"`)
	shownBefore, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("window-info").dataset.windowEnd || ""`))
	if err != nil {
		t.Fatal(err)
	}
	click("😂", 1)
	until(ctx, t, "the delayed window", fmt.Sprintf(`(document.getElementById("window-info").dataset.windowEnd || "") !== %q &&
		document.getElementById("window-info").dataset.source === "live"`, shownBefore))
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("window-info").dataset.shownAt + " " + document.getElementById("window-info").dataset.windowEnd`))
	if err != nil {
		t.Fatal(err)
	}
	var shownAt, end int64
	if _, err := fmt.Sscan(got, &shownAt, &end); err != nil {
		t.Fatalf("page times %q: %v", got, err)
	}
	if shownAt-end < 2000 {
		t.Errorf("window shown %d ms after its end, want at least 2000 (delay 2s)", shownAt-end)
	}
}

// TestStoryMomentFullStack plants a crowd surge through the whole pipeline
// with a short moment baseline: a calm stretch of noise posted through the
// ingest API, one window per batch, shows in the page's chart with no moment
// marker and no moment in GET …/timeline; a surge posted after it is
// detected by the processor and shows as exactly one marker over its window,
// live, in the timeline's "moments" and again after a reload (read back from
// the timeline).
func TestStoryMomentFullStack(t *testing.T) {
	const (
		match  = "story-moment"
		window = 500 * time.Millisecond
		floor  = 40  // no noise batch reaches it
		surge  = 150 // one batch, so one window
	)
	rule := processor.MomentRule{Floor: floor, Baseline: 4 * window} // factor 3, cooldown 10s
	ctx := webtest.NewBrowser(t)
	st := startStackWith(t, stack.Config{Window: window, Registry: registry.Config{AutoMatches: 1000},
		// The test polls the timeline (its rate limit is ingest's test).
		Ingest: ingest.Config{TimelineRate: -1},
		// Generous on a loaded machine: a record stored up to 400ms after
		// its window's end still counts in it, and the processor waits
		// for every partition's partial rather than closing by deadline,
		// so each batch is counted in the window the ingest API answered.
		Bridge:    bridge.Config{CloseDelay: 400 * time.Millisecond},
		Processor: processor.Config{Moments: rule, PartitionWait: 10 * time.Second}})
	base, winMs := st.HTTPURL(), window.Milliseconds()

	totals := map[int64]int64{} // events per window start, as the ingest API answered
	first, last := int64(-1), int64(-1)
	batch := func(what string, n int) int64 {
		t.Helper()
		// One batch per window: wait for the window after the last one's.
		testenv.WaitFor(t, 10*time.Second, "the next window", func() bool {
			return wire.WindowStart(time.Now().UnixMilli(), winMs) > last
		})
		evs := make([]map[string]string, n)
		for i := range evs {
			id := fmt.Sprintf("%s-%d-%d", what, len(totals), i)
			evs[i] = map[string]string{"user_id": id, "match_id": match, "emoji_type": "🔥", "event_id": id}
		}
		w := postWindow(t, base, evs)
		if w <= last {
			t.Fatalf("%s posted in window %d, not after %d", what, w, last)
		}
		totals[w] += int64(n)
		if first < 0 {
			first = w
		}
		last = w
		return w
	}
	chartTotal := `Number(document.getElementById("chart").dataset.total)`
	markers := `document.querySelectorAll("#markers .moment-marker")`

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(base+"/?match="+match)); err != nil {
		t.Fatal(err)
	}
	until(ctx, t, "connected", `document.getElementById("status").dataset.state === "connected"`)

	// Noise over the baseline and at least 3 windows past it, which the
	// rule judges against that baseline: the 5th and 8th batches are over
	// 3 times their baseline's median, but no batch has floor events.
	var noise int64
	calm := []int{2, 1, 3, 2, 12, 1, 2, 25, 3, 2}
	for i := 0; last < 0 || last-first < rule.Baseline.Milliseconds()+3*winMs; i++ {
		n := calm[i%len(calm)]
		batch("noise", n)
		noise += int64(n)
	}
	until(ctx, t, "the noise in the chart", fmt.Sprintf(`%s === %d`, chartTotal, noise))
	if got := evalString(ctx, t, `document.getElementById("markers").dataset.count + " " + `+markers+`.length`); got != "0 0" {
		t.Errorf("markers after the noise: count and buttons %q, want 0 0", got)
	}
	tl := waitTimeline(t, base, match, "the noise in the timeline", func(tl storyTimeline) bool { return tl.Total == noise })
	if len(tl.Moments) != 0 {
		t.Errorf("timeline moments after the noise: %+v, want none", tl.Moments)
	}

	w := batch("surge", surge)
	if w-first < rule.Baseline.Milliseconds() {
		t.Fatalf("surge window %d is within the baseline of the first, %d", w, first)
	}
	t.Logf("events per window (Unix ms): %v", totals)
	want := wire.Moment{MatchID: match, WindowStart: time.UnixMilli(w).UTC(), WindowEnd: time.UnixMilli(w + winMs).UTC(),
		Size: surge, Ratio: math.Round(surge/max(medianBefore(totals, w, winMs, int(rule.Baseline/window)), 1)*100) / 100, Rule: "total"}
	if want.Ratio < processor.DefaultMomentFactor {
		t.Fatalf("the surge's ratio %v is below the rule's factor", want.Ratio)
	}
	marker := fmt.Sprintf(`%s.length === 1 && %s[0].dataset.at === "%d" && document.getElementById("markers").dataset.count === "1"`, markers, markers, w)
	until(ctx, t, "the surge's marker, live", marker)
	tl = waitTimeline(t, base, match, fmt.Sprintf("the surge in the timeline: total %d and a moment", noise+surge),
		func(tl storyTimeline) bool { return tl.Total == noise+surge && len(tl.Moments) > 0 })
	if got, want := jsonOf(t, tl.Moments), jsonOf(t, []wire.Moment{want}); got != want {
		t.Errorf("timeline moments:\n got %s\nwant %s", got, want)
	}
	// The chart rebuilds its markers as its range grows with each window,
	// so a click aimed at a marker found a moment ago can land on one
	// already replaced: click the marker there is until the details show.
	until(ctx, t, "the moment's details", fmt.Sprintf(`(() => {
		const shown = () => document.getElementById("moment-detail").dataset.at === "%d";
		if (!shown()) document.querySelector("#markers .moment-marker")?.click();
		return shown();
	})()`, w))

	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	until(ctx, t, "the marker read back from the timeline", fmt.Sprintf(`%s === %d && %s`, chartTotal, noise+surge, marker))
}

// storyTimeline is what the story tests read of GET …/timeline.
type storyTimeline struct {
	Total   int64         `json:"total"`
	Moments []wire.Moment `json:"moments"`
}

// waitTimeline polls match's 2 s timeline until done holds for it.
func waitTimeline(t *testing.T, base, match, what string, done func(storyTimeline) bool) storyTimeline {
	t.Helper()
	var tl storyTimeline
	testenv.WaitFor(t, 30*time.Second, what, func() bool {
		res, err := http.Get(base + "/v1/matches/" + match + "/timeline?step=2s")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK { // 404 until the match's first window is stored
			return false
		}
		tl = storyTimeline{}
		if err := json.NewDecoder(res.Body).Decode(&tl); err != nil {
			t.Fatalf("GET timeline: %v", err)
		}
		return done(tl)
	})
	return tl
}

// postWindow posts evs, which must all be accepted, and returns the window
// the ingest API put them in.
func postWindow(t *testing.T, base string, evs []map[string]string) int64 {
	t.Helper()
	status, out := postReply(t, base, evs)
	if status != http.StatusAccepted || out.Accepted != len(evs) || len(out.Windows) != 1 {
		t.Fatalf("POST %d events: status %d, %+v", len(evs), status, out)
	}
	return out.Windows[0]
}

// medianBefore is the median of the totals of the n windows before start,
// a window without events counting 0: the moment rule's baseline.
func medianBefore(totals map[int64]int64, start, winMs int64, n int) float64 {
	vals := make([]int64, n)
	for i := range vals {
		vals[i] = totals[start-int64(i+1)*winMs]
	}
	slices.Sort(vals)
	if n%2 == 1 {
		return float64(vals[n/2])
	}
	return float64(vals[n/2-1]+vals[n/2]) / 2
}

func evalString(ctx context.Context, t *testing.T, js string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
	if err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
	return s
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
