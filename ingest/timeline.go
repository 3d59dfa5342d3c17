package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/emostream/emostream/internal/ratelimit"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// Timeline is what ingest needs to answer GET /v1/matches/{id}/timeline:
// *timeline.Reader on wire.TimelineStream.
type Timeline interface {
	Steps(ctx context.Context, q timeline.Query, emit func(timeline.Step) error) error
	Moments(ctx context.Context, match string, fromMs, toMs int64, emit func(*wire.Moment) error) error
	Earliest(ctx context.Context, match string) (int64, bool, error)
}

var _ Timeline = (*timeline.Reader)(nil)

// Defaults of the timeline API.
const (
	// DefaultTimelineRate is the timeline requests per second allowed per
	// client network.
	DefaultTimelineRate = 5
	// DefaultTimelineBurst is their burst.
	DefaultTimelineBurst = 20
	// MaxTimelineSteps bounds a query's range: at most this many steps.
	MaxTimelineSteps = 50_000
	// timelineChunk is the size of the chunks an answer is written in.
	timelineChunk = 64 << 10
	// timelineTimeout bounds the reading of one answer.
	timelineTimeout = 60 * time.Second
)

// timelineSteps are the steps a query may ask for.
var timelineSteps = map[string]time.Duration{"2s": 2 * time.Second, "10s": 10 * time.Second,
	"1m": time.Minute, "5m": 5 * time.Minute}

// timelineQuery is a parsed, checked request.
type timelineQuery struct {
	timeline.Query
	stepName string
	fromSet  bool // from was given; else defaultFrom sets From
	csv      bool
}

func (s *Server) timelineRoutes(app *fiber.App) error {
	if s.cfg.Matches == nil || s.cfg.Timeline == nil {
		return nil
	}
	s.tlLim = ratelimit.New[netip.Prefix](s.cfg.TimelineRate, s.cfg.TimelineBurst, s.cfg.MaxBuckets)
	app.Get(timelinePath, s.getTimeline)
	s.allowed(app, timelinePath, "GET, HEAD")
	return s.cfg.Registerer.Register(limiterGauge(s.tlLim, "timeline"))
}

// getTimeline is GET /v1/matches/{id}/timeline?from=&to=&step=&by=&format=.
func (s *Server) getTimeline(c *fiber.Ctx) error {
	now := s.cfg.Now()
	cn := network(s.clientIP(c), s.cfg.IPPrefixV4, s.cfg.IPPrefixV6)
	if s.tlLim.Enabled() {
		if ok, wait := s.tlLim.Take(cn, 1, now); !ok {
			return rateLimited(wait, "client network "+cn.String()+" (timeline)").write(s, c)
		}
	}
	id := c.Params("id")
	ctx, cancel := context.WithTimeout(c.UserContext(), adminTimeout)
	defer cancel()
	if _, err := s.cfg.Matches.Get(ctx, id); err != nil {
		if errors.Is(err, registry.ErrInvalid) {
			err = fmt.Errorf("%w: %s", registry.ErrUnknownMatch, err)
		}
		return matchError(err, -1).write(s, c)
	}
	q, err := s.parseTimeline(c, id, now)
	if err != nil {
		return s.fail(c, wire.CodeBadTimelineQuery, err.Error(), -1)
	}
	// The earliest record is read first, also when from is given: an
	// unreachable hub is a 503 here rather than a cut answer.
	first, found, err := s.cfg.Timeline.Earliest(ctx, q.Match)
	if err != nil {
		return s.timelineUnavailable(c, err)
	}
	q.defaultFrom(first, found)
	return s.answerTimeline(c, q)
}

