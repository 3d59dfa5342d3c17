package ingest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/internal/ratelimit"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// Defaults and bounds of GET /v1/matches (docs/api.md, "Matches").
const (
	// DefaultMatchesRate is the match list requests per second allowed per
	// client network.
	DefaultMatchesRate = 10
	// DefaultMatchesBurst is their burst.
	DefaultMatchesBurst = 40
	// DefaultMatchesLimit is a page's matches without ?limit.
	DefaultMatchesLimit = 200
	// MaxMatchesLimit is the largest ?limit.
	MaxMatchesLimit = 1000
	// MaxMatchesPageBytes bounds a page's encoded matches: a page ends
	// early (with a next_cursor) rather than pass it.
	MaxMatchesPageBytes = 256 << 10
	// MatchesTokenBytes is what one rate-limit token buys: a request takes
	// one token, and one more per MatchesTokenBytes of matches its page
	// holds, so the limit bounds a network's bytes as well as its requests.
	MatchesTokenBytes = 32 << 10
	// MinMatchesBurst is the least MatchesBurst: what the largest page
	// costs, so that every page can be served once the bucket is full.
	MinMatchesBurst = 1 + MaxMatchesPageBytes/MatchesTokenBytes
	// maxCursor bounds a cursor's length before it is decoded.
	maxCursor = 256
)

// The views of a registry revision: the default (live, then scheduled)
// and one per ?state.
var matchViews = map[string]int{"": 0, "live": 1, "scheduled": 2, "ended": 3}

// matchLister answers GET /v1/matches from one encoding per registry
// revision: a request finds the pages of the current registry.Snapshot
// encoded (the first request to see a revision encodes it, once, under
// mu), and its answer is a slice of them.
type matchLister struct {
	lim     *ratelimit.Limiter[netip.Prefix]
	mu      sync.Mutex
	pages   atomic.Pointer[matchPages]
	encodes prometheus.Counter
}

// matchPages are one snapshot's matches in listing order, encoded once,
// per view.
type matchPages struct {
	snap  *registry.Snapshot
	views [4]matchView
	size  int // bytes of all views
}

// matchView is one view's matches: match i's JSON is
// buf[offs[i]:offs[i+1]-1], each followed by a comma.
type matchView struct {
	buf  []byte
	offs []int
	pos  []registry.Position
}

// listedMatch is what anyone may read of a match.
type listedMatch struct {
	ID           string         `json:"id"`
	State        registry.State `json:"state"`
	Title        string         `json:"title,omitempty"`
	Home         string         `json:"home,omitempty"`
	Away         string         `json:"away,omitempty"`
	PlannedStart *time.Time     `json:"planned_start,omitempty"`
	Auto         bool           `json:"auto,omitempty"`
}

// matchesQuery is a parsed, checked request.
type matchesQuery struct {
	view  int
	limit int
	after *registry.Position // nil: from the first match
}

func newMatchLister(cfg *Config, reg prometheus.Registerer) (*matchLister, error) {
	l := &matchLister{lim: ratelimit.New[netip.Prefix](cfg.MatchesRate, cfg.MatchesBurst, cfg.MaxBuckets),
		encodes: prometheus.NewCounter(prometheus.CounterOpts{Name: "emostream_ingest_match_list_encodes_total",
			Help: "Times GET /v1/matches encoded the registry: once per registry revision a request saw."})}
	for _, c := range []prometheus.Collector{l.encodes,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "emostream_ingest_match_list_bytes",
			Help: "Bytes of the encoded registry GET /v1/matches answers from."}, l.bytes),
		limiterGauge(l.lim, "matches"),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *matchLister) bytes() float64 {
	if p := l.pages.Load(); p != nil {
		return float64(p.size)
	}
	return 0
}

// sweep drops the full rate-limit buckets.
func (l *matchLister) sweep(now time.Time) {
	if l != nil {
		l.lim.Sweep(now)
	}
}

// listMatches is GET /v1/matches?state=&limit=&cursor=.
func (s *Server) listMatches(c *fiber.Ctx) error {
	cn := network(s.clientIP(c), s.cfg.IPPrefixV4, s.cfg.IPPrefixV6)
	if e := s.mlist.take(cn, 1, s.cfg.Now()); e != nil {
		return e.write(s, c)
	}
	q, err := parseMatchesQuery(c)
	if err != nil {
		return s.fail(c, wire.CodeBadMatchesQuery, err.Error(), -1)
	}
	snap := s.cfg.Matches.Snapshot()
	if snap == nil {
		c.Set(fiber.HeaderRetryAfter, "1")
		return s.fail(c, wire.CodeRegistryUnavailable, "the match registry is not loaded yet; retry later", -1)
	}
	entries, next := s.mlist.pagesOf(snap).views[q.view].page(q.after, q.limit)
	if e := s.mlist.take(cn, len(entries)/MatchesTokenBytes, s.cfg.Now()); e != nil {
		return e.write(s, c)
	}
	writePage(c, entries, next)
	return nil
}

// writePage answers {"matches":[entries],"next_cursor":…}.
func writePage(c *fiber.Ctx, entries []byte, next *registry.Position) {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	body := c.Response().BodyWriter()
	body.Write([]byte(`{"matches":[`))
	body.Write(entries)
	body.Write([]byte(`]`))
	if next != nil {
		body.Write([]byte(`,"next_cursor":"` + encodeCursor(*next) + `"`))
	}
	body.Write([]byte(`}`))
}

