package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// Counts is a count per match and emoji: counts["final-2026"]["🔥"].
type Counts map[string]map[string]int64

// Add counts n more of emoji in match.
func (c Counts) Add(match, emoji string, n int64) {
	m := c[match]
	if m == nil {
		m = make(map[string]int64)
		c[match] = m
	}
	m[emoji] += n
}

// Merge adds every count of o to c.
func (c Counts) Merge(o Counts) {
	for match, emojis := range o {
		for e, n := range emojis {
			c.Add(match, e, n)
		}
	}
}

// Total is the sum of every count.
func (c Counts) Total() int64 {
	var t int64
	for _, emojis := range c {
		for _, n := range emojis {
			t += n
		}
	}
	return t
}

// Partial is what a bridge publishes, one per assigned partition per window
// (empty ones too: they are the heartbeat that lets the processor close a
// window early), on PartialSubject(Partition) in PartialsStream. It covers the
// records at offsets FirstOffset..LastOffset of the partition; an empty
// partial has LastOffset = FirstOffset-1. A bridge that takes the partition
// over resumes at NextOffset of the last partial published for it.
//
// A window whose counts would not fit one message is split: the bridge
// publishes several partials of the same partition and window, each with its
// own contiguous offset range, all but the last with More set.
type Partial struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	WindowStartMs int64  `json:"window_start_ms"`
	WindowMs      int64  `json:"window_ms"`
	FirstOffset   int64  `json:"first_offset"`
	LastOffset    int64  `json:"last_offset"`
	Counts        Counts `json:"counts"`
	// Late counts the records in Counts whose receive time fell in a window
	// that was already closed when they arrived.
	Late int64 `json:"late"`
	// LateCounts is the late part of Counts by the window each record was
	// received in (the window its 202 named), keyed by that window's start
	// in Unix ms: late_counts["1795410000000"]["final-2026"]["🔥"]. Every
	// origin is earlier than WindowStartMs, and a partial names at most
	// MaxPartialLateWindows of them (the bridge splits the window past
	// that). Partials stored before this field existed have none: their
	// late records are attributed to the window that counted them.
	LateCounts map[int64]Counts `json:"late_counts,omitempty"`
	// VideoCounts is the part of Counts that the program-time view of the
	// timeline (docs/api.md, "Timeline", by=video) puts in another window
	// than this partial's, keyed by that window's start in Unix ms: a
	// record with a video_ts under the window containing it, a late
	// record without one under the window it was received in (as in
	// LateCounts). A partial names at most MaxPartialVideoWindows of them
	// (the bridge splits the window past that).
	VideoCounts map[int64]Counts `json:"video_counts,omitempty"`
	// Duplicates counts records dropped because their event_id was seen
	// before (not in Counts).
	Duplicates int64 `json:"duplicates,omitempty"`
	// Bad counts records that could not be decoded (not in Counts).
	Bad int64 `json:"bad,omitempty"`
	// More says that another partial of the same partition and window
	// follows this one: the bridge split the window because its counts
	// would have outgrown the bridge's bound on a partial's size. A
	// processor takes the partition as having delivered the window only
	// from a partial without More (or of a later window).
	More bool `json:"more,omitempty"`
}

// MaxEmojiBytes is the longest emoji spelling an allow-list may hold
// (NewEmojiSet refuses longer ones); a bridge counts a record with a longer
// emoji_type as bad, so every key of a partial's counts is bounded.
const MaxEmojiBytes = 64

// MaxPartialLateWindows bounds the distinct origin windows of a partial's
// LateCounts: a record late from yet another window splits the partial.
// It keeps what one partial adds to a swarm's late_windows small (see
// processor.DefaultMaxSwarmBytes).
const MaxPartialLateWindows = 2

// MaxPartialVideoWindows bounds the distinct windows of a partial's
// VideoCounts: a record of yet another window splits the partial. A
// video_ts is at most wire.MaxVideoLag behind its receive time, so one
// receive window's records name at most 32 windows of 2 s; late records
// add theirs.
const MaxPartialVideoWindows = 40

