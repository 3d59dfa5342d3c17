package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// ErrRunTwice is returned by a second call of Generator.Run.
var ErrRunTwice = errors.New("loadgen: generator already ran")

// Result is the outcome of one request, passed to Config.OnResult.
type Result struct {
	// FirstEvent is the number of the request's first event in the run; its
	// events are FirstEvent … FirstEvent+Events-1 (see Generator.EventID).
	FirstEvent int64
	Events     int
	// Sent is when the request started, Latency how long its answer took.
	Sent    time.Time
	Latency time.Duration
	// Status is the HTTP status, zero when the request got no answer.
	Status int
	// Accepted is the number of events the target accepted.
	Accepted int
	// Err is why the request got no answer.
	Err error
	// Body is the answer's body, valid only during the callback.
	Body []byte
	// Matches are the request's matches (match-<Match>) with the number of
	// its events in each, by increasing Match; valid only during the
	// callback. A caller that needs events per match counts them here
	// instead of reading them back from the request body.
	Matches []MatchEvents
}

// MatchEvents is a match of a request and how many of its events are in it.
type MatchEvents struct {
	Match  uint64
	Events int
}

// Generator sends the load a Config describes.
type Generator struct {
	cfg    Config
	url    string
	client Doer
	enc    *encoder
	runID  string
	ran    atomic.Bool
	stats  stats
}

// New checks cfg, resolves the target's host for the loopback guard and
// prepares a run.
func New(cfg Config) (*Generator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	u, err := parseTarget(cfg.Target)
	if err != nil {
		return nil, err
	}
	if !cfg.AllowRemote {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := CheckTarget(ctx, cfg.Resolver, cfg.Target); err != nil {
			return nil, err
		}
	}
	g := &Generator{cfg: cfg, url: u.JoinPath(cfg.Path).String(), client: cfg.Client, runID: newRunID()}
	if g.client == nil {
		g.client = newHostClient(u.Scheme, u.Host, cfg)
	}
	g.enc = newEncoder(cfg, g.runID)
	return g, nil
}

func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newHostClient returns a client that keeps up to c.Connections connections
// to host, never retries a POST (a retry would count events twice), reads
// replies of up to MaxReplyBytes and, unless c.AllowRemote, connects to
// loopback addresses only.
func newHostClient(scheme, host string, c Config) *fasthttp.HostClient {
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, map[string]string{"http": "80", "https": "443"}[scheme])
	}
	hc := &fasthttp.HostClient{
		Addr:                          host,
		IsTLS:                         scheme == "https",
		MaxConns:                      c.Connections,
		MaxConnWaitTimeout:            c.Timeout,
		MaxIdemponentCallAttempts:     1,
		MaxResponseBodySize:           MaxReplyBytes,
		ReadTimeout:                   c.Timeout,
		WriteTimeout:                  c.Timeout,
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
	}
	if !c.AllowRemote {
		hc.Dial = dialLoopback(c.Resolver, c.Timeout)
	}
	return hc
}

// Config returns the generator's config with defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// EventID returns the event_id that event seq of this run carries when
// Config.EventIDs is set.
func (g *Generator) EventID(seq int64) string {
	return string(appendEventID(nil, g.runID, seq))
}

// Run sends the load until the configured duration or event count is
// reached or ctx ends, waits for the requests in flight, and returns the
// summary. A Generator runs once.
func (g *Generator) Run(ctx context.Context) (Summary, error) {
	if g.ran.Swap(true) {
		return Summary{}, ErrRunTwice
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	sched := newSchedule(g.cfg, start)
	var wg sync.WaitGroup
	for i := range g.cfg.Connections {
		w := g.newWorker(uint64(i))
		wg.Go(func() { w.run(ctx, sched) })
	}
	progressDone := make(chan struct{})
	go func() { defer close(progressDone); g.reportProgress(ctx, start) }()
	wg.Wait()
	elapsed := time.Since(start)
	cancel()
	<-progressDone
	return g.summary(elapsed), nil
}

// reportProgress calls Config.Progress every interval until ctx ends.
func (g *Generator) reportProgress(ctx context.Context, start time.Time) {
	if g.cfg.Progress == nil {
		return
	}
	t := time.NewTicker(g.cfg.ProgressInterval)
	defer t.Stop()
	prev, prevEvents, prevAt := Snapshot{}, int64(0), start
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			snap, counts := g.stats.latency.Snapshot(), g.stats.counts()
			interval := snap.Sub(prev)
			g.cfg.Progress(Progress{
				Elapsed: now.Sub(start), Done: g.done(now.Sub(start), counts.Events), Counts: counts,
				EventRate: perSecond(counts.Events-prevEvents, now.Sub(prevAt)),
				P50:       interval.Quantile(0.5), P99: interval.Quantile(0.99),
			})
			prev, prevEvents, prevAt = snap, counts.Events, now
		}
	}
}

// done returns the fraction of the run behind after elapsed and events.
func (g *Generator) done(elapsed time.Duration, events int64) float64 {
	f := float64(elapsed) / float64(g.cfg.Duration)
	if g.cfg.Events > 0 {
		f = max(f, float64(events)/float64(g.cfg.Events))
	}
	return min(f, 1)
}

func (g *Generator) summary(elapsed time.Duration) Summary {
	c := g.stats.counts()
	return Summary{
		Target: g.url, Batch: g.cfg.Batch, Connections: g.cfg.Connections, Rate: g.cfg.Rate,
		Counts: c, Elapsed: elapsed,
		RequestRate: perSecond(c.Requests, elapsed), EventRate: perSecond(c.Events, elapsed),
		AcceptedRate: perSecond(c.Accepted, elapsed),
		Latency:      latencyOf(g.stats.latency.Snapshot()),
	}
}
