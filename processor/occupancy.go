package processor

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/wire"
)

// Defaults of the occupancy table.
const (
	// DefaultMaxEdges bounds the edges whose reports are kept.
	DefaultMaxEdges = 10_000
	// DefaultMaxOccupancy bounds the (edge, match) counts kept.
	DefaultMaxOccupancy = 1_000_000
	// DefaultMaxEdgeViewers bounds one edge's count of one match: no edge
	// holds more connections (ten times an edge's default MaxConnections;
	// 2.5 GB of viewers at their measured 2.5 KiB each).
	DefaultMaxEdgeViewers = 1_000_000
	// maxViewersSum bounds MaxEdges × MaxEdgeViewers, the largest sum of
	// one match's counts, far from int64's end.
	maxViewersSum = 1 << 62
	// defaultOccupancyInterval is an edge's report interval when its
	// report does not say; reports say between 1s and 1m.
	defaultOccupancyInterval = 5 * time.Second
	// occupancyExpiry is how many intervals an edge's counts outlive its
	// last report naming them.
	occupancyExpiry = 3
)

// occupancy holds the latest viewer count of every (edge, match) from the
// edges' reports (wire.Occupancy) and their sum per match. Its own lock
// guards it: reports arrive on the NATS client's goroutine.
type occupancy struct {
	mu         sync.Mutex
	maxEdges   int
	maxEntries int
	maxViewers int64 // per (edge, match)
	now        func() time.Time
	edges      map[string]map[string]occEntry // edge → match → count
	sums       map[string]int64
	entries    int
	swept      time.Time
	met        *metrics
}

type occEntry struct {
	n       int64
	expires time.Time
}

func newOccupancy(maxEdges, maxEntries int, maxViewers int64, now func() time.Time, met *metrics) *occupancy {
	return &occupancy{maxEdges: maxEdges, maxEntries: maxEntries, maxViewers: maxViewers, now: now, met: met,
		edges: map[string]map[string]occEntry{}, sums: map[string]int64{}}
}

// receive applies one report: an edge's counts replace its earlier counts
// of the matches it names. A count is clamped to what one edge can hold:
// the report's MaxConnections, at most maxViewers. So a match's sum is at
// most maxEdges × maxViewers (below maxViewersSum: Config checks it), and
// no report, forged or not, can overflow it or make it negative.
func (o *occupancy) receive(m *nats.Msg) {
	var r wire.Occupancy
	if err := json.Unmarshal(m.Data, &r); err != nil || r.Edge == "" ||
		len(r.Matches) > wire.MaxOccupancyMatches || wire.ViewersSubject(r.Edge) != m.Subject {
		o.met.occupancyReports.WithLabelValues("bad").Inc()
		return
	}
	interval := r.Interval
	if interval < time.Second || interval > time.Minute {
		interval = defaultOccupancyInterval
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	o.sweep(now)
	e, ok := o.edges[r.Edge]
	if !ok {
		if len(o.edges) >= o.maxEdges {
			o.met.occupancyReports.WithLabelValues("over_edges").Inc()
			return
		}
		e = map[string]occEntry{}
		o.edges[r.Edge] = e
	}
	o.met.occupancyReports.WithLabelValues(o.apply(e, &r, now.Add(occupancyExpiry*interval))).Inc()
	o.gauges()
}

// apply puts r's counts into e, the edge's, and returns the report's
// result: applied, clamped (a count over what the edge can hold) or partial
// (a count invalid or over maxEntries, left out).
func (o *occupancy) apply(e map[string]occEntry, r *wire.Occupancy, expires time.Time) string {
	kind := "applied"
	limit := o.maxViewers
	if r.MaxConnections > 0 {
		limit = min(limit, r.MaxConnections)
	}
	for match, n := range r.Matches {
		old, had := e[match]
		switch {
		case !wire.ValidMatchID(match) || n < 0 || !had && o.entries >= o.maxEntries:
			kind = "partial"
			continue
		case n > limit:
			n = limit
			if kind == "applied" {
				kind = "clamped"
			}
		}
		if !had {
			o.entries++
		}
		o.sums[match] += n - old.n
		e[match] = occEntry{n: n, expires: expires}
	}
	return kind
}

// sweep drops expired counts, at most once a second.
func (o *occupancy) sweep(now time.Time) {
	if now.Sub(o.swept) < time.Second {
		return
	}
	o.swept = now
	for edge, e := range o.edges {
		for match, en := range e {
			if now.After(en.expires) {
				o.drop(e, match, en)
			}
		}
		if len(e) == 0 {
			delete(o.edges, edge)
		}
	}
	o.gauges()
}

func (o *occupancy) drop(e map[string]occEntry, match string, en occEntry) {
	delete(e, match)
	o.entries--
	if o.sums[match] -= en.n; o.sums[match] == 0 {
		delete(o.sums, match)
	}
}

func (o *occupancy) gauges() {
	o.met.occupancyEdges.Set(float64(len(o.edges)))
	o.met.occupancyEntries.Set(float64(o.entries))
}

// viewers is the sum of the edges' latest counts of match.
func (o *occupancy) viewers(match string) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sweep(o.now())
	return o.sums[match]
}
