package web_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/emostream/emostream/web/webtest"
	"github.com/emostream/emostream/wire"
)

// attr is the JavaScript for a data attribute of the element with id, as a
// number.
func attr(id, name string) string {
	return fmt.Sprintf(`Number(document.getElementById(%q).dataset.%s)`, id, name)
}

// newPage starts a browser, a NATS server and the fake ingest.
func newPage(t *testing.T) (page, *natsServer, *fakeIngest) {
	ctx := webtest.NewBrowser(t)
	nats := startNATS(t)
	return page{t: t, ctx: ctx, shots: t.TempDir()}, nats, newFakeIngest(t, nats)
}

// TestStory: the page tells the match's story — the chart of the match so
// far (history from the timeline, then posted reactions live), a moment
// marker with its details, a replay — and checks what it shows: a forged
// swarm is dropped, windows missed during a disconnection are recovered.
func TestStory(t *testing.T) {
	p, nats, ingest := newPage(t)
	const match = "story-1"

	// Five past windows; the fourth is a planted surge with its moment.
	first := wire.WindowOf(time.Now(), testWindow).Add(-12 * testWindow)
	var histTotal int64
	for i := range 5 {
		counts := map[string]int64{"🔥": int64(10 + i), "👏": 5}
		var moments []wire.Moment
		if i == 3 {
			counts["🔥"] = 400
			moments = []wire.Moment{{MatchID: match, WindowStart: first.Add(3 * testWindow),
				WindowEnd: first.Add(4 * testWindow), Emoji: "🔥", Size: 400, Ratio: 31.5, Rule: "share"}}
		}
		sw := ingest.publishWindow(match, first.Add(time.Duration(i)*testWindow), counts, 0, moments...)
		histTotal += sw.Total
	}
	p.do(chromedp.EmulateViewport(1280, 900), chromedp.Navigate(ingest.URL+"/?match="+match))
	p.until("the chart of the match so far", attr("chart", "total")+fmt.Sprintf(` === %d`, histTotal))
	p.until("the legend", `document.querySelector('#chart-legend li[data-emoji="🔥"]').dataset.total === "`+
		strconv.Itoa(10+11+12+400+14)+`"`)

	t.Run("moment marker", func(t *testing.T) {
		p := p.in(t)
		p.until("one marker", attr("markers", "count")+` === 1`)
		p.do(chromedp.Focus(chromedp.CSS(".moment-marker")), chromedp.KeyEvent("\r")) // keyboard
		p.until("its details", `document.getElementById("moment-detail").textContent.includes("🔥 surged: 400 reactions, 31.5×")`)
		p.until("its step highlighted", `document.querySelector("#chart rect[data-highlight]") !== null`)
	})

	t.Run("posted counts", func(t *testing.T) {
		p := p.in(t)
		for range 3 {
			p.click(`button[data-emoji="😂"]`)
		}
		waitFor(t, "3 events at ingest", func() bool { return ingest.total() == 3 })
		ingest.publish(match, nil)
		p.until("the chart with the posted reactions", attr("chart", "total")+fmt.Sprintf(` === %d`, histTotal+3)+
			` && document.querySelector('#chart-legend li[data-emoji="😂"]').dataset.total === "3"`)
	})

	t.Run("viewers and a live moment", func(t *testing.T) {
		p := p.in(t)
		start := ingest.nextWindow()
		ingest.publishWindow(match, start, map[string]int64{"🎉": 900}, 42, wire.Moment{MatchID: match,
			WindowStart: start, WindowEnd: start.Add(testWindow), Size: 900, Ratio: 12, Rule: "total"})
		p.until("N watching", `document.getElementById("watching").textContent === "42 watching"`)
		p.until("a second marker", attr("markers", "count")+` === 2`)
	})

	t.Run("replay", func(t *testing.T) {
		p := p.in(t)
		p.do(chromedp.SetValue(chromedp.ID("replay-speed"), "16"),
			chromedp.SetValue(chromedp.ID("replay-from"), "0"))
		p.click("#replay-toggle")
		p.until("replay playing", `document.getElementById("replay-status").dataset.state === "playing"`)
		p.until("replay done", `document.getElementById("replay-status").dataset.state === "done"`)
		// From the first step to the last, quiet steps included.
		steps := p.eval(`document.getElementById("replay-status").dataset.steps`)
		if n, _ := strconv.Atoi(steps); n < 13 {
			t.Errorf("replay of %s steps, want at least the 13 from the first window to the live moment", steps)
		}
		if got := p.eval(`document.getElementById("replay-status").dataset.played`); got != steps {
			t.Errorf("replay played %s steps, want %s", got, steps)
		}
	})

	t.Run("forged swarms dropped", func(t *testing.T) {
		p := p.in(t)
		shown := p.eval(`document.getElementById("window-info").dataset.windowStart`)
		future := wire.WindowOf(time.Now(), testWindow).Add(10 * testWindow)
		other := &wire.Swarm{MatchID: "other", WindowStart: future, WindowEnd: future.Add(testWindow), Counts: map[string]int64{"💩": 99}, Total: 99}
		older := &wire.Swarm{MatchID: match, WindowStart: first, WindowEnd: first.Add(testWindow), Counts: map[string]int64{"💩": 99}, Total: 99}
		for _, sw := range []*wire.Swarm{other, older} {
			b, err := sw.Encode()
			if err != nil {
				t.Fatal(err)
			}
			nats.forge(match, b)
		}
		p.until("2 dropped", attr("verify", "dropped")+` === 2`)
		if got := p.eval(`document.getElementById("window-info").dataset.windowStart`); got != shown {
			t.Errorf("window shown %s after forged swarms, want still %s", got, shown)
		}
		if got := p.eval(`String(document.querySelector('#chart-legend li[data-emoji="💩"]'))`); got != "null" {
			t.Errorf("forged counts reached the chart: %s", got)
		}
	})

	t.Run("gap recovery across a reconnect", func(t *testing.T) {
		p := p.in(t)
		p.until("connected", `document.getElementById("status").dataset.state === "connected"`)
		before := p.eval(`String(` + number("total-all") + `)`)
		var missed []*wire.Swarm
		nats.withoutViewers(func() {
			p.until("disconnected", `document.getElementById("status").dataset.state === "reconnecting"`)
			missed = append(missed, ingest.publish(match, map[string]int64{"😢": 3}), ingest.publish(match, map[string]int64{"😢": 4}))
		})
		p.until("both missed windows shown, recovered", number("total-all")+fmt.Sprintf(` === %s + 7`, before)+
			` && `+attr("window-info", "recovered")+` === 2`+
			fmt.Sprintf(` && document.getElementById("window-info").dataset.windowStart === "%d"`, missed[1].WindowStart.UnixMilli()))
		if got := p.eval(`String(` + attr("verify", "missed") + `)`); got != "0" {
			t.Errorf("missed %s windows, want 0", got)
		}
	})

	t.Run("gap recovery on a live jump", func(t *testing.T) {
		p := p.in(t)
		before := p.eval(`String(` + number("total-all") + `)`)
		recovered := p.eval(`String(` + attr("window-info", "recovered") + `)`)
		nats.withoutRePublish(func() { // two windows stored, never live
			ingest.publish(match, map[string]int64{"😮": 2})
			ingest.publish(match, map[string]int64{"😮": 5})
		})
		last := ingest.publish(match, map[string]int64{"😮": 1})
		p.until("the two lost windows, then the live one", number("total-all")+fmt.Sprintf(` === %s + 8`, before)+
			` && `+attr("window-info", "recovered")+` === `+recovered+` + 2`+
			fmt.Sprintf(` && document.getElementById("window-info").dataset.windowStart === "%d"`, last.WindowStart.UnixMilli())+
			` && document.getElementById("window-info").dataset.source === "live"`)
	})
}

