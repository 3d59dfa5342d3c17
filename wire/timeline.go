package wire

import (
	"fmt"
	"strconv"
	"time"
)

// The timeline: besides each swarm, the processor stores in TimelineStream
// a compact count record per match per window and, as each minute and each
// five minutes of a match close, a rollup of them, so a match's whole story
// can be read long after its swarms were dropped (docs/design.md,
// "Timeline").
const (
	// TimelineStream is the JetStream stream of timeline records and
	// moments.
	TimelineStream = "EMOSTREAM_TIMELINE"
	// TimelineSubjects matches every timeline record.
	TimelineSubjects = "emostream.timeline.>"
	timelinePrefix   = "emostream.timeline."
	// TimelineWindows names the subject of a match's window records.
	TimelineWindows = "w"
	// TimelineLate names the subject of a match's late records: which
	// earlier windows a window record's late counts were received in.
	TimelineLate = "late"
	// TimelineVideo names the subject of a match's video records: which
	// windows a window record's counts belong to by program time (the
	// swarm's video_windows), in the format of a late record.
	TimelineVideo = "video"
)

// RollupSteps are the steps the processor writes rollups of, shortest
// first; each is a multiple of the one before, all aligned to the epoch.
var RollupSteps = []time.Duration{time.Minute, 5 * time.Minute}

// StepName is the subject token and API name of a step: "2s", "1m", "5m".
func StepName(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(d.Milliseconds()/1000, 10) + "s"
}

// TimelineSubject is the subject of match's records of one kind:
// TimelineWindows or a rollup step's StepName.
func TimelineSubject(match, kind string) string {
	return timelinePrefix + match + "." + kind
}

// TimelineRecord is one record of the timeline: the counts of one window
// of a match (on TimelineSubject(match, TimelineWindows)) or of one rollup
// step (on TimelineSubject(match, StepName(step))), as its swarms counted
// them:
//
//	{"s":1795410000000,"c":{"🔥":12,"👏":3},"t":15,"q":4711,"l":2}
//
// S is the start in Unix milliseconds, C the counts per emoji and T their
// sum. A window record carries Q, the stream sequence of its swarm in
// SwarmsStream, and L, its swarm's late (the part of T received in earlier
// windows); a rollup carries A and Z, the stream sequences in
// TimelineStream of the first and last window records it sums.
//
// A window record with late counts is followed by a late record on
// TimelineSubject(match, TimelineLate), its swarm's late_windows: the
// window each late count was received in (the window its 202 named):
//
//	{"s":1795410002000,"q":4711,"w":{"1795410000000":{"🔥":2}}}
//
// A window record whose swarm has video_windows is followed (after its
// late record) by a video record on TimelineSubject(match, TimelineVideo),
// a LateRecord of its swarm's video_windows: the window each count belongs
// to by the program time of the frame its viewer saw.
type TimelineRecord struct {
	Start  int64            `json:"s"`
	Counts map[string]int64 `json:"c"`
	Total  int64            `json:"t"`
	Swarm  uint64           `json:"q,omitempty"`
	First  uint64           `json:"a,omitempty"`
	Last   uint64           `json:"z,omitempty"`
	Late   int64            `json:"l,omitempty"`
	// Video is, on a window record, the sum of its swarm's video_windows:
	// a video record follows it when it is not 0.
	Video int64 `json:"v,omitempty"`
}

// TimelineAnswer is the JSON answer of GET /v1/matches/{id}/timeline
// (docs/api.md, "Timeline"): ingest writes it one step at a time as it reads
// them, and clients (package client, "emostream timeline") decode it. Steps
// without reactions are left out; Moments are the match's crowd moments
// whose window starts in the range.
type TimelineAnswer struct {
	Match   string           `json:"match_id"`
	Step    string           `json:"step"` // StepName of the step: "2s", "10s", "1m", "5m"
	By      string           `json:"by"`   // "named", "arrival" or "video"
	From    time.Time        `json:"from"`
	To      time.Time        `json:"to"`
	Steps   []TimelineStep   `json:"steps"`
	Totals  map[string]int64 `json:"totals"`
	Total   int64            `json:"total"`
	Moments []Moment         `json:"moments"`
}