// take takes n tokens of network cn's bucket, or refuses the request.
func (l *matchLister) take(cn netip.Prefix, n int, now time.Time) *httpError {
	if n == 0 || !l.lim.Enabled() {
		return nil
	}
	ok, wait := l.lim.Take(cn, n, now)
	if ok {
		return nil
	}
	e := rateLimited(wait, "")
	e.msg = "too many match list requests (or bytes) from client network " + cn.String() + ": retry after " + strconv.Itoa(e.retryAfter) + " s"
	return e
}

// pagesOf returns snap's pages, encoding them if no request did yet.
func (l *matchLister) pagesOf(snap *registry.Snapshot) *matchPages {
	if p := l.pages.Load(); p != nil && p.snap == snap {
		return p
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if p := l.pages.Load(); p != nil && p.snap == snap {
		return p
	}
	p := encodePages(snap)
	l.pages.Store(p)
	l.encodes.Inc()
	return p
}

// encodePages encodes each match of snap once, into the default view
// (live and scheduled) and its state's view.
func encodePages(snap *registry.Snapshot) *matchPages {
	p := &matchPages{snap: snap}
	for _, m := range snap.Sorted() {
		b, _ := json.Marshal(listedMatch{ID: m.ID, State: m.State, Title: m.Title, Home: m.Home,
			Away: m.Away, PlannedStart: m.PlannedStart, Auto: m.Auto})
		b = append(b, ',')
		p.views[matchViews[string(m.State)]].add(b, m.Position())
		if m.State != registry.Ended {
			p.views[0].add(b, m.Position())
		}
	}
	for i := range p.views {
		v := &p.views[i]
		v.offs = append(v.offs, len(v.buf))
		p.size += len(v.buf)
	}
	return p
}

func (v *matchView) add(b []byte, pos registry.Position) {
	v.offs = append(v.offs, len(v.buf))
	v.buf = append(v.buf, b...)
	v.pos = append(v.pos, pos)
}

// page is the encoded matches after position after (from the first when
// nil), at most limit of them and MaxMatchesPageBytes (at least one), and
// the position of the last one if more follow.
func (v *matchView) page(after *registry.Position, limit int) ([]byte, *registry.Position) {
	n, i := len(v.pos), 0
	if after != nil {
		i = sort.Search(n, func(k int) bool { return v.pos[k].Compare(*after) > 0 })
	}
	j := min(i+limit, n)
	if v.offs[j]-v.offs[i] > MaxMatchesPageBytes {
		j = i + max(1, sort.Search(j-i, func(k int) bool { return v.offs[i+k+1]-v.offs[i] > MaxMatchesPageBytes }))
	}
	if i == j {
		return nil, nil
	}
	var next *registry.Position
	if j < n {
		next = &v.pos[j-1]
	}
	return v.buf[v.offs[i] : v.offs[j]-1], next
}

// parseMatchesQuery reads and checks ?state, ?limit and ?cursor.
func parseMatchesQuery(c *fiber.Ctx) (matchesQuery, error) {
	q := matchesQuery{limit: DefaultMatchesLimit}
	st := c.Query("state")
	var ok bool
	if q.view, ok = matchViews[st]; !ok {
		return q, fmt.Errorf("state %.40q: want live, scheduled or ended (or none: live and scheduled)", st)
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxMatchesLimit {
			return q, fmt.Errorf("limit %.40q: want 1 to %d", l, MaxMatchesLimit)
		}
		q.limit = n
	}
	if cur := c.Query("cursor"); cur != "" {
		p, err := decodeCursor(cur)
		if err != nil {
			return q, err
		}
		q.after = &p
	}
	return q, nil
}

// cursorStates are the states by their rank in a cursor.
var cursorStates = []registry.State{registry.Live, registry.Scheduled, registry.Ended}

// encodeCursor names a position in the listing order, so the next page
// starts after it whatever changed in between: the origin, state rank,
// planned start (seconds and nanoseconds) and id, base64url.
func encodeCursor(p registry.Position) string {
	auto := 0
	if p.Auto {
		auto = 1
	}
	rank := 2
	for i, s := range cursorStates {
		if s == p.State {
			rank = i
		}
	}
	raw := fmt.Sprintf("%d.%d.%d.%d.%s", auto, rank, p.Planned.Unix(), p.Planned.Nanosecond(), p.ID)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

var errCursor = errors.New("cursor: not one this server gave (start again without one)")

// decodeCursor parses a cursor of encodeCursor.
func decodeCursor(s string) (registry.Position, error) {
	var p registry.Position
	if len(s) > maxCursor {
		return p, errCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return p, errCursor
	}
	f := strings.SplitN(string(raw), ".", 5)
	if len(f) != 5 {
		return p, errCursor
	}
	auto, err1 := strconv.Atoi(f[0])
	rank, err2 := strconv.Atoi(f[1])
	sec, err3 := strconv.ParseInt(f[2], 10, 64)
	nsec, err4 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || auto < 0 || auto > 1 ||
		rank < 0 || rank > 2 || nsec < 0 || nsec > 999_999_999 || !wire.ValidMatchID(f[4]) {
		return p, errCursor
	}
	return registry.Position{Auto: auto == 1, State: cursorStates[rank], Planned: time.Unix(sec, nsec), ID: f[4]}, nil
}