// TestSpoilerFreeDelay: with ?delay=3s a live swarm appears no earlier than
// 3 s after its window ended (times read from the page), and the chart
// holds it back too.
func TestSpoilerFreeDelay(t *testing.T) {
	p, _, ingest := newPage(t)
	const match = "delay-1"
	p.do(chromedp.EmulateViewport(390, 844), chromedp.Navigate(ingest.URL+"/?match="+match+"&delay=3s"))
	p.until("connected with the delay", `document.getElementById("status").dataset.state === "connected" && document.body.dataset.delayMs === "3000"`)
	sw := ingest.publishOnTime(match, map[string]int64{"🔥": 8})
	end := sw.WindowEnd.UnixMilli()
	if got := p.eval(`String(` + attr("chart", "total") + `)`); got != "0" && time.Now().UnixMilli() < end+3000 {
		t.Errorf("chart total %s before the delay passed, want 0", got)
	}
	p.until("the swarm shown",
		fmt.Sprintf(`document.getElementById("window-info").dataset.windowEnd === "%d"`, end))
	shownAt, _ := strconv.ParseInt(p.eval(`document.getElementById("window-info").dataset.shownAt`), 10, 64)
	if shownAt < end+3000 {
		t.Errorf("shown %d ms after its window end, want at least 3000", shownAt-end)
	}
	if got := p.eval(`String(` + attr("chart", "total") + `)`); got != "8" {
		t.Errorf("chart total %s once shown, want 8", got)
	}
	// The slider sets the delay too.
	p.do(chromedp.SetValue(chromedp.ID("delay"), "0"), chromedp.Evaluate[chromedp.Void](`document.getElementById("delay").dispatchEvent(new Event("input"))`))
	p.until("delay off", `document.body.dataset.delayMs === "0" && new URLSearchParams(location.search).get("delay") === null`)
}

