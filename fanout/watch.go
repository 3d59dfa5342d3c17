package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/recovery"
	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// ErrBadMatch is wrapped, beside ErrConfig, by the error of NewWatcher for
// a match id that is not one subject token.
var ErrBadMatch = errors.New("fanout: bad match id")

// getTimeout bounds one stored-swarm request.
const getTimeout = 5 * time.Second

// pollInterval is how often Watch checks for a reconnect while idle.
const pollInterval = time.Second

// DefaultMaxRecovery bounds the "next" requests of one gap recovery.
const DefaultMaxRecovery = 150

// DefaultMaxWaiting bounds the live swarms that wait for an unanswered
// recovery.
const DefaultMaxWaiting = 10

// Source says how a swarm reached a viewer.
type Source int

const (
	// SourceLive is a swarm received on the live subject.
	SourceLive Source = iota
	// SourceLatest is the match's last stored swarm, read on join (late
	// join) or when a recovery could not reach the newest window.
	SourceLatest
	// SourceRecovered is a stored swarm read to fill a gap.
	SourceRecovered
)

func (s Source) String() string {
	return [...]string{"live", "latest", "recovered"}[s]
}

// Gap is a stretch of windows a viewer could not recover: From is the end of
// the last window shown before it, To the start of the first one after it.
// Windows is how many windows fit in it, an upper bound: a window without
// reactions has no swarm.
type Gap struct {
	From, To time.Time
	Windows  int
	Reason   string
}

// WatchConfig configures a Watcher.
type WatchConfig struct {
	// Match is the match to watch. Required.
	Match string
	// OnSwarm receives each swarm shown, in window order, once. Required.
	OnSwarm func(body []byte, src Source)
	// OnGap receives each stretch of windows that could not be recovered
	// (no longer stored, or past the recovery bound), just before the
	// first swarm after it. Nil ignores gaps (they are counted).
	OnGap func(Gap)
	// MaxRecovery bounds the "next" requests of one recovery. Zero means
	// 150.
	MaxRecovery int
	// MaxWaiting bounds the live swarms that wait while a recovery gets no
	// answer; one more, and the windows the recovery was for are reported
	// as a gap and the waiting swarms shown. Zero means 10.
	MaxWaiting int
	// OnError receives a stored read that got no answer (no responders,
	// a timeout) or failed while the connection was down; Run goes on and
	// reads again from the last shown swarm every second and after a
	// reconnect. (Any other failed read ends Run with the error.) Nil
	// ignores them.
	OnError func(error)
}

// WatchStats counts what a Watcher did. Safe to read while it runs.
type WatchStats struct {
	// Shown counts swarms given to OnSwarm; Recovered those of them read
	// by gap recovery.
	Shown, Recovered atomic.Uint64
	// Unrecoverable counts windows in reported gaps (an upper bound), Gaps
	// the gaps.
	Unrecoverable, Gaps atomic.Uint64
	// Dropped counts messages not shown: another match's swarm, a window
	// not newer than the last shown, an undecodable body.
	Dropped atomic.Uint64
	// Repeats counts stored swarms received again after recovery had
	// shown them (not counted as Dropped).
	Repeats atomic.Uint64
	// Requests counts the stored-swarm reads (latest and next) made.
	Requests atomic.Uint64
}

// Watcher delivers the swarms of one match to a viewer, gap-free: the
// client side of the viewer protocol (docs/api.md, "Viewer protocol").
type Watcher struct {
	nc    *nats.Conn
	cfg   WatchConfig
	stats WatchStats

	lastStart, lastEnd time.Time
	lastSeq            uint64
	joined             bool          // the late join's read was answered (a swarm or 404)
	empty              bool          // the join found nothing stored: every stored swarm of the match came after it
	lost               string        // why the windows after the last shown may be missing; "" if none are
	due                bool          // a recovery got no answer: read again from the last shown at retryAt
	retryAt            time.Time     // when
	waiting            []storedSwarm // live swarms received while due, in order, at most cfg.MaxWaiting
	reconnects         uint64
	timeout            time.Duration // of one stored read
}

