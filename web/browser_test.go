package web_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/emostream/emostream/web/webtest"
)

const testMatch = "final-2026"

// page wraps the chromedp context of one tab with the test's helpers.
type page struct {
	t     *testing.T
	ctx   context.Context
	shots string // where screenshots go: the top test's temp dir, or $EMOSTREAM_SCREENSHOT_DIR
}

// in returns the page for a subtest.
func (p page) in(t *testing.T) page {
	p.t = t
	return p
}

func (p page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatal(err)
	}
}

// eval returns a JavaScript expression's value as a string.
func (p page) eval(js string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// until waits, with a deadline, for a JavaScript expression to become truthy.
func (p page) until(what, js string) {
	p.t.Helper()
	p.untilWithin(20*time.Second, what, js)
}

// untilWithin is until with the deadline d.
func (p page) untilWithin(d time.Duration, what, js string) {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](js,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(d)))
	if err != nil {
		p.t.Fatalf("waiting for %s (%s): %v\nlog:\n%s", what, js, err, p.eval(`document.getElementById("log").innerText`))
	}
}

func (p page) click(css string) { p.t.Helper(); p.do(chromedp.Click(chromedp.CSS(css))) }

// cell is the JavaScript for the number in one cell of the counts table.
func cell(emoji, col string) string {
	return fmt.Sprintf(`Number(document.querySelector('#counts li[data-emoji="%s"] .%s').textContent.replace(/,/g, ""))`, emoji, col)
}

func number(id string) string {
	return fmt.Sprintf(`Number(document.getElementById(%q).textContent.replace(/,/g, ""))`, id)
}

