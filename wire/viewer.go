package wire

import (
	"encoding/json"
	"time"
)

// The viewer protocol beyond the live subject (docs/api.md, "Viewer
// protocol"). A viewer reads a match's stored swarms with JetStream direct
// gets on SwarmsStream, which a leaf cluster forwards to the hub and an edge
// answers itself:
//
//   - latest: a request to LatestSwarmRequest(match) with an empty body
//     answers the match's last stored swarm, or a "Status: 404" header;
//   - next: a request to SwarmsGet with the body SwarmsAfter(match, seq)
//     answers the match's first stored swarm at stream sequence seq or
//     later, or 404. Every stored swarm carries its stream sequence in the
//     Nats-Sequence header (direct-get answers and live republishes alike),
//     so a viewer that missed windows asks for lastSeq+1 until it reaches
//     the live one.
const (
	// SwarmsGet is the direct-get subject that takes a JSON body
	// (SwarmsAfter).
	SwarmsGet = jsAPIPrefix + "DIRECT.GET." + SwarmsStream
	// SeqHeader carries a stored swarm's stream sequence.
	SeqHeader = "Nats-Sequence"
)

// SwarmsAfter is the body of a SwarmsGet request for match's first swarm at
// stream sequence seq or later.
func SwarmsAfter(match string, seq uint64) []byte {
	b, _ := json.Marshal(struct {
		Seq  uint64 `json:"seq"`
		Next string `json:"next_by_subj"`
	}{seq, SwarmSubject(match)})
	return b
}

// Occupancy is an edge's report of its viewers, published on
// ViewersSubject(edge) every Interval; each report replaces the edge's
// previous one for the matches it names. Matches holds only matches with
// viewers, each counted as the connections watching it (one connection is
// one viewer, however many subscriptions it has); an edge with many
// matches sends several reports per interval, each with at most
// MaxOccupancyMatches of them. MaxConnections is the edge's connection
// cap, which no count can exceed (0: not said).
type Occupancy struct {
	Edge           string           `json:"edge"`
	At             time.Time        `json:"at"`
	Interval       time.Duration    `json:"interval_ns"`
	MaxConnections int64            `json:"max_connections,omitempty"`
	Matches        map[string]int64 `json:"matches"`
}

// MaxOccupancyMatches bounds the matches of one Occupancy message (≤ ~80 KiB).
const MaxOccupancyMatches = 1000

// ViewersSubjects matches every edge's occupancy reports.
const ViewersSubjects = "emostream.viewers.>"

// ViewersSubject is the subject of edge's occupancy reports.
func ViewersSubject(edge string) string { return "emostream.viewers." + edge }

// Moment is a crowd surge the processor detected, published on
// MomentSubject(match) and kept with the match.
type Moment struct {
	MatchID     string    `json:"match_id"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// Emoji is the emoji that surged, or "" when the window's total did.
	Emoji string `json:"emoji,omitempty"`
	// Size is the surging count (the emoji's or the window's total).
	Size int64 `json:"size"`
	// Ratio is Size over the trailing baseline the rule compares with.
	Ratio float64 `json:"ratio"`
	// Rule names the rule that fired ("total" or "share").
	Rule string `json:"rule"`
}

// MomentsSubjects matches every match's moments.
const MomentsSubjects = "emostream.moments.>"

// MomentSubject is the subject of match's moments.
func MomentSubject(match string) string { return "emostream.moments." + match }
