package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/emostream/emostream/web"
	"github.com/emostream/emostream/wire"
)

// DefaultUserShare is how many events Send gives one simulated user when
// Reactions.Users is zero: under ingest's default per-user burst.
const DefaultUserShare = 50

// DefaultUserPrefix starts the random user id of Reactions without a User.
const DefaultUserPrefix = "cli"

// ErrReactions wraps every problem Send finds in a Reactions.
var ErrReactions = errors.New("client: invalid reactions")

// Reactions is a run of reactions for Send: Count events of Emoji for
// Match, spread over Users simulated users.
type Reactions struct {
	Match, Emoji string
	// Count is how many events to send, at least 1.
	Count int
	// User is the user_id of the events, or with more than one user the
	// prefix of the simulated users' ids (User-0, User-1, …). Empty means
	// DefaultUserPrefix and a random suffix, one per Send ("cli-3f9a1c0b"):
	// concurrent Sends then never share a user, nor its rate limit.
	User string
	// Users is how many simulated users the events go to. Zero means one
	// per DefaultUserShare events.
	Users int
	// Batch is the most events per request, 1 to wire.MaxBatch. Zero means
	// wire.MaxBatch. Send makes arrays smaller where the server's bursts
	// ask for it.
	Batch int
	// Token is a bearer token sent with every request. The server takes
	// the user from its subject, so the events carry no user_id.
	Token string
	// Sign, if set (and Token is not), returns a bearer token for user:
	// each request then holds one user's events, the users taking turns.
	// With neither, no token is sent and the events go round-robin to the
	// users.
	Sign func(user string) (string, error)
	// OnReply, if set, is told every reply, retries included.
	OnReply func(Reply)
	// OnSplit, if set, is told the new array size when a burst_exceeded
	// refusal makes Send split its arrays.
	OnSplit func(size int)
}

// check refuses what Send cannot send and fills the defaults.
func (r *Reactions) check() error {
	switch {
	case r.Count < 1:
		return fmt.Errorf("%w: Count %d: want at least 1", ErrReactions, r.Count)
	case r.Batch < 0 || r.Batch > wire.MaxBatch:
		return fmt.Errorf("%w: Batch %d: want 1 to %d", ErrReactions, r.Batch, wire.MaxBatch)
	case r.Users < 0:
		return fmt.Errorf("%w: Users %d: want 0 or more", ErrReactions, r.Users)
	}
	if r.Batch == 0 {
		r.Batch = wire.MaxBatch
	}
	if r.User == "" {
		r.User = DefaultUserPrefix + "-" + randomHex(4)
	}
	if r.Users == 0 {
		r.Users = (r.Count + DefaultUserShare - 1) / DefaultUserShare
	}
	return nil
}

// Send posts r's events and returns how many requests the server refused
// (answered other than 202 after any retries). It stops early when a
// refusal other than 429 shows the next request would be refused the same
// way, and returns an error only when a request could not be sent.
func (c *Client) Send(ctx context.Context, r Reactions) (refused int, err error) {
	if err := r.check(); err != nil {
		return 0, err
	}
	size := c.arraySize(ctx, r)
	run := randomRunID()
	for n, sent := 0, 0; sent < r.Count; n++ {
		evs, tok, err := r.array(run, n, sent, min(size, r.Count-sent))
		if err != nil {
			return refused, err
		}
		res, err := c.PostRetrying(ctx, tok, evs, r.OnReply)
		if err != nil {
			return refused, err
		}
		if res.Code == wire.CodeBurstExceeded && res.Index > 0 && res.Index < len(evs) {
			size = res.Index // the events before index fit: send those
			if r.OnSplit != nil {
				r.OnSplit(size)
			}
			continue
		}
		sent += len(evs)
		if res.Status != http.StatusAccepted {
			refused++
		}
		if res.Status >= 400 && res.Status < 500 && res.Status != http.StatusTooManyRequests {
			break // the same request would fail the same way
		}
	}
	return refused, nil
}

// arraySize is the most events of r one request may hold by the server's
// limits: with tokens, each request carries one user's events.
func (c *Client) arraySize(ctx context.Context, r Reactions) int {
	limits := c.Limits(ctx)
	if r.Token != "" || r.Sign != nil {
		return min(FitBatch(r.Batch, 1, limits), (r.Count+r.Users-1)/r.Users)
	}
	return FitBatch(r.Batch, r.Users, limits)
}

// array is the n-th request's events, size of them from event sent on,
// and its bearer token. Without a token the events go round-robin to the
// simulated users; with Sign the whole array is one user's, whose token is
// signed for it; with Token the events carry no user_id.
func (r *Reactions) array(run string, n, sent, size int) ([]Event, string, error) {
	evs := make([]Event, size)
	now := time.Now().UnixMilli()
	tok := r.Token
	user := userID(r.User, r.Users, n)
	if r.Token == "" && r.Sign != nil {
		var err error
		if tok, err = r.Sign(user); err != nil {
			return nil, "", fmt.Errorf("client: signing a token for %s: %w", user, err)
		}
	}
	for i := range evs {
		evs[i] = Event{MatchID: r.Match, EmojiType: r.Emoji, Timestamp: now, EventID: run + "-" + strconv.Itoa(sent+i)}
		switch {
		case r.Token != "":
		case r.Sign != nil:
			evs[i].UserID = user
		default:
			evs[i].UserID = userID(r.User, r.Users, sent+i)
		}
	}
	return evs, tok, nil
}

// userID is the id of the simulated user who sends event i.
func userID(prefix string, users, i int) string {
	if users == 1 {
		return prefix
	}
	return fmt.Sprintf("%s-%d", prefix, i%users)
}

// randomRunID names one Send in its events' ids.
func randomRunID() string { return "send-" + randomHex(6) }

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// FitBatch is the largest array, at most want events, that the server's
// limits l let through when its events go round-robin to users: each user
// then holds at most ⌈size/users⌉ of them. Nil limits change nothing.
func FitBatch(want, users int, l *web.Limits) int {
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