// TimelineStep is one step of a TimelineAnswer: the reactions per emoji
// counted in the windows that start from Start up to End, and their sum.
type TimelineStep struct {
	Start  time.Time        `json:"start"`
	End    time.Time        `json:"end"`
	Counts map[string]int64 `json:"counts"`
	Total  int64            `json:"total"`
}

// LateRecord is a late record (see TimelineRecord): the window record of
// the window starting at Start holds late counts, and Windows says which
// earlier window each was received in, keyed by its start in Unix ms.
// Swarm is the sequence of the swarm it comes from.
type LateRecord struct {
	Start   int64                      `json:"s"`
	Swarm   uint64                     `json:"q"`
	Windows map[int64]map[string]int64 `json:"w"`
}

// DecodeLateRecord parses a late record.
func DecodeLateRecord(data []byte) (*LateRecord, error) {
	return decode[LateRecord]("late record", data)
}

// TimelineMsgID is the Nats-Msg-Id of match's record of kind starting at
// startMs: each is stored once.
func TimelineMsgID(match, kind string, startMs int64) string {
	return match + "/" + kind + "/" + strconv.FormatInt(startMs, 10)
}

// MomentMsgID is the Nats-Msg-Id of a moment.
func MomentMsgID(m *Moment) string {
	return m.MatchID + "/moment/" + strconv.FormatInt(m.WindowStart.UnixMilli(), 10) + "/" + m.Rule + "/" + m.Emoji
}

// DecodeTimelineRecord parses a timeline record.
func DecodeTimelineRecord(data []byte) (*TimelineRecord, error) {
	return decode[TimelineRecord]("timeline record", data)
}

// DecodeMoment parses a moment.
func DecodeMoment(data []byte) (*Moment, error) {
	return decodeMatch[Moment]("moment", data, func(m *Moment) string { return m.MatchID })
}

// ScanTimelineRecord reads a timeline record as DecodeTimelineRecord does,
// several times faster and without allocating: the counts are not stored
// in the result but passed to count, emoji valid only during the call.
func ScanTimelineRecord(data []byte, count func(emoji []byte, n int64)) (TimelineRecord, error) {
	var r TimelineRecord
	s := scanner{data: data}
	err := s.document(func(key []byte) error {
		var err error
		switch string(key) {
		case "s":
			r.Start, err = s.integer()
		case "t":
			r.Total, err = s.integer()
		case "q":
			r.Swarm, err = s.sequence()
		case "a":
			r.First, err = s.sequence()
		case "z":
			r.Last, err = s.sequence()
		case "l":
			r.Late, err = s.integer()
		case "v":
			r.Video, err = s.integer()
		case "c":
			err = s.object(func(emoji []byte) error {
				n, err := s.integer()
				if err == nil {
					count(emoji, n)
				}
				return err
			})
		default:
			err = s.skip(0)
		}
		return err
	})
	if err != nil {
		return r, fmt.Errorf("wire: timeline record: %w", err)
	}
	return r, nil
}

// ScanLateRecord reads a late record as DecodeLateRecord does, without
// allocating: each late count is passed to count (emoji valid only during
// the call) instead of stored in the result.
func ScanLateRecord(data []byte, count func(origin int64, emoji []byte, n int64)) (LateRecord, error) {
	var r LateRecord
	s := scanner{data: data}
	err := s.document(func(key []byte) error {
		var err error
		switch string(key) {
		case "s":
			r.Start, err = s.integer()
		case "q":
			r.Swarm, err = s.sequence()
		case "w":
			err = s.object(func(k []byte) error {
				origin, err := strconv.ParseInt(string(k), 10, 64) // as encoding/json reads an int64 key
				if err != nil {
					return errNotInt
				}
				return s.object(func(emoji []byte) error {
					n, err := s.integer()
					if err == nil {
						count(origin, emoji, n)
					}
					return err
				})
			})
		default:
			err = s.skip(0)
		}
		return err
	})
	if err != nil {
		return r, fmt.Errorf("wire: late record: %w", err)
	}
	return r, nil
}

// sequence reads a stream sequence: a non-negative integer.
func (s *scanner) sequence() (uint64, error) {
	n, err := s.integer()
	if err == nil && n < 0 {
		err = errNotInt
	}
	return uint64(n), err
}
