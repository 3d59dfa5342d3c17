package wire

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Closing rules, the values of Swarm.ClosedBy.
const (
	ClosedByAllPartitions = "all_partitions"
	ClosedByDeadline      = "deadline"
)

// Swarm is one window of one match, as the processor publishes it on
// SwarmSubject(MatchID) and viewers receive it on LiveSubject(MatchID):
//
//	{"match_id":"final-2026","window_start":"2026-11-23T05:00:00Z",
//	 "window_end":"2026-11-23T05:00:02Z","counts":{"🔥":12345},"swarm":{"🔥":12},
//	 "carry":{"🔥":345},"total":12345,"partitions":8,"closed_by":"all_partitions",
//	 "published_at":"2026-11-23T05:00:02.041Z"}
//
// Counts are the window's events per emoji. Swarm is the number of units:
// every threshold identical emojis, counting the remainder carried from the
// match's previous window, make one unit; Carry is what is left over for the
// next window, so over a match nothing is lost.
type Swarm struct {
	MatchID     string           `json:"match_id"`
	WindowStart time.Time        `json:"window_start"`
	WindowEnd   time.Time        `json:"window_end"`
	Counts      map[string]int64 `json:"counts"`
	Swarm       map[string]int64 `json:"swarm"`
	Carry       map[string]int64 `json:"carry"`
	Total       int64            `json:"total"`
	Partitions  int              `json:"partitions"`
	ClosedBy    string           `json:"closed_by"`
	PublishedAt time.Time        `json:"published_at"`
	// Late is how many of Counts were received in an earlier window (the
	// window their 202 named) and reached the processor after that window
	// had closed for their partition: the sum of LateWindows.
	Late int64 `json:"late,omitempty"`
	// LateWindows is the late part of Counts by the window each event was
	// received in, keyed by that window's start in Unix ms:
	// late_windows["1795410000000"]["🔥"]. Counts minus LateWindows is what
	// was received in this window; the timeline attributes LateWindows to
	// their own windows (docs/api.md, "Timeline").
	LateWindows map[int64]map[string]int64 `json:"late_windows,omitempty"`
	// VideoWindows is the part of Counts that the program-time view of the
	// timeline puts in another window, keyed by that window's start in
	// Unix ms: an event with a video_ts under the window containing it,
	// a late event without one under the window it was received in (as
	// in LateWindows). The live swarm counts by arrival; the timeline's
	// by=video view moves these counts (docs/api.md, "Timeline").
	VideoWindows map[int64]map[string]int64 `json:"video_windows,omitempty"`
	// Offsets is, per Kafka partition, the next offset after the partials
	// that this match's swarms have counted so far (for operators: compare
	// with the partition's end offset).
	Offsets map[int32]int64 `json:"offsets,omitempty"`
	// Partials is, per Kafka partition, the stream sequence in
	// PartialsStream of the last partial this match's swarms have counted.
	// A processor that restarts or takes over skips a redelivered partial
	// at or below it, so no event is counted twice for the match. Stream
	// sequences only grow, even when a broker that lost its log tail makes
	// Kafka offsets step back.
	Partials map[int32]uint64 `json:"partials,omitempty"`
	// Viewers is how many viewers watch the match: the sum of the latest
	// occupancy report (Occupancy) of every edge, so approximate within
	// one report interval. Zero (absent) when no edge reports.
	Viewers int64 `json:"viewers,omitempty"`
	// Moments are the crowd surges the processor detected in this window
	// (also published on MomentSubject), so live viewers see them with
	// the swarm.
	Moments []Moment `json:"moments,omitempty"`
}

// SwarmMsgID is the Nats-Msg-Id of a match's swarm for the window starting at
// windowStartMs: a window is stored, and so delivered, once.
func SwarmMsgID(match string, windowStartMs int64) string {
	return match + "/" + strconv.FormatInt(windowStartMs, 10)
}

// MsgID is the swarm's Nats-Msg-Id.
func (s *Swarm) MsgID() string { return SwarmMsgID(s.MatchID, s.WindowStart.UnixMilli()) }

// Compress turns counts plus the carried remainder into swarm units of
// threshold each and the new remainder. It does not change its arguments.
func Compress(counts, carry map[string]int64, threshold int64) (units, rest map[string]int64) {
	units, rest = map[string]int64{}, map[string]int64{}
	for e, n := range carry {
		rest[e] = n
	}
	for e, n := range counts {
		rest[e] += n
	}
	for e, n := range rest {
		if u := n / threshold; u > 0 {
			units[e] = u
		}
		if rest[e] = n % threshold; rest[e] == 0 {
			delete(rest, e)
		}
	}
	return units, rest
}