// answerTimeline writes the answer of a checked query as it reads it.
func (s *Server) answerTimeline(c *fiber.Ctx, q timelineQuery) error {
	head, err := s.timelineHead(q)
	if err != nil {
		return err // a 500: parseTimeline let through what the answer cannot encode
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	if q.csv {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if c.Method() == fiber.MethodHead {
		return nil // the headers say it all; nothing is read
	}
	// Chunks of 64 KiB: fewer hand-offs to the connection than fasthttp's
	// 4 KiB writer, still a bounded buffer.
	s.stream(c, timelineChunk, func(client context.Context, w *bufio.Writer) error {
		ctx, cancel := context.WithTimeout(client, timelineTimeout)
		defer cancel()
		w.Write(head)
		err := s.writeTimeline(ctx, w, q)
		switch {
		case err == nil:
		case client.Err() != nil: // the client stopped reading or left: no fault of the store
			s.cfg.Logger.Debug("timeline answer not read to its end", "match", q.Match, "err", err)
		default:
			s.m.reject(wire.CodeRegistryUnavailable)
			s.cfg.Logger.Warn("timeline answer cut short", "match", q.Match, "err", err)
		}
		return err
	})
	return nil
}

func (s *Server) timelineUnavailable(c *fiber.Ctx, err error) error {
	s.cfg.Logger.Warn("reading the timeline", "err", err)
	c.Set(fiber.HeaderRetryAfter, "1")
	return s.fail(c, wire.CodeRegistryUnavailable, "the timeline store is unreachable; retry later", -1)
}

// The instants a timeline query may name: those its answer can write in
// RFC 3339, years 0000 to 9999 (UTC), as Unix milliseconds. Every step
// size divides a day, so both ends are step boundaries.
const (
	minInstantMs = -62167219200000 // 0000-01-01T00:00:00Z
	maxInstantMs = 253402300799999 // 9999-12-31T23:59:59.999Z
)

// parseTimeline reads and checks the query; From is set only if given.
func (s *Server) parseTimeline(c *fiber.Ctx, id string, now time.Time) (timelineQuery, error) {
	q := timelineQuery{stepName: c.Query("step", "1m")}
	q.Match = id
	var ok bool
	if q.Step, ok = timelineSteps[q.stepName]; !ok {
		return q, fmt.Errorf("step %q: want one of 2s, 10s, 1m, 5m", q.stepName)
	}
	if q.Step < s.cfg.Window || q.Step%s.cfg.Window != 0 {
		return q, fmt.Errorf("step %s is not a multiple of the %v window", q.stepName, s.cfg.Window)
	}
	q.By = timeline.View(c.Query("by", string(timeline.ByNamed)))
	if !q.By.Valid() {
		return q, fmt.Errorf("by %q: want named (the window each 202 named), arrival (the live swarms') or video (the program time each reaction's video_ts named)", q.By)
	}
	var err error
	if q.csv, err = wantCSV(c); err != nil {
		return q, err
	}
	if err := q.parseRange(c.Query("from"), c.Query("to"), now.UnixMilli()); err != nil {
		return q, err
	}
	return q, nil
}

// wantCSV reads format=, or else the Accept header.
func wantCSV(c *fiber.Ctx) (bool, error) {
	switch f := c.Query("format"); f {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
		return strings.Contains(c.Get(fiber.HeaderAccept), "text/csv"), nil
	default:
		return false, fmt.Errorf("format %q: want json or csv", f)
	}
}

// parseRange sets To (rounded up to the step; now when to is empty) and,
// when given, From (rounded down), each within what the answer can
// encode, at most MaxTimelineSteps apart.
func (q *timelineQuery) parseRange(fromArg, toArg string, nowMs int64) error {
	ms := q.Step.Milliseconds()
	to, err := parseInstant("to", toArg, nowMs)
	if err != nil {
		return err
	}
	if q.To = wire.WindowStart(to+ms-1, ms); q.To > maxInstantMs {
		return fmt.Errorf("to %q: rounded up to the %s step, it ends after year 9999", toArg, q.stepName)
	}
	if fromArg == "" {
		return nil
	}
	from, err := parseInstant("from", fromArg, 0)
	if err != nil {
		return err
	}
	q.From, q.fromSet = wire.WindowStart(from, ms), true
	switch {
	case from > to:
		return fmt.Errorf("to (%d) is before from (%d)", to, from)
	case (q.To-q.From)/ms > MaxTimelineSteps:
		return fmt.Errorf("from..to spans %d steps of %s: at most %d (use a longer step, or a shorter range)",
			(q.To-q.From)/ms, q.stepName, MaxTimelineSteps)
	}
	return nil
}

// defaultFrom sets a From not given: the match's first stored step (first,
// if found), at most MaxTimelineSteps before To and not before year 0.
func (q *timelineQuery) defaultFrom(first int64, found bool) {
	if q.fromSet {
		return
	}
	q.From = q.To
	if ms := q.Step.Milliseconds(); found {
		q.From = max(wire.WindowStart(first, ms), q.To-MaxTimelineSteps*ms, minInstantMs)
	}
	q.From = min(q.From, q.To)
}

// parseInstant is an RFC 3339 time or whole Unix milliseconds, def if
// empty, from year 0000 to 9999.
func parseInstant(name, v string, def int64) (int64, error) {
	if v == "" {
		return def, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		t, terr := time.Parse(time.RFC3339Nano, v)
		if terr != nil {
			return 0, fmt.Errorf("%s %q: want RFC 3339 (2026-11-23T05:00:00Z) or whole Unix milliseconds", name, v)
		}
		ms, err = t.UnixMilli(), nil
	}
	if err != nil || ms < minInstantMs || ms > maxInstantMs {
		return 0, fmt.Errorf("%s %q: out of range: want an instant from 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z", name, v)
	}
	return ms, nil
}

// appendStep appends one step of the JSON answer,
// {"start","end","counts":{…},"total"}, its counts in key order as
// encoding/json writes them (keys is scratch space).
func appendStep(b []byte, keys []string, st timeline.Step, stepMs int64) ([]byte, []string) {
	b = append(b, `{"start":"`...)
	b = utc(st.Start).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","end":"`...)
	b = utc(st.Start+stepMs).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","counts":{`...)
	keys = keys[:0]
	for e := range st.Counts {
		keys = append(keys, e)
	}
	slices.Sort(keys)
	for i, e := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = wire.AppendJSONString(b, e)
		b = append(b, ':')
		b = strconv.AppendInt(b, st.Counts[e], 10)
	}
	b = append(b, `},"total":`...)
	b = strconv.AppendInt(b, st.Total, 10)
	return append(b, '}'), keys
}

