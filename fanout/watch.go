package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/emostream/emostream/wire"
	"github.com/nats-io/nats.go"
)

// ErrBadMatch is returned by Watch for a match id that is not one subject
// token.
var ErrBadMatch = errors.New("fanout: bad match id")

// getTimeout bounds the late-join request.
const getTimeout = 5 * time.Second

// pollInterval is how often Watch checks for a reconnect while idle.
const pollInterval = time.Second

// Watch delivers the swarms of match to fn, in window order and without
// duplicates, until ctx ends (then it returns nil) or nc closes. It
// subscribes to the live subject first, then reads the latest stored swarm
// (late join), delivered with latest=true, then live ones. After nc
// reconnects (to the same leaf or another one) it reads the latest again, so
// a viewer ends on the newest window. Messages that are not swarms are
// skipped.
func Watch(ctx context.Context, nc *nats.Conn, match string, fn func(body []byte, latest bool)) error {
	if !wire.ValidMatchID(match) {
		return fmt.Errorf("%w: %q", ErrBadMatch, match)
	}
	sub, err := nc.SubscribeSync(wire.LiveSubject(match))
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", match, err)
	}
	defer sub.Unsubscribe()
	w := &watcher{nc: nc, match: match, fn: fn}
	if err := w.join(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return w.loop(ctx, sub)
}

type watcher struct {
	nc         *nats.Conn
	match      string
	fn         func([]byte, bool)
	last       time.Time
	reconnects uint64
}

// join reads the latest stored swarm and delivers it if it is newer than
// what was delivered so far.
func (w *watcher) join(ctx context.Context) error {
	w.reconnects = w.nc.Stats().Reconnects
	body, err := LatestSwarm(ctx, w.nc, w.match)
	if err != nil || body == nil {
		return err
	}
	w.deliver(body, true)
	return nil
}

func (w *watcher) loop(ctx context.Context, sub *nats.Subscription) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, pollInterval)
		msg, err := sub.NextMsgWithContext(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			w.deliver(msg.Data, false)
		case errors.Is(err, context.DeadlineExceeded):
		default:
			return fmt.Errorf("watching %s: %w", w.match, err)
		}
		if w.nc.Stats().Reconnects != w.reconnects {
			if err := w.join(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		}
	}
}

func (w *watcher) deliver(body []byte, latest bool) {
	var s struct {
		WindowStart time.Time `json:"window_start"`
	}
	if json.Unmarshal(body, &s) != nil || !s.WindowStart.After(w.last) {
		return
	}
	w.last = s.WindowStart
	w.fn(body, latest)
}

// LatestSwarm returns the body of the last stored swarm of match (a JetStream
// direct get, the one request a viewer may make), or nil if there is none.
func LatestSwarm(ctx context.Context, nc *nats.Conn, match string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, getTimeout)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, wire.LatestSwarmRequest(match), nil)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, nil // no stream yet: live swarms only
	case err != nil:
		return nil, fmt.Errorf("reading the latest swarm of %s: %w", match, err)
	}
	switch status := msg.Header.Get("Status"); status {
	case "":
		return msg.Data, nil
	case "404":
		return nil, nil
	default:
		return nil, fmt.Errorf("reading the latest swarm of %s: status %s %s", match, status, msg.Header.Get("Description"))
	}
}
