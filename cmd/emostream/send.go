package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/emostream/emostream/web"
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
were accepted and the windows they fell into, or the error. Arrays are made
small enough for the server's bursts (GET /v1/config, or split where a
burst_exceeded error points), and a 429 or 503 is retried after its
Retry-After (at most 30 s), up to three times (each event carries an
event_id, so a retried 503 counts once), so a count above one user's burst is spread
over time.`

type sendEvent struct {
	UserID    string `json:"user_id,omitempty"` // absent with --token: the token's subject`
	MatchID   string `json:"match_id"`
	EmojiType string `json:"emoji_type"`
	Timestamp int64  `json:"timestamp"`
	// EventID makes a retry after a 503 count once: the request may have
	// been stored although Kafka's answer timed out.
	EventID string `json:"event_id"`
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
	users := fs.Int("users", 0, fmt.Sprintf("simulated users; 0 means one per %d events, or just --user if it is given", sendUserShare))
	count := fs.Int("count", 1, "number of reactions")
	batch := fs.Int("batch", wire.MaxBatch, "events per POST, 1 to 1000")
	af := addClientAuthFlags(fs)
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	tokens, err := af.source(env)
	if err != nil {
		return fmt.Errorf("send: %w", err)
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
		if flagGiven(fs, "user") {
			*users = 1
		}
	}
	base := strings.TrimSuffix(*target, "/")
	size := fitBatch(*batch, *users, serverLimits(ctx, base))
	if tokens != nil { // a request carries one user's token: one user per array, the users taking turns
		size = min(fitBatch(*batch, 1, serverLimits(ctx, base)), (*count+*users-1) / *users)
	}
	var failed int
	run := randomRunID()
	for n, sent := 0, 0; sent < *count; n++ {
		evs := make([]sendEvent, min(size, *count-sent))
		tok, err := batchUser(evs, tokens, *user, *users, sent, n)
		if err != nil {
			return err
		}
		for i := range evs {
			evs[i].MatchID, evs[i].EmojiType, evs[i].Timestamp = *match, *emoji, time.Now().UnixMilli()
			evs[i].EventID = run + "-" + strconv.Itoa(sent+i)
		}
		res, err := sendRetrying(ctx, env.stdout, base+"/v1/emojis", tok, evs)
		if err != nil {
			return err
		}
		if res.code == wire.CodeBurstExceeded && res.index > 0 && res.index < len(evs) {
			size = res.index // the events before index fit: send those
			fmt.Fprintf(env.stdout, "splitting into arrays of %d events\n", size)
			continue
		}
		sent += len(evs)
		if res.status != http.StatusAccepted {
			failed++
		}
		if res.status >= 400 && res.status < 500 && res.status != http.StatusTooManyRequests {
			break // the same request would fail the same way
		}
	}
	if failed > 0 {
		return fmt.Errorf("send: %d request(s) refused", failed)
	}
	return nil
}

// batchUser sets the users of array n, whose first event is event sent, and
// returns its bearer token. Without tokens the events go round-robin to the
// simulated users; with a signing key the whole array is one user's, whose
// token is signed for it; with --token the events carry no user_id (the
// server takes the token's subject).
func batchUser(evs []sendEvent, tokens *tokenSource, prefix string, users, sent, n int) (string, error) {
	if tokens == nil {
		for i := range evs {
			evs[i].UserID = userID(prefix, users, sent+i)
		}
		return "", nil
	}
	user := ""
	if tokens.fixed == "" {
		user = userID(prefix, users, n)
	}
	for i := range evs {
		evs[i].UserID = user
	}
	tok, err := tokens.tokenFor(user)
	if err != nil {
		return "", fmt.Errorf("send: signing a token: %w", err)
	}
	return tok, nil
}

// userID is the id of the simulated user who sends event i.
func userID(prefix string, users, i int) string {
	if users == 1 {
		return prefix
	}
	return fmt.Sprintf("%s-%d", prefix, i%users)
}

// flagGiven reports whether the flag was set, on the command line or from
// its environment variable.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// serverLimits reads the server's request limits from GET /v1/config; nil
// if it does not say (send then splits where a burst_exceeded points).
func serverLimits(ctx context.Context, base string) *web.Limits {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/config", nil)
	if err != nil {
		return nil
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer res.Body.Close()
	var cfg web.ClientConfig
	if res.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&cfg) != nil {
		return nil
	}
	return cfg.Limits
}

// fitBatch is the largest array, at most want events, that the server's
// bursts let through when its events go round-robin to users: each user
// then holds at most ⌈size/users⌉ of them.
func fitBatch(want, users int, l *web.Limits) int {
	if l == nil {
		return want
	}
	if l.MaxEvents > 0 {
		want = min(want, l.MaxEvents)
	}
	if l.IPBurst > 0 {
		want = min(want, l.IPBurst)
	}
	if l.UserBurst > 0 && users < want {
		want = min(want, l.UserBurst*users)
	}
	return max(want, 1)
}

// sendResult is one reply: its status, Retry-After, and error code and
// index (-1 when none).
type sendResult struct {
	status     int
	retryAfter time.Duration
	code       string
	index      int
}

// sendRetrying posts evs, retrying a 429 or a 503 after its Retry-After
// (at most 30 s) up to three times, and returns the last reply. The
// events' ids make a retried 503 count once.
func sendRetrying(ctx context.Context, out io.Writer, url, tok string, evs []sendEvent) (sendResult, error) {
	for attempt := 0; ; attempt++ {
		res, err := sendOnce(ctx, out, url, tok, evs)
		retry := res.status == http.StatusTooManyRequests || res.status == http.StatusServiceUnavailable
		if err != nil || !retry || attempt == 3 {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(min(res.retryAfter, 30*time.Second)):
		}
	}
}

// randomRunID names this run of send in its events' ids.
func randomRunID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "send-" + hex.EncodeToString(b[:])
}

// sendOnce posts evs (one object if there is one), prints the reply and
// returns it.
func sendOnce(ctx context.Context, out io.Writer, url, tok string, evs []sendEvent) (sendResult, error) {
	var body any = evs
	if len(evs) == 1 {
		body = evs[0]
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return sendResult{}, fmt.Errorf("send: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return sendResult{}, fmt.Errorf("send: %w", err)
	}
	defer res.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	printReply(out, res, reply)
	secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	r := sendResult{status: res.StatusCode, retryAfter: time.Duration(max(secs, 1)) * time.Second, index: -1}
	var bad struct {
		Error struct {
			Code  string
			Index *int
		} `json:"error"`
	}
	if json.Unmarshal(reply, &bad) == nil {
		r.code = bad.Error.Code
		if bad.Error.Index != nil {
			r.index = *bad.Error.Index
		}
	}
	return r, nil
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
