package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
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

const sendSynopsis = `Sends --count reactions with --emoji to --match through an ingest server, in
arrays of --batch events, spread over --users simulated users (so a large
--count stays under the per-user rate limit), and prints each reply: how many
were accepted and the windows they fell into, or the error. A 429 is retried
after its Retry-After, up to three times.`

type sendEvent struct {
	UserID    string `json:"user_id"`
	MatchID   string `json:"match_id"`
	EmojiType string `json:"emoji_type"`
	Timestamp int64  `json:"timestamp"`
}

// sendUserShare is how many events send gives one simulated user by default:
// under ingest's default per-user burst.
const sendUserShare = 50

func runSend(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "send", sendSynopsis)
	target := fs.String("target", "http://127.0.0.1:8080", "ingest base URL")
	match := fs.String("match", "final-2026", "match_id")
	emoji := fs.String("emoji", "🔥", "emoji_type")
	user := fs.String("user", "cli-user", "user_id, or the prefix of the simulated users' ids")
	users := fs.Int("users", 0, fmt.Sprintf("simulated users; 0 means one per %d events", sendUserShare))
	count := fs.Int("count", 1, "number of reactions")
	batch := fs.Int("batch", wire.MaxBatch, "events per POST, 1 to 1000")
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	switch {
	case *count < 1:
		return fmt.Errorf("send: --count must be at least 1")
	case *batch < 1 || *batch > wire.MaxBatch:
		return fmt.Errorf("send: --batch must be 1 to %d", wire.MaxBatch)
	case *users < 0:
		return fmt.Errorf("send: --users must not be negative")
	}
	if *users == 0 {
		*users = (*count + sendUserShare - 1) / sendUserShare
	}
	url := strings.TrimSuffix(*target, "/") + "/v1/emojis"
	var failed int
	for sent := 0; sent < *count; sent += *batch {
		evs := make([]sendEvent, min(*batch, *count-sent))
		for i := range evs {
			evs[i] = sendEvent{UserID: userID(*user, *users, sent+i), MatchID: *match, EmojiType: *emoji,
				Timestamp: time.Now().UnixMilli()}
		}
		status, err := sendRetrying(ctx, env.stdout, url, evs)
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

// userID is the id of the simulated user who sends event i.
func userID(prefix string, users, i int) string {
	if users == 1 {
		return prefix
	}
	return fmt.Sprintf("%s-%d", prefix, i%users)
}

// sendRetrying posts evs, retrying a 429 after its Retry-After (at most 5 s)
// up to three times, and returns the last status.
func sendRetrying(ctx context.Context, out io.Writer, url string, evs []sendEvent) (int, error) {
	for attempt := 0; ; attempt++ {
		status, retryAfter, err := sendOnce(ctx, out, url, evs)
		if err != nil || status != http.StatusTooManyRequests || attempt == 3 {
			return status, err
		}
		select {
		case <-ctx.Done():
			return status, ctx.Err()
		case <-time.After(min(retryAfter, 5*time.Second)):
		}
	}
}

// sendOnce posts evs (one object if there is one), prints the reply and
// returns its status and Retry-After.
func sendOnce(ctx context.Context, out io.Writer, url string, evs []sendEvent) (int, time.Duration, error) {
	var body any = evs
	if len(evs) == 1 {
		body = evs[0]
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, 0, fmt.Errorf("send: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("send: %w", err)
	}
	defer res.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	printReply(out, res, reply)
	secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	return res.StatusCode, time.Duration(max(secs, 1)) * time.Second, nil
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
