package ingest_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// FuzzPost drives POST /v1/emojis through the server's handler with any body
// and content type: it never panics, answers 202 exactly when the wire
// decoder accepts the body (and a JSON content type was sent) and its
// video_ts are within the bounds of the server's clock, with the decoder's
// event count, and otherwise a JSON error from the code table.
func FuzzPost(f *testing.F) {
	for _, seed := range []string{
		`{"user_id":"u-42","match_id":"final-2026","emoji_type":"🔥"}`,
		`[{"user_id":"a","match_id":"m","emoji_type":"👏","timestamp":"2026-11-23T05:00:00.123Z","event_id":"e1"}]`,
		`{"user_id":"u","match_id":"m","emoji_type":"❤"}`,
		`{"user_id":"u","match_id":"m b","emoji_type":"🔥"}`,
		`{"user_id":"","match_id":"m","emoji_type":"🔥"}`,
		`{"user_id":"u","match_id":"m","emoji_type":"🐍"}`,
		`[]`, `[1]`, `{`, `null`, ``, `{"user_id":"\ud800","match_id":"m","emoji_type":"🔥"}`,
	} {
		f.Add("application/json", []byte(seed))
	}
	// video_ts: within its bounds of the server's clock (made now, so
	// they are when the seeds run), and outside them.
	now := time.Now().UnixMilli()
	for _, v := range []string{fmt.Sprint(now - 20_000), fmt.Sprint(now + 60_000), fmt.Sprint(now - 120_000), "null"} {
		f.Add("application/json", []byte(`{"user_id":"u","match_id":"m","emoji_type":"🔥","video_ts":`+v+`}`))
	}
	f.Add("text/plain", []byte(`{"user_id":"u","match_id":"m","emoji_type":"🔥"}`))
	f.Add("application/json; charset=utf-8", []byte(`{"user_id":"u","match_id":"m","emoji_type":"🔥"}`))
	k := testenv.StartKafka(f, 1).Target()
	st := startIngest(f, k, ingest.Config{UserRate: -1, IPRate: -1})
	h := st.srv.Handler()
	dec := wire.NewDecoder(nil)
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.SetMethod(fasthttp.MethodPost)
		ctx.Request.SetRequestURI("/v1/emojis")
		ctx.Request.Header.SetContentType(contentType)
		ctx.Request.SetBody(body)
		h(&ctx)
		checkFuzzReply(t, &ctx, dec, contentType, body)
	})
}

func checkFuzzReply(t *testing.T, ctx *fasthttp.RequestCtx, dec *wire.Decoder, contentType string, body []byte) {
	status, reply := ctx.Response.StatusCode(), ctx.Response.Body()
	evs, derr := dec.Decode(nil, body)
	if status == fasthttp.StatusAccepted {
		var a accepted
		if err := json.Unmarshal(reply, &a); err != nil || derr != nil || a.Accepted != len(evs) || len(a.Windows) != 1 {
			t.Fatalf("202 %s for %q (decoder: %d events, %v)", reply, body, len(evs), derr)
		}
		return
	}
	var e apiError
	if err := json.Unmarshal(reply, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("status %d with body %q", status, reply)
	}
	if !slices.Contains([]int{400, 415, 503}, status) {
		t.Fatalf("status %d (%s) for %q", status, reply, body)
	}
	if status == 400 && derr == nil && (e.Error.Code != wire.CodeBadVideoTS || wire.CheckVideoTS(evs, time.Now().UnixMilli()) == nil) {
		t.Fatalf("400 %s for a body the decoder accepts, whose video_ts are within bounds: %q", reply, body)
	}
}
