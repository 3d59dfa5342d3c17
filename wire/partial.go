package wire

import (
	"encoding/json"
	"fmt"
	"strconv"
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
	// Duplicates counts records dropped because their event_id was seen
	// before (not in Counts).
	Duplicates int64 `json:"duplicates,omitempty"`
	// Bad counts records that could not be decoded (not in Counts).
	Bad int64 `json:"bad,omitempty"`
}

// NextOffset is the first offset after the records this partial covers.
func (p *Partial) NextOffset() int64 { return p.LastOffset + 1 }

// MsgID is the partial's Nats-Msg-Id: the same partial published twice is
// stored once.
func (p *Partial) MsgID() string {
	return p.Topic + "/" + strconv.Itoa(int(p.Partition)) + "/" + strconv.FormatInt(p.WindowStartMs, 10) +
		"/" + strconv.FormatInt(p.FirstOffset, 10) + "-" + strconv.FormatInt(p.LastOffset, 10)
}

// Validate checks the invariants a processor relies on.
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
		if !ValidMatchID(match) {
			return fmt.Errorf("wire: partial: match %q", match)
		}
		for e, n := range emojis {
			if n <= 0 || e == "" {
				return fmt.Errorf("wire: partial: count %q/%q = %d", match, e, n)
			}
		}
	}
	return nil
}

// DecodePartial parses and validates a partial.
func DecodePartial(data []byte) (*Partial, error) {
	var p Partial
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("wire: partial: %w", err)
	}
	return &p, p.Validate()
}
