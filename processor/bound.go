package processor

import (
	"slices"

	"github.com/emostream/emostream/wire"
)

// swarmBound is what tallyOf keeps a swarm's encoding under: an upper
// bound built from the wire.Swarm*Bytes parts, at most max.
type swarmBound struct {
	max  int
	base int // wire.SwarmBaseBytes("")
	// moment is what one moment of the match adds (wire.MomentBytes with
	// the match's name left out); shares caps the share moments.
	moment, shares int
	moments        bool // the moment rule is on
}

func newSwarmBound(max int, r MomentRule) *swarmBound {
	b := &swarmBound{max: max, base: wire.SwarmBaseBytes(""), moment: wire.MomentBytes(""), moments: !r.Disable}
	if r.Share < 1 {
		b.shares = int(min(1/r.Share, 1<<20)) // each share moment has at least this share
	}
	return b
}

// of is the bound of match's swarm with the emojis of counts and carry,
// and partitions partitions, before late windows.
func (b *swarmBound) of(match string, emojis, partitions int) int {
	n := b.base + wire.JSONStringBytes(match) - 2 + partitions*wire.SwarmPartitionBytes
	if b.moments {
		nameBytes := wire.JSONStringBytes(match) - 2
		n += (1 + min(b.shares, emojis)) * (b.moment + nameBytes)
	}
	return n
}

// sizer keeps the bound of a tally's swarm as entries are taken.
type sizer struct {
	t      *tally
	b      *swarmBound
	match  string
	st     *matchState
	size   int
	emojis int     // distinct emojis of counts and carry
	fresh  []int64 // late windows new with the entry being sized
	// freshVideo are the video windows new with the entry being sized.
	freshVideo []int64
}

// holds reports whether match's swarm of t (built on st) is within b.
func (b *swarmBound) holds(t *tally, match string, st *matchState) bool {
	parts := len(t.offsets)
	for p := range t.partials {
		if _, ok := t.offsets[p]; !ok {
			parts++
		}
	}
	emojis := len(t.counts)
	for e := range st.carry {
		if _, ok := t.counts[e]; !ok {
			emojis++
		}
	}
	n := b.of(match, emojis, parts)
	for e := range t.counts {
		n += wire.SwarmEmojiBytes(e)
	}
	for e := range st.carry {
		if _, ok := t.counts[e]; !ok {
			n += wire.SwarmEmojiBytes(e)
		}
	}
	for _, ws := range []map[int64]map[string]int64{t.lateWindows, t.videoWindows} {
		for _, c := range ws {
			n += wire.LateWindowBytes
			for e := range c {
				n += wire.EmojiMemberBytes(e)
			}
		}
	}
	return n <= b.max
}

func newSizer(t *tally, match string, st *matchState, b *swarmBound) *sizer {
	sz := &sizer{t: t, b: b, match: match, st: st}
	if b == nil {
		return sz
	}
	parts := len(t.offsets)
	for p := range t.partials {
		if _, ok := t.offsets[p]; !ok {
			parts++
		}
	}
	sz.emojis = len(st.carry)
	sz.size = b.of(match, sz.emojis, parts)
	for e := range st.carry {
		sz.size += wire.SwarmEmojiBytes(e)
	}
	return sz
}

// fits reports whether taking e (its counts for the match c) keeps the
// swarm within the bound, and if so counts what e adds; video says
// whether with e's program-time moves. first takes e whatever it adds,
// but its program-time moves only if they fit: hostile video_ts values
// can cost the program-time view its moves, never the swarm its bound.
func (sz *sizer) fits(e *entry, c map[string]int64, first bool) (ok, video bool) {
	if sz.b == nil {
		return true, true
	}
	t, add := sz.t, 0
	if _, ok := t.offsets[e.p.Partition]; !ok {
		if _, ok := t.partials[e.p.Partition]; !ok {
			add += wire.SwarmPartitionBytes
		}
	}
	newEmojis := 0
	for emoji := range c {
		if _, ok := t.counts[emoji]; !ok {
			if _, ok := sz.st.carry[emoji]; !ok {
				add += wire.SwarmEmojiBytes(emoji)
				newEmojis++
			}
		}
	}
	if sz.b.moments { // room for more share moments
		have := sz.emojis
		add += (min(sz.b.shares, have+newEmojis) - min(sz.b.shares, have)) * (sz.b.moment + wire.JSONStringBytes(sz.match) - 2)
	}
	sz.fresh = sz.fresh[:0]
	e.lateParts(sz.match, c, func(origin int64, emoji string, _ int64) {
		lw, ok := t.lateWindows[origin]
		if !ok && !slices.Contains(sz.fresh, origin) {
			sz.fresh = append(sz.fresh, origin)
			add += wire.LateWindowBytes
		}
		if _, ok := lw[emoji]; !ok {
			add += wire.EmojiMemberBytes(emoji)
		}
	})
	vadd := sz.videoGrowth(e, c)
	video = sz.size+add+vadd <= sz.b.max
	if !first && !video {
		return false, false
	}
	if video {
		add += vadd
	}
	sz.size += add
	sz.emojis += newEmojis
	return true, video
}

// videoGrowth is what taking e (its counts for the match c) adds to the
// swarm's video_windows.
func (sz *sizer) videoGrowth(e *entry, c map[string]int64) int {
	add := 0
	sz.freshVideo = sz.freshVideo[:0]
	e.videoParts(sz.match, c, sz.t.start, func(window int64, emoji string, _ int64) {
		vw, ok := sz.t.videoWindows[window]
		if !ok && !slices.Contains(sz.freshVideo, window) {
			sz.freshVideo = append(sz.freshVideo, window)
			add += wire.LateWindowBytes
		}
		if _, ok := vw[emoji]; !ok { // videoParts names each (window, emoji) of an entry once
			add += wire.EmojiMemberBytes(emoji)
		}
	})
	return add
}
