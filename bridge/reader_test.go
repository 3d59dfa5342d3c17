package bridge

import (
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/emostream/emostream/wire"
)

// readAt is the bridge's clock in the tests of the fetcher's decoding.
const readAt = 1_795_410_001_500

// A record is windowed by its received_at when that is positive and at
// most one window ahead of the bridge's clock, else by the clock.
func TestSaneReceiveTime(t *testing.T) {
	const lead = 2000
	year9999 := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).UnixMilli()
	tests := []struct {
		receivedAt int64
		want       bool
	}{
		{readAt, true}, {readAt - 3_600_000, true}, {1, true}, {readAt + lead, true},
		{0, false}, {-1, false}, {math.MinInt64, false},
		{readAt + lead + 1, false}, {readAt + 3_600_000, false}, {year9999, false}, {math.MaxInt64, false},
	}
	for _, tt := range tests {
		if got := saneReceiveTime(tt.receivedAt, readAt, lead); got != tt.want {
			t.Errorf("saneReceiveTime(%d, %d, %d) = %v, want %v", tt.receivedAt, int64(readAt), int64(lead), got, tt.want)
		}
	}
}

// recordValue is a record of final-2026 received at receivedAt, with a
// video_ts unless it is 0.
func recordValue(receivedAt, videoTS int64) []byte {
	return (&wire.Record{UserID: "u", MatchID: "final-2026", EmojiType: "🔥", ReceivedAt: receivedAt, VideoTS: videoTS}).AppendJSON(nil)
}

// Whatever a record's value holds, the fetcher windows it by a receive
// time in (0, clock + one window] (its received_at if that is sane,
// saneReceiveTime), so every window a partial names can be encoded and is
// one the partition's tick closes in time; a video_ts it keeps is within
// its bounds of that receive time.
func FuzzRecordReceiveTime(f *testing.F) {
	year9999 := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).UnixMilli()
	for _, at := range []int64{readAt, 0, 1, -1, math.MinInt64, math.MaxInt64, year9999, readAt + 2000, readAt + 2001} {
		f.Add(recordValue(at, 0))
		f.Add(recordValue(at, at-1000))
	}
	f.Add(recordValue(year9999, readAt))
	f.Add([]byte(`{"match_id":"m","emoji_type":"🔥","received_at":-9223372036854775808,"video_ts":9223372036854775807}`))
	f.Add([]byte(`{"match_id":"m","emoji_type":"🔥"}`))
	f.Add([]byte(`not a record`))
	const lead = 2000
	fe := &fetcher{log: slog.New(slog.DiscardHandler), leadMs: lead}
	f.Fuzz(func(t *testing.T, value []byte) {
		it := fe.item(7, value, readAt)
		if it.tsMs <= 0 || it.tsMs > readAt+lead {
			t.Fatalf("windowed at %d, read at %d", it.tsMs, int64(readAt))
		}
		var r wire.Record
		if err := wire.DecodeRecord(value, &r); err == nil && len(r.EmojiType) <= wire.MaxEmojiBytes {
			sane := saneReceiveTime(r.ReceivedAt, readAt, lead)
			if sane && it.tsMs != r.ReceivedAt || !sane && it.tsMs != readAt || it.retimed != (!sane && r.ReceivedAt != 0) {
				t.Fatalf("received_at %d windowed at %d (retimed %v), read at %d", r.ReceivedAt, it.tsMs, it.retimed, int64(readAt))
			}
		}
		for _, at := range []int64{it.tsMs, it.videoMs} {
			if ws := wire.WindowStart(at, lead); at != 0 && !wire.WindowInRange(ws, lead) {
				t.Fatalf("window %d of %d cannot be encoded", ws, at)
			}
		}
		if it.videoMs != 0 && !wire.VideoInRange(it.videoMs, it.tsMs) {
			t.Fatalf("video_ts %d kept for a record windowed at %d", it.videoMs, it.tsMs)
		}
	})
}