// MaxPartialVideoBytes bounds what one partial's VideoCounts of one match
// add to that match's swarm's video_windows (LateWindowBytes per window,
// EmojiMemberBytes per emoji in it): a record that would pass it splits
// the partial. The reactions of viewers 0-60 s behind live with the
// default emojis (33 windows × 12 emojis, 11.9 KB) fit one partial; a
// wider spread (hostile video_ts values, long emoji spellings) splits it,
// so no partial brings a swarm more than this of program-time counts.
// (The processor takes a swarm's first partial without its moves if they
// would pass the swarm's bound.)
const MaxPartialVideoBytes = 16 << 10

// PartialBaseBytes is an upper bound on the JSON encoding of a partial of
// topic with empty counts: every number at its widest, More set, and an
// empty late_counts object.
func PartialBaseBytes(topic string) int {
	data, err := (&Partial{Topic: topic, Partition: math.MinInt32, WindowStartMs: math.MinInt64,
		WindowMs: math.MinInt64, FirstOffset: math.MinInt64, LastOffset: math.MinInt64, Counts: Counts{},
		Late: math.MinInt64, Duplicates: math.MinInt64, Bad: math.MinInt64, More: true}).Encode()
	if err != nil { // a string and numbers always encode
		panic(err)
	}
	return len(data) + len(`,"late_counts":{}`) + len(`,"video_counts":{}`)
}

// widestKey is an int64 map key at its widest, quotes included.
const widestKey = len(`"-9223372036854775808"`)

// LateKeyBytes is an upper bound on what counting one late record of
// (match, emoji) from an origin window adds to a partial's late_counts,
// whatever the count becomes: the origin's object if newWindow, the
// match's object in it if newMatch, and the emoji's member. The record's
// key in Counts is CountKeyBytes as for any record.
func LateKeyBytes(match, emoji string, newWindow, newMatch bool) int {
	n := CountKeyBytes(match, emoji, newMatch)
	if newWindow {
		n += widestKey + len(":{},")
	}
	return n
}

// maxCountDigits is the width of the widest int64, sign included.
const maxCountDigits = 20

// CountKeyBytes is an upper bound on what adding the key (match, emoji) to
// a partial's counts adds to its JSON encoding, whatever the count becomes:
// the emoji's member ("emoji":count,) and, if newMatch, the match's object
// ("match":{},). Added up from PartialBaseBytes over a partial's keys, it
// bounds the partial's encoding.
func CountKeyBytes(match, emoji string, newMatch bool) int {
	n := JSONStringBytes(emoji) + len(":,") + maxCountDigits
	if newMatch {
		n += JSONStringBytes(match) + len(":{},")
	}
	return n
}

// JSONStringBytes is an upper bound on the length of s encoded as a JSON
// string by encoding/json, quotes included: control characters, the HTML
// characters <, > and &, U+2028, U+2029 and every byte of invalid UTF-8
// take 6 bytes (\uXXXX), '"' and '\\' take 2.
func JSONStringBytes(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 6
		case r == '\u2028' || r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}

// NextOffset is the first offset after the records this partial covers.
func (p *Partial) NextOffset() int64 { return p.LastOffset + 1 }

// MsgID is the partial's Nats-Msg-Id: the same partial published twice is
// stored once.
func (p *Partial) MsgID() string {
	return p.Topic + "/" + strconv.Itoa(int(p.Partition)) + "/" + strconv.FormatInt(p.WindowStartMs, 10) +
		"/" + strconv.FormatInt(p.FirstOffset, 10) + "-" + strconv.FormatInt(p.LastOffset, 10)
}

// ErrWindowRange is what Validate returns, wrapped, for a partial that
// names a window outside years 0000 to 9999 (WindowInRange) and is
// otherwise valid. Bridges published one for a record whose received_at
// was absurd before they bounded receive times; a swarm of such a window
// cannot be encoded.
var ErrWindowRange = errors.New("wire: partial: window outside years 0000-9999")