// TestLateJoinEmpty: a page that joined a match with nothing stored, then
// missed its first two windows on the live path (stored, not republished),
// shows them, recovered, when the next live one arrives.
func TestLateJoinEmpty(t *testing.T) {
	p, nats, ingest := newPage(t)
	const match = "empty-1"
	p.do(chromedp.Navigate(ingest.URL + "/?match=" + match))
	p.until("the join found nothing stored", `[...document.querySelectorAll("#log .text")].some((e) => e.textContent === "no stored swarm for `+match+` yet")`)
	nats.withoutRePublish(func() {
		ingest.publish(match, map[string]int64{"😮": 2})
		ingest.publish(match, map[string]int64{"😮": 5})
	})
	last := ingest.publish(match, map[string]int64{"😮": 1})
	p.until("the two missed windows, then the live one", number("total-all")+` === 8`+
		` && `+attr("window-info", "recovered")+` === 2`+
		fmt.Sprintf(` && document.getElementById("window-info").dataset.windowStart === "%d"`, last.WindowStart.UnixMilli())+
		` && document.getElementById("window-info").dataset.source === "live"`)
}

// TestLateJoinRetried: a page whose late join got no answer (no swarm
// stream yet) reads it again, so a swarm stored meanwhile and never live
// is shown.
func TestLateJoinRetried(t *testing.T) {
	p, nats, ingest := newPage(t)
	const match = "empty-2"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nats.JS.DeleteStream(ctx, wire.SwarmsStream); err != nil {
		t.Fatal(err)
	}
	p.do(chromedp.Navigate(ingest.URL + "/?match=" + match))
	p.until("the join unanswered", `[...document.querySelectorAll("#log .text")].some((e) => e.textContent.startsWith("swarm stream out of reach"))`)
	cfg := swarmStreamConfig()
	cfg.RePublish = nil // stored, never live
	if _, err := nats.JS.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	sw := ingest.publish(match, map[string]int64{"😮": 3})
	p.until("the stored window, read by the join", number("total-all")+` === 3`+
		fmt.Sprintf(` && document.getElementById("window-info").dataset.windowStart === "%d"`, sw.WindowStart.UnixMilli())+
		` && document.getElementById("window-info").dataset.source === "latest"`)
}

