package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/emostream/emostream/wire"
)

func init() {
	register(&command{
		name:    "send",
		summary: "send emoji reactions from the terminal and print the reply",
		run:     runSend,
	})
}

const sendSynopsis = `Sends --count reactions of --user to --match with --emoji to an ingest
server, one POST each, or with --batch as arrays of up to 1,000, and prints
each reply: how many were accepted and the windows they fell into, or the
error.`

type sendEvent struct {
	UserID    string `json:"user_id"`
	MatchID   string `json:"match_id"`
	EmojiType string `json:"emoji_type"`
	Timestamp int64  `json:"timestamp"`
}

func runSend(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "send", sendSynopsis)
	target := fs.String("target", "http://127.0.0.1:8080", "ingest base URL")
	match := fs.String("match", "final-2026", "match_id")
	emoji := fs.String("emoji", "🔥", "emoji_type")
	user := fs.String("user", "cli-user", "user_id")
	count := fs.Int("count", 1, "number of reactions")
	asBatch := fs.Bool("batch", false, "send arrays of up to 1,000 events instead of one POST per event")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	if *count < 1 {
		return fmt.Errorf("send: --count must be at least 1")
	}
	per := 1
	if *asBatch {
		per = wire.MaxBatch
	}
	url := strings.TrimSuffix(*target, "/") + "/v1/emojis"
	ev := sendEvent{UserID: *user, MatchID: *match, EmojiType: *emoji}
	var failed int
	for left := *count; left > 0; left -= per {
		n := min(left, per)
		ev.Timestamp = time.Now().UnixMilli()
		status, err := sendOnce(ctx, env.stdout, url, ev, n, *asBatch)
		if err != nil {
			return err
		}
		if status != http.StatusAccepted {
			failed++
		}
		if status >= 400 && status < 500 && status != http.StatusTooManyRequests {
			break // the same request would fail the same way
		}
	}
	if failed > 0 {
		return fmt.Errorf("send: %d request(s) refused", failed)
	}
	return nil
}

// sendOnce posts n copies of ev (an array if batch), prints the reply and
// returns its status.
func sendOnce(ctx context.Context, out io.Writer, url string, ev sendEvent, n int, batch bool) (int, error) {
	var body any = ev
	if batch {
		evs := make([]sendEvent, n)
		for i := range evs {
			evs[i] = ev
		}
		body = evs
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("send: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("send: %w", err)
	}
	defer res.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	printReply(out, res, reply)
	return res.StatusCode, nil
}

// printReply prints a 202's count and windows, or the error.
func printReply(out io.Writer, res *http.Response, body []byte) {
	var ok struct {
		Accepted int     `json:"accepted"`
		Windows  []int64 `json:"windows"`
	}
	var bad struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	switch {
	case res.StatusCode == http.StatusAccepted && json.Unmarshal(body, &ok) == nil:
		ws := make([]string, len(ok.Windows))
		for i, w := range ok.Windows {
			ws[i] = time.UnixMilli(w).UTC().Format("15:04:05.000")
		}
		fmt.Fprintf(out, "202 accepted %d, window %s\n", ok.Accepted, strings.Join(ws, ","))
	case json.Unmarshal(body, &bad) == nil && bad.Error.Code != "":
		fmt.Fprintf(out, "%d %s: %s", res.StatusCode, bad.Error.Code, bad.Error.Message)
		if ra := res.Header.Get("Retry-After"); ra != "" {
			fmt.Fprintf(out, " (retry after %s s)", ra)
		}
		fmt.Fprintln(out)
	default:
		fmt.Fprintf(out, "%s: %s\n", res.Status, bytes.TrimSpace(body))
	}
}
