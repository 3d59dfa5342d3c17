package bench

import (
	"bytes"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/emostream/emostream/loadgen"
)

// recordingDoer sends loadgen's requests and records each 202 in Requests:
// the matches of its events (read from the request body) and the window the
// reply names. Only the client sees both bodies together, which is why this
// is a Doer and not loadgen's OnResult hook.
type recordingDoer struct {
	next loadgen.Doer
	reqs *Requests
}

var _ loadgen.Doer = (*recordingDoer)(nil)

func (d *recordingDoer) DoTimeout(req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	err := d.next.DoTimeout(req, resp, timeout)
	if err != nil || resp.StatusCode() != fasthttp.StatusAccepted {
		return err
	}
	at := time.Now()
	windows := replyWindows(resp.Body())
	if len(windows) == 0 {
		return nil
	}
	// All events of a request share its receive time and so one window; if
	// a reply ever names several, the last (the later swarm) is charged.
	w := windows[len(windows)-1]
	for match, n := range matchCounts(req.Body()) {
		d.reqs.Add(match, w, at, n)
	}
	return nil
}

var (
	windowsKey = []byte(`"windows":[`)
	matchKey   = []byte(`"match_id":"`)
)

// replyWindows reads the window starts of a 202 reply
// {"accepted":N,"windows":[w,...]}.
func replyWindows(body []byte) []int64 {
	i := bytes.Index(body, windowsKey)
	if i < 0 {
		return nil
	}
	rest := body[i+len(windowsKey):]
	end := bytes.IndexByte(rest, ']')
	if end < 0 {
		return nil
	}
	var ws []int64
	for _, f := range bytes.Split(rest[:end], []byte{','}) {
		if w, err := strconv.ParseInt(string(bytes.TrimSpace(f)), 10, 64); err == nil {
			ws = append(ws, w)
		}
	}
	return ws
}

// matchCounts counts the events of a request body per match_id. Match ids
// are [A-Za-z0-9_-], so they never hold an escaped quote.
func matchCounts(body []byte) map[string]int64 {
	counts := map[string]int64{}
	for {
		i := bytes.Index(body, matchKey)
		if i < 0 {
			return counts
		}
		body = body[i+len(matchKey):]
		end := bytes.IndexByte(body, '"')
		if end < 0 {
			return counts
		}
		counts[string(body[:end])]++
		body = body[end:]
	}
}
