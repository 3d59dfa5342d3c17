package web_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/emostream/emostream/web"
	"github.com/emostream/emostream/web/webtest"
)

// TestSwarmViewClear checks static/swarm.js in Chromium: clear() (a match
// switch) ends its sprites' animations, so that when they would have
// finished they take nothing off the count of live sprites, and the stage
// never holds more than its 500 sprites.
func TestSwarmViewClear(t *testing.T) {
	ctx := webtest.NewBrowser(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stage.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>stage</title><link rel="icon" href="data:,"><div id="stage" style="position:relative;height:400px"></div>`))
	})
	mux.Handle("GET /", http.FileServerFS(web.Static()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/stage.html")); err != nil {
		t.Fatal(err)
	}
	// 60 emojis of 10 samples each: 600 sprites a window, more than the stage takes.
	const js = `(async () => {
  const { SwarmView } = await import("/swarm.js");
  const stage = document.getElementById("stage");
  const view = new SwarmView(stage);
  const counts = {};
  for (let i = 0; i < 60; i++) counts["e" + i] = 10;
  const sprites = () => stage.querySelectorAll(".sprite").length;
  view.play({ counts }, 2000);
  const first = sprites();
  const anims = stage.getAnimations({ subtree: true });
  view.clear();
  const afterClear = sprites();
  // the cleared sprites' animations reach their end (as they would a few
  // seconds later): each one's own finish handler runs before ours
  const ended = Promise.all(anims.map((a) => new Promise((r) => a.addEventListener("finish", r, { once: true }))));
  for (const a of anims) a.finish();
  await ended;
  const alive = view.alive;
  view.play({ counts }, 2000);
  return JSON.stringify({ first, anims: anims.length, afterClear, alive, second: sprites() });
})()`
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"first":500,"anims":500,"afterClear":0,"alive":0,"second":500}`
	if got != want {
		t.Errorf("sprites: got %s, want %s", got, want)
	}
}