func utc(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// timelineHead is the answer's beginning: the CSV header, or the JSON
// object up to its steps.
func (s *Server) timelineHead(q timelineQuery) ([]byte, error) {
	if q.csv {
		b := []byte("start,end,total")
		for _, e := range s.emojis {
			b = append(append(b, ','), e...)
		}
		return append(b, "\r\n"...), nil
	}
	head, err := json.Marshal(struct {
		Match string        `json:"match_id"`
		Step  string        `json:"step"`
		By    timeline.View `json:"by"`
		From  time.Time     `json:"from"`
		To    time.Time     `json:"to"`
	}{q.Match, q.stepName, q.By, utc(q.From), utc(q.To)})
	if err != nil {
		return nil, fmt.Errorf("ingest: timeline %+v: %w", q.Query, err)
	}
	return append(head[:len(head)-1], `,"steps":[`...), nil
}

// writeTimeline writes the answer after its head as it reads the steps,
// one at a time.
func (s *Server) writeTimeline(ctx context.Context, w *bufio.Writer, q timelineQuery) error {
	if q.csv {
		return s.writeCSV(ctx, w, q)
	}
	totals, total, n := map[string]int64{}, int64(0), 0
	var b []byte
	var keys []string
	err := s.cfg.Timeline.Steps(ctx, q.Query, func(st timeline.Step) error {
		if n++; n > 1 {
			w.WriteByte(',')
		}
		b, keys = appendStep(b[:0], keys, st, q.Step.Milliseconds())
		for e, c := range st.Counts {
			totals[e] += c
		}
		total += st.Total
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	tb, _ := json.Marshal(totals)
	fmt.Fprintf(w, `],"totals":%s,"total":%d,"moments":[`, tb, total)
	n = 0
	err = s.cfg.Timeline.Moments(ctx, q.Match, q.From, q.To, func(m *wire.Moment) error {
		b, err := json.Marshal(m)
		if err != nil {
			return nil // a moment the answer cannot encode (a stored window past year 9999) is left out
		}
		if n++; n > 1 {
			w.WriteByte(',')
		}
		_, err = w.Write(b)
		return err
	})
	w.WriteString("]}")
	return err
}

// writeCSV writes start,end,total and one column per allowed emoji.
func (s *Server) writeCSV(ctx context.Context, w *bufio.Writer, q timelineQuery) error {
	return s.cfg.Timeline.Steps(ctx, q.Query, func(st timeline.Step) error {
		b := utc(st.Start).AppendFormat(nil, time.RFC3339Nano)
		b = append(b, ',')
		b = utc(st.Start+q.Step.Milliseconds()).AppendFormat(b, time.RFC3339Nano)
		b = append(b, ',')
		b = strconv.AppendInt(b, st.Total, 10)
		for _, e := range s.emojis {
			b = append(b, ',')
			b = strconv.AppendInt(b, st.Counts[e], 10)
		}
		b = append(b, '\r', '\n')
		_, err := w.Write(b)
		return err
	})
}