// Validate checks the invariants a processor relies on. Every window a
// valid partial names, its own, its late and its video windows, is in
// years 0000 to 9999, so a swarm of any of them can be encoded.
func (p *Partial) Validate() error {
	switch {
	case p.Partition < 0:
		return fmt.Errorf("wire: partial: negative partition %d", p.Partition)
	case p.WindowMs <= 0 || p.WindowStartMs%p.WindowMs != 0:
		return fmt.Errorf("wire: partial: window %d+%dms is not aligned", p.WindowStartMs, p.WindowMs)
	case p.FirstOffset < 0 || p.LastOffset < p.FirstOffset-1:
		return fmt.Errorf("wire: partial: offsets %d..%d", p.FirstOffset, p.LastOffset)
	}
	for match, emojis := range p.Counts {
		if err := CheckMatchID(match); err != nil {
			return fmt.Errorf("wire: partial: match %w", err)
		}
		for e, n := range emojis {
			if n <= 0 || e == "" {
				return fmt.Errorf("wire: partial: count %q/%q = %d", match, e, n)
			}
		}
	}
	if err := p.validateLate(); err != nil {
		return err
	}
	if err := p.validateVideo(); err != nil {
		return err
	}
	return p.validateRange()
}

// validateRange checks that the partial's window is in years 0000 to
// 9999 (ErrWindowRange), so that its swarm can be encoded. The late and
// video windows it names are keys of integers in every answer, and an
// older bridge could count a record with a negative received_at late
// under a window before year 0000: refusing the whole partial for that
// would drop every count in it.
func (p *Partial) validateRange() error {
	if !WindowInRange(p.WindowStartMs, p.WindowMs) {
		return fmt.Errorf("%w: window %d+%dms", ErrWindowRange, p.WindowStartMs, p.WindowMs)
	}
	return nil
}

// validateVideo checks VideoCounts: aligned windows other than the
// partial's, positive counts, and, per match and emoji, no more moved
// than counted.
func (p *Partial) validateVideo() error {
	if len(p.VideoCounts) > MaxPartialVideoWindows {
		return fmt.Errorf("wire: partial: %d video windows, over %d", len(p.VideoCounts), MaxPartialVideoWindows)
	}
	sums := Counts{}
	for w, c := range p.VideoCounts {
		if w == p.WindowStartMs || w%p.WindowMs != 0 {
			return fmt.Errorf("wire: partial: video window %d of window %d+%dms", w, p.WindowStartMs, p.WindowMs)
		}
		for match, emojis := range c {
			for e, n := range emojis {
				if n <= 0 || n > p.Counts[match][e]-sums[match][e] {
					return fmt.Errorf("wire: partial: video count %d/%q/%q = %d: not positive, or more than counted",
						w, match, e, n)
				}
				sums.Add(match, e, n)
			}
		}
	}
	return nil
}

// validateLate checks LateCounts: earlier aligned windows, positive
// counts, and, per match and emoji, no more late than counted.
func (p *Partial) validateLate() error {
	sums := Counts{}
	for origin, c := range p.LateCounts {
		if origin >= p.WindowStartMs || origin%p.WindowMs != 0 {
			return fmt.Errorf("wire: partial: late window %d of window %d+%dms", origin, p.WindowStartMs, p.WindowMs)
		}
		for match, emojis := range c {
			for e, n := range emojis {
				if n <= 0 || n > p.Counts[match][e]-sums[match][e] {
					return fmt.Errorf("wire: partial: late count %d/%q/%q = %d: not positive, or more late than counted",
						origin, match, e, n)
				}
				sums.Add(match, e, n)
			}
		}
	}
	return nil
}

// Encode returns the partial's JSON, the body of its message; nil Counts
// encode as {}. DecodePartial reads it back.
func (p *Partial) Encode() ([]byte, error) {
	if p.Counts == nil {
		c := *p
		c.Counts = Counts{}
		p = &c
	}
	return json.Marshal(p)
}

// DecodePartial parses and validates a partial.
func DecodePartial(data []byte) (*Partial, error) {
	p, err := decode[Partial]("partial", data)
	if err != nil {
		return nil, err
	}
	return p, p.Validate()
}
