package stack_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/web/webtest"
)

// until polls js in the page until it holds, or fails the test with the
// page's log.
func until(ctx context.Context, t *testing.T, what, js string) {
	t.Helper()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		log, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("log").innerText`))
		t.Fatalf("waiting for %s: %v\npage log:\n%s", what, err, log)
	}
}

// TestBrowserFullStack drives Debian's Chromium against the whole pipeline:
// the page served by ingest posts clicks, and the swarms that come back over
// a leaf's WebSocket show them.
func TestBrowserFullStack(t *testing.T) {
	ctx := webtest.NewBrowser(t)
	st := startStack(t, time.Second)
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	totalAll := `Number(document.getElementById("total-all").textContent.replace(/,/g, ""))`

	if _, err := st.Matches.Create(context.Background(), registry.Match{ID: "registered-final", State: registry.Live,
		Title: "Registered final", Home: "Home", Away: "Away"}); err != nil {
		t.Fatal(err)
	}
	run("open the page", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(st.HTTPURL()+"/?match=e2e-browser"))
	until(ctx, t, "connected", `document.getElementById("status").dataset.state === "connected"`)
	until(ctx, t, "the live registered match in the picker", `[...document.querySelectorAll("#match-list option")].some((o) =>
		o.value === "registered-final" && o.label.includes("live") && o.label.includes("Home v Away"))`)
	for range 3 {
		run("click 🔥", chromedp.Click(chromedp.CSS(`button[data-emoji="🔥"]`)))
	}
	run("click 👏", chromedp.Click(chromedp.CSS(`button[data-emoji="👏"]`)))
	until(ctx, t, "the four clicks counted in swarms", totalAll+` === 4`)

	run("start the automated sender", chromedp.Evaluate[chromedp.Void](`(() => {
		const r = document.getElementById("auto-rate"); r.value = "200"; r.dispatchEvent(new Event("input"));
		const u = document.getElementById("auto-users"); u.value = "40"; u.dispatchEvent(new Event("input"));
	})()`), chromedp.Click(chromedp.ID("auto-toggle")))
	until(ctx, t, "automated reactions in swarms", totalAll+` >= 100`)
	run("stop the sender", chromedp.Click(chromedp.ID("auto-toggle")))
	until(ctx, t, "sender stopped", `document.getElementById("auto-toggle").getAttribute("aria-pressed") === "false"`)

	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "full-stack.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)

	run("disconnect", chromedp.Click(chromedp.ID("disconnect")))
	until(ctx, t, "disconnected", fmt.Sprintf(`document.getElementById("status").dataset.state === %q`, "disconnected"))
}
