package bridge

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/emostream/emostream/wire"
)

// A record with a video_ts counts, in the partial's video_counts, in the
// window containing it when that is not the partial's window; one whose
// video_ts falls in the partial's window moves nothing.
func TestWindowerVideoCounts(t *testing.T) {
	w := newWindower("t", 0, 2000, 100, 0, noFloor, 1<<20)
	w.addVideo(0, 40_500, 21_000, "m", "🔥", counted) // 20 s behind: window 20000
	w.addVideo(1, 40_600, 41_900, "m", "🔥", counted) // its own window: no move
	w.addVideo(2, 40_700, 21_500, "m", "👏", counted)
	w.addVideo(3, 40_800, 21_500, "m", "👏", duplicate) // not counted, not moved
	w.addVideo(4, 40_900, 0, "m", "🔥", counted)        // no video_ts: no move
	p := w.add(5, 42_000, "m", "🔥", counted)
	if p == nil {
		t.Fatal("no partial at the next window")
	}
	want := map[int64]wire.Counts{20_000: {"m": {"🔥": 1, "👏": 1}}}
	if !maps.EqualFunc(p.VideoCounts, want, func(a, b wire.Counts) bool { return a.Total() == b.Total() && a["m"]["🔥"] == b["m"]["🔥"] }) {
		t.Errorf("video_counts %v, want %v", p.VideoCounts, want)
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}

// A record of one program-time window more than wire.MaxPartialVideoWindows
// splits the partial, and every partial stays valid.
func TestWindowerVideoWindowsSplit(t *testing.T) {
	w := newWindower("t", 0, 2000, 100, 0, noFloor, 1<<20)
	var parts []*wire.Partial
	for i := int64(0); i <= wire.MaxPartialVideoWindows; i++ {
		if p := w.addVideo(i, 200_500, 100_000+2000*i, "m", "🔥", counted); p != nil {
			parts = append(parts, p)
		}
	}
	if len(parts) != 1 || !parts[0].More || len(parts[0].VideoCounts) != wire.MaxPartialVideoWindows {
		t.Fatalf("want one split partial of %d video windows, got %+v", wire.MaxPartialVideoWindows, parts)
	}
	if err := parts[0].Validate(); err != nil {
		t.Error(err)
	}
	if len(w.cur.VideoCounts) != 1 {
		t.Errorf("open partial's video windows %v, want the one that split", w.cur.VideoCounts)
	}
}

// Records of one match spread over many program-time windows and emojis
// (hostile video_ts values) split the partial before its video_counts of
// that match would add more than wire.MaxPartialVideoBytes to the match's
// swarm: the first partial a swarm must take always fits it.
func TestWindowerVideoBytesPerMatchBounded(t *testing.T) {
	w := newWindower("t", 0, 2000, 100, 0, noFloor, 1<<20)
	var emojis []string // 8 emojis of the longest spelling
	for i := range 8 {
		emojis = append(emojis, fmt.Sprint(i)+strings.Repeat("<", wire.MaxEmojiBytes-1))
	}
	var parts []*wire.Partial
	off := int64(0)
	for v := range 31 {
		for _, e := range emojis {
			if p := w.addVideo(off, 200_500, 200_000-2000*int64(v+1), "m", e, counted); p != nil {
				parts = append(parts, p)
			}
			off++
		}
	}
	if len(parts) == 0 {
		t.Fatal("31 windows × 8 long emojis in one partial: no split")
	}
	for _, p := range parts {
		size := 0
		for _, c := range p.VideoCounts {
			size += wire.LateWindowBytes
			for e := range c["m"] {
				size += wire.EmojiMemberBytes(e)
			}
		}
		if size > wire.MaxPartialVideoBytes || !p.More {
			t.Errorf("partial %d-%d: video windows of %d bytes (bound %d), more %v", p.FirstOffset, p.LastOffset, size, wire.MaxPartialVideoBytes, p.More)
		}
	}
}

// BenchmarkWindowerVideo counts records into a partial, without video_ts
// and with video_ts spread over the 31 windows of the last minute (the
// program-time windows of viewers 0-60 s behind live).
//
//	go test ./bridge -run '^$' -bench WindowerVideo -count 5
func BenchmarkWindowerVideo(b *testing.B) {
	emojis := []string{"🔥", "👏", "😂", "😮"}
	for _, spread := range []int64{0, 31} {
		b.Run(fmt.Sprintf("windows=%d", spread), func(b *testing.B) {
			w := newWindower("t", 0, 2000, 100, 0, noFloor, 256<<10)
			var off int64
			b.ReportAllocs()
			for b.Loop() {
				var v int64
				if spread > 0 {
					v = 200_000 - 2000*(off%spread)
				}
				w.addVideo(off, 200_500, v, "final-2026", emojis[off%4], counted)
				off++
			}
		})
	}
}