// NewWatcher validates cfg.
func NewWatcher(nc *nats.Conn, cfg WatchConfig) (*Watcher, error) {
	if err := setting.First(ErrConfig,
		setting.Check("Match", cfg.Match, wire.ValidMatchID(cfg.Match), "want "+wire.MatchIDRule).Wrapping(ErrBadMatch),
		setting.Check("OnSwarm", nil, cfg.OnSwarm != nil, "want a func that shows a swarm")); err != nil {
		return nil, err
	}
	if cfg.MaxRecovery <= 0 {
		cfg.MaxRecovery = DefaultMaxRecovery
	}
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = DefaultMaxWaiting
	}
	return &Watcher{nc: nc, cfg: cfg, timeout: getTimeout}, nil
}

// Stats returns the watcher's counters.
func (w *Watcher) Stats() *WatchStats { return &w.stats }

// Watch delivers the swarms of match to fn, in window order and without
// duplicates, until ctx ends (then it returns nil) or nc closes; latest is
// false for live swarms and true for stored ones (late join, recovery). See
// Watcher.Run.
func Watch(ctx context.Context, nc *nats.Conn, match string, fn func(body []byte, latest bool)) error {
	w, err := NewWatcher(nc, WatchConfig{Match: match,
		OnSwarm: func(b []byte, src Source) { fn(b, src != SourceLive) }})
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// Run watches until ctx ends (then it returns nil) or the connection closes.
// It subscribes to the live subject, shows the latest stored swarm (late
// join; while that read gets no answer, it tries again every second until
// it has one or a swarm was shown), then live ones. After a reconnect, or when a live swarm starts after
// the last shown window ended, it first reads the stored swarms after the
// last shown one ("next", bounded by MaxRecovery) and shows them in order.
// Live swarms that nats.go dropped because the viewer fell behind (a slow
// consumer) are read back the same way.
// A recovery that gets no answer declares nothing lost: the live swarms
// wait (at most MaxWaiting) and it reads again every second.
// A swarm is shown only if its match_id is the watched match and its window
// starts after the last shown one's; other messages are dropped and counted.
func (w *Watcher) Run(ctx context.Context) error {
	sub, err := w.nc.SubscribeSync(wire.LiveSubject(w.cfg.Match))
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", w.cfg.Match, err)
	}
	defer sub.Unsubscribe()
	w.reconnects = w.nc.Stats().Reconnects
	w.join(ctx)
	for {
		wctx, cancel := context.WithTimeout(ctx, pollInterval)
		msg, err := sub.NextMsgWithContext(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			w.handle(ctx, msg, &err)
		case errors.Is(err, context.DeadlineExceeded):
			err = nil
		case errors.Is(err, nats.ErrSlowConsumer): // nats.go dropped live swarms: read them back
			err = nil
			w.due, w.retryAt = true, time.Time{}
		default:
			return fmt.Errorf("watching %s: %w", w.cfg.Match, err)
		}
		if n := w.nc.Stats().Reconnects; n != w.reconnects {
			w.reconnects = n
			w.due, w.retryAt = true, time.Time{}
		}
		if err == nil && w.due && !time.Now().Before(w.retryAt) {
			err = w.retry(ctx)
		}
		if err == nil {
			w.join(ctx)
		}
		if err != nil && ctx.Err() == nil {
			if w.nc.IsConnected() && !noAnswer(err) {
				return err
			}
			w.due, w.retryAt = true, time.Now().Add(pollInterval)
			if w.cfg.OnError != nil {
				w.cfg.OnError(err)
			}
		}
	}
}

// join reads the latest stored swarm (late join) while nothing was shown
// and no read answered: the stream may be out of reach for a while (no
// responders or no answer on a leaf cut off the hub), and the windows
// stored meanwhile are after the join. A failed read goes to OnError.
func (w *Watcher) join(ctx context.Context) {
	if w.joined || w.lastSeq != 0 {
		return
	}
	if err := w.latest(ctx); err != nil && ctx.Err() == nil && w.cfg.OnError != nil {
		w.cfg.OnError(err)
	}
}

// panicWatch is the component of emostream_panics_total for a Watcher's
// handling of one live message.
const panicWatch = "fanout_watch"

// handle runs live on msg, setting *err; a panic drops only that message
// (logged with slog's default logger, counted, and in Stats().Dropped).
func (w *Watcher) handle(ctx context.Context, msg *nats.Msg, err *error) {
	if !recovery.Do(nil, panicWatch, func() { *err = w.live(ctx, msg) }) {
		w.stats.Dropped.Add(1)
	}
}

