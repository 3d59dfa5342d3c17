package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/wire"
)

// lastSeqHeader, on a live message the stream republished, is the sequence
// of the previous swarm stored on the same subject: the match's previous
// swarm, so a viewer knows whether it missed any.
const lastSeqHeader = "Nats-Last-Sequence"

// storedSwarm is a swarm message as a viewer checks it.
type storedSwarm struct {
	body       []byte
	seq        uint64 // Nats-Sequence; 0 if absent
	prev       uint64 // Nats-Last-Sequence: the match's previous stored swarm (RePublish); 0 if absent
	hasPrev    bool
	match      string
	start, end time.Time
	valid      bool // a swarm with a window; the fields above are set
}

// parseSwarm reads what a viewer checks of a swarm message; valid is false
// for a body that is not a swarm with a window.
func parseSwarm(msg *nats.Msg) storedSwarm {
	s := storedSwarm{body: msg.Data}
	if msg.Header != nil {
		s.seq, _ = strconv.ParseUint(msg.Header.Get(wire.SeqHeader), 10, 64)
		p, err := strconv.ParseUint(msg.Header.Get(lastSeqHeader), 10, 64)
		s.prev, s.hasPrev = p, err == nil
	}
	var v struct {
		MatchID     string    `json:"match_id"`
		WindowStart time.Time `json:"window_start"`
		WindowEnd   time.Time `json:"window_end"`
	}
	if json.Unmarshal(msg.Data, &v) != nil || !v.WindowEnd.After(v.WindowStart) {
		return s
	}
	s.match, s.start, s.end, s.valid = v.MatchID, v.WindowStart, v.WindowEnd, true
	return s
}

// catchUp shows the stored swarms after the last shown one, in order, up to
// but not including stream sequence until (0: up to the newest). Nothing
// shown yet, it shows the latest stored swarm instead (late join), unless
// the join found nothing stored: then every stored swarm came after the
// join, and it shows them all from the first.
//
// Its first request asks for the last shown sequence itself: the stream
// drops a match's swarms oldest first, so while the last shown one is stored,
// every later one is too; when it is gone, the windows up to the first stored
// one are reported as a gap.
func (w *Watcher) catchUp(ctx context.Context, until uint64) error {
	if w.lastSeq == 0 && !w.empty {
		if until != 0 {
			return nil
		}
		return w.latest(ctx)
	}
	from := max(w.lastSeq, 1)
	for i := range w.cfg.MaxRecovery {
		s, found, err := w.next(ctx, from)
		switch {
		case err != nil:
			return err // the next recovery starts again from the last shown
		case w.lastSeq == 0: // joined empty: nothing before the first stored is missing
		case i == 0 && found && s.seq == w.lastSeq:
			w.lost = "" // every later swarm is stored
		case i == 0:
			w.lost = "no longer stored"
		}
		if !found || (until != 0 && s.seq >= until) {
			return nil
		}
		if s.seq != w.lastSeq {
			w.show(s, SourceRecovered)
		}
		from = s.seq + 1
	}
	w.lost = fmt.Sprintf("recovery bound reached (%d requests)", w.cfg.MaxRecovery)
	return w.fallback(ctx, until)
}

// fallback ends a recovery that reached its bound: a live swarm waiting to
// be shown comes next, otherwise the latest stored one.
func (w *Watcher) fallback(ctx context.Context, until uint64) error {
	if until != 0 {
		return nil
	}
	return w.latest(ctx)
}

// latest shows the match's last stored swarm and notes the join answered.
// Nothing shown yet and a 404 (the stream holds none of the match), it
// notes the join found it empty.
func (w *Watcher) latest(ctx context.Context) error {
	w.stats.Requests.Add(1)
	msg, err := storedGet(ctx, w.nc, wire.LatestSwarmRequest(w.cfg.Match), nil, w.timeout)
	switch {
	case errors.Is(err, errNoStream):
		return nil // no stream reachable: live swarms until the join reads again
	case err != nil:
		return err
	}
	w.joined = true
	if msg == nil {
		w.empty = w.lastSeq == 0
		return nil
	}
	w.show(parseSwarm(msg), SourceLatest)
	return nil
}

// next reads the match's first stored swarm at sequence seq or later.
func (w *Watcher) next(ctx context.Context, seq uint64) (storedSwarm, bool, error) {
	w.stats.Requests.Add(1)
	s, found, err := nextSwarm(ctx, w.nc, w.cfg.Match, seq, w.timeout)
	if err == nil && found && s.seq < seq {
		err = fmt.Errorf("answer for sequence %d has sequence %d", seq, s.seq)
	}
	return s, found, err
}

// nextSwarm reads match's first stored swarm at stream sequence seq or later
// (the viewer protocol's "next"); found is false when there is none (404).
// No answer is an error: errNoStream, or a timeout (see noAnswer).
func nextSwarm(ctx context.Context, nc *nats.Conn, match string, seq uint64, timeout time.Duration) (s storedSwarm, found bool, err error) {
	msg, err := storedGet(ctx, nc, wire.SwarmsGet, wire.SwarmsAfter(match, seq), timeout)
	if err != nil || msg == nil {
		return s, false, err
	}
	if s = parseSwarm(msg); s.seq == 0 {
		return s, false, fmt.Errorf("reading the swarm of %s after %d: no %s header", match, seq, wire.SeqHeader)
	}
	return s, true, nil
}

// LatestSwarm returns the body of the last stored swarm of match (a JetStream
// direct get, the viewer's late join), or nil if there is none.
func LatestSwarm(ctx context.Context, nc *nats.Conn, match string) ([]byte, error) {
	msg, err := storedGet(ctx, nc, wire.LatestSwarmRequest(match), nil, getTimeout)
	if errors.Is(err, errNoStream) {
		err = nil
	}
	if err != nil || msg == nil {
		return nil, err
	}
	return msg.Data, nil
}

// errNoStream: a direct get had no responders (no stream yet, or none
// reachable, e.g. on a leaf cut off from the hub).
var errNoStream = errors.New("no responders for the swarm stream")

// noAnswer reports whether err is a stored read that got no answer (no
// responders, or a timeout): the stream may still hold what was asked for.
func noAnswer(err error) bool {
	return errors.Is(err, errNoStream) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
}

// storedGet sends a direct get and returns its answer, nil for a 404, or
// errNoStream, waiting at most timeout.
func storedGet(ctx context.Context, nc *nats.Conn, subject string, body []byte, timeout time.Duration) (*nats.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, subject, body)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, errNoStream
	case err != nil:
		return nil, fmt.Errorf("reading a stored swarm (%s): %w", subject, err)
	}
	switch status := msg.Header.Get("Status"); status {
	case "":
		return msg, nil
	case "404":
		return nil, nil
	default:
		return nil, fmt.Errorf("reading a stored swarm (%s): status %s %s", subject, status, msg.Header.Get("Description"))
	}
}
