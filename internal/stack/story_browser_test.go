package stack_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/emostream/emostream/web/webtest"
)

// TestStoryFullStack drives Chromium against the whole pipeline and the
// timeline API: reactions clicked on the page come back in the "mood over
// time" chart, a reload reads them back from GET …/timeline, replay plays
// them, and with a spoiler-free delay a window shows no earlier than the
// delay after its end. Skipped while ingest has no timeline API (404).
//
// Left for after the merge: a planted surge's moment marker (needs the
// processor's moment rule with a short baseline in stack.Config).
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