// TestRecoveryUnanswered: a page whose gap recovery gets no responders
// (the stream's direct gets off for a while) reports no window missed:
// the live windows wait, and once the gets are answered every window is
// shown, read back with "next".
func TestRecoveryUnanswered(t *testing.T) {
	p, nats, ingest := newPage(t)
	const match = "unanswered-1"
	p.do(chromedp.Navigate(ingest.URL + "/?match=" + match))
	p.until("the join found nothing stored", `[...document.querySelectorAll("#log .text")].some((e) => e.textContent === "no stored swarm for `+match+` yet")`)
	ingest.publish(match, map[string]int64{"😮": 1})
	p.until("window 1", number("total-all")+` === 1`)
	nats.setDirect(false)
	nats.withoutRePublish(func() { ingest.publish(match, map[string]int64{"😮": 2}) })
	last := ingest.publish(match, map[string]int64{"😮": 4})
	missed := `(document.getElementById("verify").dataset.missed || "0")`
	p.until("the recovery unanswered (or a window shown)", `[...document.querySelectorAll("#log .text")].some((e) => e.textContent.startsWith("recovery interrupted: swarm stream out of reach"))`+
		` || `+number("total-all")+` !== 1 || `+missed+` !== "0"`)
	if got := p.eval(missed + ` + "/" + ` + number("total-all")); got != "0/1" {
		t.Fatalf("missed/total %s while the stream did not answer, want 0/1 (nothing missed, window 3 waiting)", got)
	}
	nats.setDirect(true)
	p.until("every window, read back", number("total-all")+` === 7`+
		` && `+attr("window-info", "recovered")+` === 2`+ // the missed one and the waiting live one
		fmt.Sprintf(` && document.getElementById("window-info").dataset.windowStart === "%d"`, last.WindowStart.UnixMilli()))
	if got := p.eval(missed); got != "0" {
		t.Errorf("missed %s windows, want 0", got)
	}
}

// TestServerEmojiKeys: a swarm whose counts carry emojis the page does
// not know, named like Object's own properties ("__proto__",
// "constructor") and by the hundred, is counted whole, shown in a bounded
// number of rows and charted without breaking a column.
func TestServerEmojiKeys(t *testing.T) {
	p, _, ingest := newPage(t)
	const match = "keys-1"
	p.do(chromedp.Navigate(ingest.URL + "/?match=" + match))
	p.until("the join found nothing stored", `[...document.querySelectorAll("#log .text")].some((e) => e.textContent === "no stored swarm for `+match+` yet")`)
	counts := map[string]int64{"__proto__": 2, "constructor": 3, "toString": 4}
	for i := range 200 {
		counts[fmt.Sprintf("x%03d", i)] = 1
	}
	ingest.publish(match, counts)
	p.until("the window counted whole", number("total-all")+` === 209`)
	ingest.publish(match, map[string]int64{"😮": 1})
	p.until("the next window", number("total-all")+` === 210`)
	if got := p.eval(`String(document.querySelectorAll("#counts li").length)`); got != "64" {
		t.Errorf("%s rows of counts, want at most 64", got)
	}
	if got := p.eval(`document.querySelector('#counts li[data-emoji="constructor"] .last').textContent + "/" + document.querySelector('#counts li[data-emoji="constructor"] .total').textContent`); got != "0/3" {
		t.Errorf(`"constructor" last window/total %s, want 0/3`, got)
	}
	p.until("the chart", attr("chart", "total")+` > 0`)
	if got := p.eval(`String([...document.querySelectorAll("#chart rect")].filter((r) => !Number.isFinite(Number(r.getAttribute("height")))).length)`); got != "0" {
		t.Errorf("%s bars of the chart have no height", got)
	}
	if got, _ := strconv.Atoi(p.eval(`String(document.querySelectorAll("#chart-legend li").length)`)); got == 0 || got > 64 {
		t.Errorf("%d emojis in the chart's legend, want 1 to 64", got)
	}
}
