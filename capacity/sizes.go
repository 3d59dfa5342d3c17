package capacity

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emostream/emostream/wire"
)

// Message sizes, from the real encoders (wire) on representative values:
// what a busy production match looks like, not the benchmarks' short ids.

// recordValue is a production event as Kafka keeps it: a UUID user, a
// 32-hex event id (the web client's), a client timestamp.
var recordValue = wire.Record{EventID: strings.Repeat("5f", 16), UserID: "8c4f1e2a-3b5d-4c6e-9f70-812a3b4c5d6e",
	MatchID: "final-2026", EmojiType: "🔥", ClientTS: 1795410000123, ReceivedAt: 1795410000456}

// RecordBytes is one event's bytes on a broker's disk and on the wire to
// and from it, when a produce request carries perBatch of them: value, key
// (the user id), the record's header and its share of the batch's.
func RecordBytes(perBatch float64) float64 {
	return float64(len(recordValue.AppendJSON(nil))+len(recordValue.UserID)) + KafkaRecordOverheadBytes + KafkaBatchOverheadBytes/max(perBatch, 1)
}

// windowTime is a window start of a late date (the longest numbers).
var windowTime = time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)

// SwarmBytes is one swarm's JSON: every emoji of the allow-list counted,
// in units and carried, an offset and a partial sequence per partition,
// and every emoji counted in each of videoWindows program-time windows
// (video_windows), as the processor writes them.
func SwarmBytes(partitions, videoWindows int) int {
	return byEntries(partitions, 2, func(n int) int { return swarmBytes(n, partitions, videoWindows) })
}

// swarmBytes is the encoded swarm of SwarmBytes with the offsets and
// partial sequences of only its first n partitions.
func swarmBytes(n, partitions, videoWindows int) int {
	s := wire.Swarm{MatchID: "final-2026", WindowStart: windowTime, WindowEnd: windowTime.Add(Window),
		Counts: map[string]int64{}, Swarm: map[string]int64{}, Carry: map[string]int64{},
		Total: 1_234_567, Partitions: partitions, ClosedBy: "all_partitions",
		PublishedAt: windowTime.Add(Window + 41*time.Millisecond), Viewers: 12_345_678,
		Offsets: map[int32]int64{}, Partials: map[int32]uint64{}}
	for _, e := range wire.DefaultEmojis[:Emojis] {
		s.Counts[e], s.Swarm[e], s.Carry[e] = 123_456, 123, 456
	}
	for p := range int32(n) {
		s.Offsets[p], s.Partials[p] = 12_345_678_901, 123_456_789
	}
	if videoWindows > 0 {
		s.VideoWindows = map[int64]map[string]int64{}
	}
	for i := range videoWindows {
		c := map[string]int64{}
		for _, e := range wire.DefaultEmojis[:Emojis] {
			c[e] = 1_234
		}
		s.VideoWindows[videoWindow(i)] = c
	}
	b, err := s.Encode()
	if err != nil {
		panic(fmt.Sprintf("capacity: encoding a swarm: %v", err))
	}
	return len(b)
}

// videoWindow is the start of the i-th program-time window before
// windowTime, as SwarmBytes and PartialBytes name them.
func videoWindow(i int) int64 { return windowTime.Add(-time.Duration(i+1) * Window).UnixMilli() }

// FrameBytes is what an edge writes to a viewer for one swarm: the NATS
// MSG line (subject, sid "1", size) and the swarm in one WebSocket frame.
func FrameBytes(partitions, videoWindows int) int {
	n := SwarmBytes(partitions, videoWindows)
	line := len("MSG "+wire.LiveSubject("final-2026")+" 1 "+strconv.Itoa(n)) + 2 + n + 2
	switch {
	case line < 126:
		return line + 2
	case line <= 0xffff:
		return line + 4
	}
	return line + 10
}

// WireBytes adds TCP/IP (40 bytes a 1,448-byte segment, 52 with
// timestamps) and TLS (29 bytes a record) to n bytes of payload.
func WireBytes(n int) float64 {
	segments := (n + 1447) / 1448
	return float64(n + 52*segments + 29)
}

// PartialBytes is one partial of a partition and window that counted
// every emoji of every match, in its own window and in each of
// videoWindows program-time windows (video_counts).
func PartialBytes(matches, videoWindows int) int {
	return byEntries(matches, 1+videoWindows, func(n int) int { return partialBytes(n, videoWindows) })
}

// partialBytes is the encoded partial of PartialBytes.
func partialBytes(matches, videoWindows int) int {
	p := wire.Partial{Topic: wire.DefaultTopic, Partition: 123, WindowStartMs: windowTime.UnixMilli(),
		WindowMs: Window.Milliseconds(), FirstOffset: 12_345_678_901, LastOffset: 12_345_699_999, Counts: wire.Counts{}}
	if videoWindows > 0 {
		p.VideoCounts = map[int64]wire.Counts{}
	}
	for i := range videoWindows {
		p.VideoCounts[videoWindow(i)] = wire.Counts{}
	}
	for m := range matches {
		for _, e := range wire.DefaultEmojis[:Emojis] {
			p.Counts.Add("match-"+strconv.Itoa(m), e, 1234)
			for _, c := range p.VideoCounts {
				c.Add("match-"+strconv.Itoa(m), e, 12)
			}
		}
	}
	b, err := p.Encode()
	if err != nil {
		panic(fmt.Sprintf("capacity: encoding a partial: %v", err))
	}
	return len(b)
}

// byEntries is the size of an encoding that holds n entries keyed by the
// numbers 0 to n-1 (partitions; matches "match-0" on), each key written
// keys times, from encoded, the real encoder's size at a number of
// entries: every entry after the second adds what the second did, and a
// byte a key for each digit its number has past the first. The encoders
// run on two entries, not n: a partial of 10,000 matches in 31 windows
// built whole was half a gigabyte (TestSizesByEntries checks the sum
// against the encoders across the digit boundaries).
func byEntries(n, keys int, encoded func(n int) int) int {
	if n <= 2 {
		return encoded(n)
	}
	one, two := encoded(1), encoded(2)
	return one + (n-1)*(two-one) + keys*extraDigits(n)
}

// extraDigits is the digits the numbers 0 to n-1 have past their first.
func extraDigits(n int) int {
	sum := 0
	for p := 10; p < n; p *= 10 {
		sum += n - p
	}
	return sum
}