// Encode returns the swarm's JSON, with times in UTC at millisecond precision.
func (s *Swarm) Encode() ([]byte, error) {
	c := *s
	c.WindowStart = s.WindowStart.UTC().Truncate(time.Millisecond)
	c.WindowEnd = s.WindowEnd.UTC().Truncate(time.Millisecond)
	c.PublishedAt = s.PublishedAt.UTC().Truncate(time.Millisecond)
	return json.Marshal(&c)
}

// DecodeSwarm parses and checks a swarm.
func DecodeSwarm(data []byte) (*Swarm, error) {
	s, err := decodeMatch[Swarm]("swarm", data, func(s *Swarm) string { return s.MatchID })
	if err != nil {
		return nil, err
	}
	if !s.WindowEnd.After(s.WindowStart) {
		return nil, fmt.Errorf("wire: swarm: window %v..%v: want an end after the start", s.WindowStart, s.WindowEnd)
	}
	if err := s.validateLate(); err != nil {
		return nil, err
	}
	return s, s.validateVideo()
}

// validateVideo checks VideoWindows: windows other than the swarm's,
// positive counts, and per emoji no more moved than counted.
func (s *Swarm) validateVideo() error {
	start := s.WindowStart.UnixMilli()
	sums := map[string]int64{}
	for w, c := range s.VideoWindows {
		if w == start {
			return fmt.Errorf("wire: swarm: video window %d is the swarm's own", w)
		}
		for e, n := range c {
			if n <= 0 || n > s.Counts[e]-sums[e] {
				return fmt.Errorf("wire: swarm: video count %d/%q = %d: not positive, or more than counted", w, e, n)
			}
			sums[e] += n
		}
	}
	return nil
}

// validateLate checks LateWindows: earlier windows, positive counts, and
// per emoji no more late than counted.
func (s *Swarm) validateLate() error {
	start := s.WindowStart.UnixMilli()
	sums := map[string]int64{}
	for origin, c := range s.LateWindows {
		if origin >= start {
			return fmt.Errorf("wire: swarm: late window %d not before %d", origin, start)
		}
		for e, n := range c {
			if n <= 0 || n > s.Counts[e]-sums[e] {
				return fmt.Errorf("wire: swarm: late count %d/%q = %d: not positive, or more late than counted", origin, e, n)
			}
			sums[e] += n
		}
	}
	return nil
}

// The parts of an upper bound on a swarm's encoding, which the processor
// keeps while it adds partials to a swarm so that none passes its bound.
// Every number is counted at its widest.
const (
	// SwarmPartitionBytes is what one partition adds: its members of
	// offsets and partials.
	SwarmPartitionBytes = 2 * (len(`"-2147483648":`) + maxCountDigits + len(","))
	// LateWindowBytes is what one window of late_windows (or of
	// video_windows) adds, without its emojis.
	LateWindowBytes = widestKey + len(":{},")
)

// SwarmEmojiBytes is what one emoji adds to a swarm: its members of
// counts, swarm and carry.
func SwarmEmojiBytes(emoji string) int { return 3 * EmojiMemberBytes(emoji) }

// EmojiMemberBytes is what one emoji's member ("🔥":n,) of a map adds:
// as one emoji of a late_windows window.
func EmojiMemberBytes(emoji string) int { return JSONStringBytes(emoji) + len(":,") + maxCountDigits }

// SwarmBaseBytes is an upper bound on the encoding of match's swarm with
// no emoji, partition, late window or moment: empty objects, every number
// at its widest, the times of year 9999.
func SwarmBaseBytes(match string) int {
	t := time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
	data, err := (&Swarm{MatchID: match, WindowStart: t, WindowEnd: t, Counts: map[string]int64{},
		Swarm: map[string]int64{}, Carry: map[string]int64{}, Total: math.MinInt64, Partitions: math.MinInt,
		ClosedBy: ClosedByAllPartitions, PublishedAt: t, Late: math.MinInt64, Viewers: math.MinInt64}).Encode()
	if err != nil { // strings, numbers and times always encode
		panic(err)
	}
	return len(data) + len(`,"offsets":{},"partials":{},"late_windows":{},"video_windows":{},"moments":[]`)
}

// MomentBytes is an upper bound on one of match's moments in a swarm's
// moments, naming an emoji of at most MaxEmojiBytes.
func MomentBytes(match string) int {
	t := time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
	data, err := json.Marshal(&Moment{MatchID: match, WindowStart: t, WindowEnd: t,
		Emoji: strings.Repeat("<", MaxEmojiBytes), Size: math.MinInt64, Ratio: -math.MaxFloat64, Rule: "total"})
	if err != nil {
		panic(err)
	}
	return len(data) + len(",") + 8 // a ratio may encode a few bytes longer than -MaxFloat64
}
