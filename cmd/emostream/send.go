package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emostream/emostream/client"
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
over time. Without --user every run is a user (or users) of its own,
cli-<random>: concurrent sends never share one.`

// Defaults of emostream send.
const (
	defaultSendEmoji = "🔥"
	defaultSendCount = 1
)

// sendFlags are the flags of "emostream send".
type sendFlags struct {
	target, match, emoji, user string
	users, count, batch        int
	auth                       *clientAuthFlags
}

func addSendFlags(fs *flag.FlagSet) *sendFlags {
	f := &sendFlags{}
	fs.StringVar(&f.target, "target", defaultIngestURL, "ingest base URL")
	fs.StringVar(&f.match, "match", defaultDemoMatch, "match_id")
	fs.StringVar(&f.emoji, "emoji", defaultSendEmoji, "emoji_type")
	fs.StringVar(&f.user, "user", "", "user_id, or the prefix of the simulated users' ids; empty: "+client.DefaultUserPrefix+"-<random>, new for every run, so concurrent sends never share a user (nor its rate limit)")
	fs.IntVar(&f.users, "users", 0, fmt.Sprintf("simulated users; 0 means one per %d events, or just --user if it is given", client.DefaultUserShare))
	fs.IntVar(&f.count, "count", defaultSendCount, "number of reactions")
	fs.IntVar(&f.batch, "batch", wire.MaxBatch, "events per POST, 1 to 1000")
	f.auth = addClientAuthFlags(fs)
	return f
}

// config checks the flags and returns the client and the reactions to
// send, whose replies are printed to out.
func (f *sendFlags) config(fs *flag.FlagSet, env *environment, out io.Writer) (*client.Client, client.Reactions, error) {
	switch {
	case f.count < 1:
		return nil, client.Reactions{}, fmt.Errorf("send: --count must be at least 1")
	case f.batch < 1 || f.batch > wire.MaxBatch:
		return nil, client.Reactions{}, fmt.Errorf("send: --batch must be 1 to %d", wire.MaxBatch)
	case f.users < 0:
		return nil, client.Reactions{}, fmt.Errorf("send: --users must not be negative")
	}
	r := client.Reactions{Match: f.match, Emoji: f.emoji, Count: f.count, User: f.user, Users: f.users, Batch: f.batch,
		OnReply: func(res client.Reply) { printReply(out, res) },
		OnSplit: func(size int) { fmt.Fprintf(out, "splitting into arrays of %d events\n", size) }}
	if r.Users == 0 && given(fs)["user"] {
		r.Users = 1
	}
	tokens, err := f.auth.source(env)
	if err != nil {
		return nil, r, fmt.Errorf("send: %w", err)
	}
	switch {
	case tokens == nil:
	case tokens.fixed != "":
		r.Token = tokens.fixed
	default:
		r.Sign = tokens.tokenFor
	}
	c, err := client.New(client.Config{Target: f.target})
	if err != nil {
		return nil, r, fmt.Errorf("send: %w", flagError(err, clientSettings))
	}
	return c, r, nil
}

func runSend(ctx context.Context, env *environment, args []string) error {
	fs := newFlags(env, "send", sendSynopsis)
	f := addSendFlags(fs)
	if err := parseFlags(fs, env, args); err != nil {
		return err
	}
	c, r, err := f.config(fs, env, env.stdout)
	if err != nil {
		return err
	}
	refused, err := c.Send(ctx, r)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	if refused > 0 {
		return fmt.Errorf("send: %d request(s) refused", refused)
	}
	return nil
}

// printReply prints a 202's count and windows, or the error.
func printReply(out io.Writer, r client.Reply) {
	switch {
	case r.Accepted != nil:
		ws := make([]string, len(r.Accepted.Windows))
		for i, w := range r.Accepted.Windows {
			ws[i] = time.UnixMilli(w).UTC().Format("15:04:05.000")
		}
		fmt.Fprintf(out, "202 accepted %d, window %s\n", r.Accepted.Accepted, strings.Join(ws, ","))
	case r.Code != "":
		fmt.Fprintf(out, "%d %s: %s", r.Status, r.Code, r.Message)
		if r.RetryAfter != "" {
			fmt.Fprintf(out, " (retry after %s s)", r.RetryAfter)
		}
		fmt.Fprintln(out)
	default:
		fmt.Fprintf(out, "%s: %s\n", r.StatusText, bytes.TrimSpace(r.Body))
	}
}