// live handles one message of the live subject.
func (w *Watcher) live(ctx context.Context, msg *nats.Msg) error {
	s := parseSwarm(msg)
	if w.due {
		w.wait(s)
		return nil
	}
	if w.missedBefore(s) {
		until := s.seq
		if until == 0 {
			until = ^uint64(0)
		}
		if err := w.catchUp(ctx, until); err != nil {
			w.wait(s) // s is stored too: the next recovery reads it
			return err
		}
	}
	w.show(s, SourceLive)
	return nil
}

// retry reads the stored swarms after the last shown one again, up to the
// newest: the waiting live swarms are among them, and any left over (stored
// after the last read) are shown after.
func (w *Watcher) retry(ctx context.Context) error {
	if err := w.catchUp(ctx, 0); err != nil {
		return err
	}
	w.due = false
	w.showWaiting()
	return nil
}

// wait keeps the live swarm s until the unanswered recovery is answered;
// past MaxWaiting, it gives the recovery up: the windows before the waiting
// swarms are reported as a gap and the swarms shown.
func (w *Watcher) wait(s storedSwarm) {
	newest := w.lastStart
	if n := len(w.waiting); n > 0 {
		newest = w.waiting[n-1].start
	}
	switch {
	case !s.valid || s.match != w.cfg.Match || !s.start.After(w.lastStart):
		w.show(s, SourceLive) // counted as a repeat or dropped
		return
	case !s.start.After(newest):
		w.stats.Dropped.Add(1)
		return
	}
	w.waiting = append(w.waiting, s)
	if len(w.waiting) <= w.cfg.MaxWaiting {
		return
	}
	w.due = false
	w.lost = fmt.Sprintf("stream not answering (%d live swarms waited)", len(w.waiting))
	w.showWaiting()
}

// showWaiting shows the waiting live swarms; one whose predecessors may be
// missing and not shown is preceded by a gap.
func (w *Watcher) showWaiting() {
	reason := w.lost
	for _, s := range w.waiting {
		if reason != "" && w.missedBefore(s) {
			w.lost = reason
		}
		w.show(s, SourceLive)
	}
	w.waiting = nil
}

// missedBefore reports whether stored swarms may be missing between the
// last shown one and the live swarm s: s is the match's and starts after the
// last shown window ended, and its Nats-Last-Sequence (the match's previous
// stored swarm) is not the last shown one; with nothing shown yet, when the
// join found nothing stored and s is not the match's first. Without that header (a live
// message not republished by the stream), only a sequence right after the
// last shown one rules a gap out. Windows without reactions have no swarm,
// so quiet stretches cost no request when the header is there.
func (w *Watcher) missedBefore(s storedSwarm) bool {
	if !s.valid || s.match != w.cfg.Match || !s.start.After(w.lastEnd) {
		return false
	}
	if w.lastSeq == 0 { // nothing shown: missed only if the join found nothing stored and one was since
		return w.empty && s.hasPrev && s.prev > 0
	}
	if s.hasPrev {
		return s.prev > w.lastSeq
	}
	return s.seq != w.lastSeq+1
}

// show delivers s if it belongs to the match and is newer than the last
// shown swarm.
func (w *Watcher) show(s storedSwarm, src Source) {
	switch {
	case s.valid && s.match == w.cfg.Match && s.seq != 0 && s.seq <= w.lastSeq && !s.start.After(w.lastStart):
		w.stats.Repeats.Add(1)
		return
	case !s.valid || s.match != w.cfg.Match || !s.start.After(w.lastStart):
		w.stats.Dropped.Add(1)
		return
	}
	if w.lost != "" && !w.lastEnd.IsZero() && s.start.After(w.lastEnd) {
		w.gap(s.start)
	}
	w.lost = ""
	w.lastStart, w.lastEnd = s.start, s.end
	w.lastSeq = max(w.lastSeq, s.seq)
	w.stats.Shown.Add(1)
	if src == SourceRecovered {
		w.stats.Recovered.Add(1)
	}
	w.cfg.OnSwarm(s.body, src)
}

// gap reports the windows between the last shown one and to.
func (w *Watcher) gap(to time.Time) {
	n := 1
	if d := w.lastEnd.Sub(w.lastStart); d > 0 {
		n = int((to.Sub(w.lastEnd) + d - 1) / d)
	}
	w.stats.Gaps.Add(1)
	w.stats.Unrecoverable.Add(uint64(n))
	if w.cfg.OnGap != nil {
		w.cfg.OnGap(Gap{From: w.lastEnd, To: to, Windows: n, Reason: w.lost})
	}
}