func TestBrowser(t *testing.T) {
	ctx := webtest.NewBrowser(t)
	nats := startNATS(t)
	ingest := newFakeIngest(t, nats)
	p := page{t: t, ctx: ctx, shots: t.TempDir()}
	if dir := os.Getenv("EMOSTREAM_SCREENSHOT_DIR"); dir != "" {
		p.shots = dir // keep them to look at
	}

	// A swarm stored before the viewer joins is shown at once (direct get).
	ingest.publish(testMatch, map[string]int64{"🏆": 7})
	p.do(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(ingest.URL+"/?match="+testMatch))
	p.until("connected", `document.getElementById("status").dataset.state === "connected"`)
	p.until("the stored window", cell("🏆", "last")+` === 7`)
	if got := p.eval(`document.getElementById("window-info").textContent`); !strings.HasPrefix(got, "stored") {
		t.Errorf("window info = %q, want it marked stored", got)
	}
	// 7 with a threshold of 5 is one unit: singular, not "1 units".
	if got := p.eval(`document.querySelector('#counts li[data-emoji="🏆"] .sub').textContent + " / " +
		document.getElementById("total-swarm").parentElement.textContent`); got != "1 unit · 7 total / 1 swarm unit" {
		t.Errorf("unit wording = %q, want %q", got, "1 unit · 7 total / 1 swarm unit")
	}

	t.Run("click", func(t *testing.T) {
		p := p.in(t)
		for range 3 {
			p.click(`button[data-emoji="🔥"]`)
		}
		p.click(`button[data-emoji="👏"]`)
		// Keyboard: focus a button and press Enter.
		p.do(chromedp.Focus(chromedp.CSS(`button[data-emoji="😂"]`)), chromedp.KeyEvent("\r"))
		waitFor(t, "5 events at ingest", func() bool { return ingest.total() == 5 })
		sw := ingest.publish(testMatch, nil)
		p.until("the window with the clicks", cell("🔥", "last")+` === 3 && `+cell("👏", "last")+` === 1 && `+cell("😂", "last")+` === 1`)
		p.until("total of the window", number("total-last")+` === 5`)
		p.until("running total", number("total-all")+` === 12`) // 7 stored + 5
		if got := p.eval(`document.getElementById("log").innerText`); !strings.Contains(got, "delay") {
			t.Errorf("log has no received window with its delay:\n%s", got)
		}
		if sw.Total != 5 {
			t.Errorf("published total %d, want 5", sw.Total)
		}
	})

	t.Run("auto sender", func(t *testing.T) {
		p := p.in(t)
		before := ingest.total()
		p.do(chromedp.Evaluate[chromedp.Void](`(() => {
			const r = document.getElementById("auto-rate"); r.value = "400"; r.dispatchEvent(new Event("input"));
			const u = document.getElementById("auto-users"); u.value = "50"; u.dispatchEvent(new Event("input"));
		})()`))
		p.click("#auto-toggle")
		p.until("sender running", `document.getElementById("auto-toggle").getAttribute("aria-pressed") === "true"`)
		waitFor(t, "automated events at ingest", func() bool { return ingest.total() >= before+200 })
		sw := ingest.publish(testMatch, nil)
		p.until("the automated window", fmt.Sprintf(`%s === %d`, number("total-last"), sw.Total))
		p.click("#auto-toggle")
		p.until("sender stopped", `document.getElementById("auto-toggle").getAttribute("aria-pressed") === "false"`)
		// Once stopped and its last requests answered, the page has counted
		// as accepted exactly what ingest got from the sender.
		pageAccepted := func() int64 {
			stats := p.eval(`document.getElementById("auto-stats").textContent`)
			if !strings.HasPrefix(stats, "Stopped") {
				t.Fatalf("auto-stats %q, want Stopped…", stats)
			}
			n, _ := strconv.ParseInt(strings.ReplaceAll(strings.Fields(strings.Split(stats, "·")[1])[0], ",", ""), 10, 64)
			return n
		}
		waitFor(t, "the page's accepted count to match ingest's", func() bool {
			return pageAccepted() == ingest.total()-before
		})
		ingest.publish(testMatch, nil) // what the sender sent after the window above
		if sw.Total < 200 {
			t.Errorf("automated window total %d, want at least 200", sw.Total)
		}
	})

	t.Run("api errors", func(t *testing.T) {
		p := p.in(t)
		totalBefore := ingest.total()
		for _, c := range []struct {
			status int
			want   string
		}{
			{http.StatusTooManyRequests, "rate limited. Try again in 3 s"},
			{http.StatusServiceUnavailable, "Kafka unavailable"},
			{http.StatusBadRequest, "Rejected, nothing was counted (event #1): unknown emoji_type."},
		} {
			ingest.setFail(c.status)
			p.click(`button[data-emoji="😮"]`)
			p.until(fmt.Sprintf("the %d message", c.status),
				fmt.Sprintf(`document.getElementById("message").textContent.includes(%q)`, c.want))
		}
		ingest.setFail(0)
		if n := ingest.total(); n != totalBefore {
			t.Errorf("ingest accepted %d events while failing", n-totalBefore)
		}
	})

	t.Run("swarm animation and screenshots", func(t *testing.T) {
		p := p.in(t)
		p.click(`button[data-emoji="🔥"]`) // a success clears any error message
		ingest.publishOnTime(testMatch, map[string]int64{"🔥": 160, "👏": 90, "😂": 60, "❤️": 45, "🎉": 30, "⚽": 20})
		p.until("sprites in flight", freeze(started(".big", 55)))
		shot := p.screenshot("desktop.png", chromedp.CaptureScreenshot())
		p.do(thaw)
		if os.Getenv("EMOSTREAM_UPDATE_SCREENSHOT") == "1" {
			if err := os.WriteFile(filepath.Join("..", "docs", "screenshot.png"), shot, 0o644); err != nil {
				t.Fatal(err)
			}
		}

		p.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait))
		p.until("no horizontal scrolling on a phone", `document.documentElement.scrollWidth <= window.innerWidth`)
		ingest.publish(testMatch, map[string]int64{"🔥": 40, "👏": 25})
		p.until("sprites in flight on a phone", freeze(started("", 30)))
		p.screenshot("phone.png", chromedp.CaptureScreenshot())
		p.screenshot("phone-full.png", chromedp.FullScreenshot(100))
		p.do(thaw)
		p.do(chromedp.EmulateViewport(1280, 900))
	})

	t.Run("match picker", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("match-input").value = ""`),
			chromedp.SendKeys(chromedp.ID("match-input"), "semi-2\r"))
		p.until("the URL to name the new match", `new URLSearchParams(location.search).get("match") === "semi-2"`)
		p.until("counts reset", number("total-all")+` === 0`)
		p.until("the direct get's 404 for a match with no swarm yet",
			`document.getElementById("log").innerText.includes("no stored swarm for semi-2 yet")`)
		ingest.publish(testMatch, map[string]int64{"👍": 9}) // the old match: not shown
		sw := ingest.publish("semi-2", map[string]int64{"👎": 4})
		p.until("the new match's window", cell("👎", "last")+` === 4 && `+number("total-all")+fmt.Sprintf(` === %d`, sw.Total))
		if got := p.eval(`String(` + cell("👍", "total") + `)`); got != "0" {
			t.Errorf("👍 since join = %s after a window of another match, want 0", got)
		}
		p.do(chromedp.SetValue(chromedp.ID("match-input"), testMatch), chromedp.Click(chromedp.ID("match-go")))
		p.until("back on the first match", `new URLSearchParams(location.search).get("match") === "`+testMatch+`"`)
	})

	t.Run("server restart", func(t *testing.T) {
		p := p.in(t)
		p.until("connected", `document.getElementById("status").dataset.state === "connected"`)
		const reconnects = `[...document.querySelectorAll("#log li.status")].filter((li) => li.textContent.includes("Reconnecting")).length`
		before := p.eval(`String(` + reconnects + `)`)
		nats.restart()
		p.until("reconnected on its own", reconnects+` > `+before+` && document.getElementById("status").dataset.state === "connected"`)
		sw := ingest.publish(testMatch, map[string]int64{"😢": 6})
		p.until("a window after the restart", cell("😢", "last")+` === 6 && `+fmt.Sprintf(`%s === %d`, number("total-last"), sw.Total))
	})

	t.Run("server down at load", func(t *testing.T) {
		p := p.in(t)
		nats.stop()
		p.do(chromedp.Reload())
		p.until("connecting", `document.body.dataset.ready === "true" && document.getElementById("status").dataset.state === "connecting"`)
		p.click("#disconnect") // gives up dialing
		p.until("gave up", `document.getElementById("status").dataset.state === "disconnected"`)
		p.click("#connect")
		p.until("dialing again", `document.getElementById("status").dataset.state === "connecting"`)
		nats.start()
		waitFor(t, "the test's NATS client to reconnect", func() bool { return nats.JS.Conn().IsConnected() })
		p.until("connected once the server is up", `document.getElementById("status").dataset.state === "connected"`)
		p.until("the stored window on join", number("total-all")+` > 0`)
	})

	t.Run("disconnect", func(t *testing.T) {
		p := p.in(t)
		p.click("#disconnect")
		p.until("status disconnected", `document.getElementById("status").dataset.state === "disconnected"`)
		if got := p.eval(`document.getElementById("status-text").textContent`); got != "Disconnected" {
			t.Errorf("status text %q, want Disconnected", got)
		}
		p.click("#connect")
		p.until("connected again", `document.getElementById("status").dataset.state === "connected"`)
		sw := ingest.publish(testMatch, map[string]int64{"🎉": 11})
		p.until("a window after reconnecting", cell("🎉", "last")+` === 11 && `+fmt.Sprintf(`%s === %d`, number("total-last"), sw.Total))
	})
}

// started is the JavaScript for "at least n sprites of the class have been
// in flight for a while".
func started(class string, n int) string {
	return fmt.Sprintf(`[...document.querySelectorAll("#stage .sprite%s")].filter((el) => {
		const a = el.getAnimations()[0];
		return a && a.currentTime > a.effect.getTiming().delay + 300;
	}).length >= %d`, class, n)
}

// freeze is the JavaScript for "cond holds, and then every animation is
// paused", so that a screenshot on a slow machine shows that moment.
func freeze(cond string) string {
	return `(() => { if (!(` + cond + `)) return false; document.getAnimations().forEach((a) => a.pause()); return true; })()`
}

// thaw resumes the animations that freeze paused.
var thaw = chromedp.Evaluate[chromedp.Void](`document.getAnimations().forEach((a) => a.play())`)

// screenshot saves a PNG screenshot as name in the shots folder and returns it.
func (p page) screenshot(name string, shoot chromedp.Action[[]byte]) []byte {
	p.t.Helper()
	buf, err := chromedp.Run(p.ctx, shoot)
	if err != nil {
		p.t.Fatal(err)
	}
	path := filepath.Join(p.shots, name)
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
	return buf
}
