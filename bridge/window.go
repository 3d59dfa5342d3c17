package bridge

import (
	"math"
	"strings"
	"time"

	"github.com/emostream/emostream/wire"
)

// outcome is what became of one record.
type outcome uint8

const (
	counted   outcome = iota // counted in Counts
	bad                      // not decodable: counted in Bad
	duplicate                // event_id seen before: counted in Duplicates
)

// noFloor is the floor of a partition with no partial yet.
const noFloor = math.MinInt64

// notLate is the origin of a record counted in its own window. (A record
// whose window starts at MinInt64, received before year -292 million, is
// counted as if it were.)
const notLate int64 = math.MinInt64

// windower is one partition's window state: the open window, which collects
// records in offset order. It is pure (time comes in as arguments) and owned
// by the partition's worker goroutine.
//
// It keeps an upper bound on the open partial's JSON encoding (size), which
// grows with each new (match, emoji) key by wire.CountKeyBytes, and with
// each new key of a late record's origin window in late_counts by
// wire.LateKeyBytes. A key that would take it past maxBytes, or a late
// record from one origin window more than wire.MaxPartialLateWindows,
// splits the window: the open partial ends at the record before, with More
// set, and a new partial of the same window begins at the record, so no
// partial is ever larger than maxBytes or names more origin windows.
type windower struct {
	windowMs, closeDelayMs int64 // window length and close delay, ms
	// floor is the earliest window that may still open: the one after the
	// last window closed.
	floor int64
	open  bool
	cur   wire.Partial // the open window; LastOffset is the last offset read
	// maxBytes bounds a partial's encoding; base is the bound of one with
	// no counts and size that of cur.
	maxBytes, base, size int
	// videoBytes is, per match, what cur's video_counts add to the match's
	// swarm (wire.MaxPartialVideoBytes bounds it).
	videoBytes map[string]int
	// general turns the fast path of addVideo off (tests compare the two).
	general bool
	// hot holds counts of keys cur.Counts has, not yet added to it: the
	// fast path counts a repeated (match, emoji) in its slot without a map
	// lookup. flush adds them before anyone reads cur.
	hot [hotSlots]hotSlot
}

// hotSlots is the size of the windower's cache of counted keys: a match
// has a few emojis in use at a time, a partition a few matches.
const hotSlots = 64

// hotSlot is one key of the open partial with n counts not yet in it.
type hotSlot struct {
	match, emoji string
	n            int64
}

// hotSlotOf picks the slot of (match, emoji) from their lengths and last
// bytes, which tell a few matches and emojis apart cheaply; a collision
// only costs the map lookups of the way without the cache.
func hotSlotOf(match, emoji string) int {
	h := len(match)*7 + len(emoji)*13
	if match != "" {
		h += int(match[len(match)-1]) * 31
	}
	if emoji != "" {
		h += int(emoji[len(emoji)-1]) * 17
	}
	return h % hotSlots
}

// flush adds the counts held in hot to cur.Counts and empties hot (every
// key in it is in cur.Counts: again puts only such keys there).
func (w *windower) flush() {
	for i := range w.hot {
		w.settle(&w.hot[i])
		w.hot[i] = hotSlot{}
	}
}

// settle adds slot s's counts to cur.Counts.
func (w *windower) settle(s *hotSlot) {
	if s.n != 0 {
		w.cur.Counts[s.match][s.emoji] += s.n
	}
}

// newWindower returns the state of a partition whose next record is at
// offset next and whose windows before floor are closed. maxBytes must be at
// least minPartialBytes(topic).
func newWindower(topic string, partition int32, windowMs, closeDelayMs, next, floor int64, maxBytes int) *windower {
	w := &windower{windowMs: windowMs, closeDelayMs: closeDelayMs, floor: floor, maxBytes: maxBytes, base: wire.PartialBaseBytes(topic)}
	w.size = w.base
	w.cur = wire.Partial{Topic: topic, Partition: partition, WindowMs: windowMs,
		FirstOffset: next, LastOffset: next - 1}
	return w
}

// minPartialBytes is the least bound on a partial's size that holds one
// late record of the longest match and emoji, with a video_ts.
func minPartialBytes(topic string) int {
	m, e := strings.Repeat("m", wire.MaxMatchID), strings.Repeat("<", wire.MaxEmojiBytes)
	return wire.PartialBaseBytes(topic) + wire.CountKeyBytes(m, e, true) + 2*wire.LateKeyBytes(m, e, true, true)
}

// next is the offset of the next record to read.
func (w *windower) next() int64 { return w.cur.LastOffset + 1 }

// add takes the record at offset off (at or after next), received at tsMs.
// A record of a later window than the open one closes the open window, whose
// partial add returns; a record of an earlier window counts in the open one
// as late, and in its late_counts under the window it was received in.
func (w *windower) add(off, tsMs int64, match, emoji string, o outcome) (closed *wire.Partial) {
	return w.addVideo(off, tsMs, 0, match, emoji, o)
}

// addVideo is add for a record with a video_ts of videoMs (0: none),
// which the program-time view counts in the window containing it: in the
// partial's video_counts when that is not the partial's window.
func (w *windower) addVideo(off, tsMs, videoMs int64, match, emoji string, o outcome) (closed *wire.Partial) {
	ws := wire.WindowStart(tsMs, w.windowMs)
	switch {
	case !w.open:
		w.openAt(max(ws, w.floor))
	case ws >= w.end():
		closed = w.close(off - 1)
		w.openAt(ws)
	}
	origin := notLate
	if ws < w.cur.WindowStartMs {
		origin = ws
	}
	video := origin // the program-time window: the video_ts's, else the receive window
	if videoMs != 0 {
		video = wire.WindowStart(videoMs, w.windowMs)
	}
	if video == w.cur.WindowStartMs {
		video = notLate
	}
	if o == counted && origin == notLate && video == notLate && !w.general && w.again(match, emoji) {
		w.cur.LastOffset = off
		return closed
	}
	grow, vgrow := 0, 0
	if o == counted {
		grow, vgrow = w.grows(match, emoji, origin)+w.growsVideo(match, emoji, video), w.growsVideoSwarm(match, emoji, video)
		if (w.size+grow > w.maxBytes || w.tooManyOrigins(origin) || w.tooManyVideo(video) ||
			w.videoBytes[match]+vgrow > wire.MaxPartialVideoBytes) && closed == nil {
			closed = w.split(off - 1)
			// the new partial has none of the old one's keys
			grow, vgrow = w.grows(match, emoji, origin)+w.growsVideo(match, emoji, video), w.growsVideoSwarm(match, emoji, video)
		}
	}
	w.cur.LastOffset = off
	w.size += grow
	w.count(origin, match, emoji, o)
	if o == counted && video != notLate {
		w.cur.VideoCounts = addTo(w.cur.VideoCounts, video, match, emoji)
		if w.videoBytes == nil {
			w.videoBytes = map[string]int{}
		}
		w.videoBytes[match] += vgrow
	}
	return closed
}

// again counts one more (match, emoji) in the open partial's own window if
// the partial has the key already, and reports whether it did: what
// addVideo does for such a record, the common one, in the key's slot of
// hot when it is there, else with two map lookups instead of six. A
// partial at or over a bound (only possible right after a split for a
// record that did not fit) goes the general way, which splits it.
func (w *windower) again(match, emoji string) bool {
	if w.size > w.maxBytes || w.videoBytes != nil && w.videoBytes[match] > wire.MaxPartialVideoBytes {
		return false
	}
	s := &w.hot[hotSlotOf(match, emoji)]
	if s.match == match && s.emoji == emoji && s.match != "" {
		s.n++
		return true
	}
	m := w.cur.Counts[match]
	if _, ok := m[emoji]; !ok {
		return false
	}
	w.settle(s)
	*s = hotSlot{match: match, emoji: emoji, n: 1}
	return true
}

// growsVideoSwarm is how much counting (match, emoji) in the program-time
// window video adds to the match's swarm's video_windows, as
// wire.MaxPartialVideoBytes counts it: nothing for keys cur has.
func (w *windower) growsVideoSwarm(match, emoji string, video int64) int {
	if video == notLate {
		return 0
	}
	vm, ok := w.cur.VideoCounts[video][match]
	switch _, has := vm[emoji]; {
	case has:
		return 0
	case ok:
		return wire.EmojiMemberBytes(emoji)
	}
	return wire.LateWindowBytes + wire.EmojiMemberBytes(emoji)
}

// growsVideo is how much counting (match, emoji) in the program-time
// window video (notLate: the partial's own) adds to the open partial's
// video_counts: nothing for keys it has.
func (w *windower) growsVideo(match, emoji string, video int64) int {
	if video == notLate {
		return 0
	}
	vw, okW := w.cur.VideoCounts[video]
	vm, okM := vw[match]
	if _, has := vm[emoji]; has {
		return 0
	}
	return wire.LateKeyBytes(match, emoji, !okW, !okM)
}

// tooManyVideo reports whether counting a record in the program-time
// window video would make the open partial name more than
// wire.MaxPartialVideoWindows of them.
func (w *windower) tooManyVideo(video int64) bool {
	if video == notLate {
		return false
	}
	_, has := w.cur.VideoCounts[video]
	return !has && len(w.cur.VideoCounts) >= wire.MaxPartialVideoWindows
}

// addTo counts one (match, emoji) in window of m, which it returns (made
// if nil).
func addTo(m map[int64]wire.Counts, window int64, match, emoji string) map[int64]wire.Counts {
	if m == nil {
		m = make(map[int64]wire.Counts, 1)
	}
	c := m[window]
	if c == nil {
		c = make(wire.Counts, 1)
		m[window] = c
	}
	c.Add(match, emoji, 1)
	return m
}

// grows is how much counting (match, emoji), late from origin unless
// origin is notLate, adds to the open partial's bound: nothing for keys it
// has.
func (w *windower) grows(match, emoji string, origin int64) int {
	n := 0
	m, ok := w.cur.Counts[match]
	if _, has := m[emoji]; !has {
		n = wire.CountKeyBytes(match, emoji, !ok)
	}
	if origin == notLate {
		return n
	}
	lw, okW := w.cur.LateCounts[origin]
	lm, okM := lw[match]
	if _, has := lm[emoji]; !has {
		n += wire.LateKeyBytes(match, emoji, !okW, !okM)
	}
	return n
}

// tooManyOrigins reports whether a record late from origin would make the
// open partial name more than wire.MaxPartialLateWindows origin windows.
func (w *windower) tooManyOrigins(origin int64) bool {
	if origin == notLate {
		return false
	}
	_, has := w.cur.LateCounts[origin]
	return !has && len(w.cur.LateCounts) >= wire.MaxPartialLateWindows
}

func (w *windower) count(origin int64, match, emoji string, o outcome) {
	switch o {
	case bad:
		w.cur.Bad++
		return
	case duplicate:
		w.cur.Duplicates++
		return
	}
	if w.cur.Counts == nil {
		w.cur.Counts = make(wire.Counts)
	}
	w.cur.Counts.Add(match, emoji, 1)
	if origin == notLate {
		return
	}
	w.cur.Late++
	if w.cur.LateCounts == nil {
		w.cur.LateCounts = make(map[int64]wire.Counts, 1)
	}
	lc := w.cur.LateCounts[origin]
	if lc == nil {
		lc = make(wire.Counts, 1)
		w.cur.LateCounts[origin] = lc
	}
	lc.Add(match, emoji, 1)
}

// split ends the open partial at offset last, marked More, and continues
// the same window in a new partial from last+1. The floor stays: the window
// is still open.
func (w *windower) split(last int64) *wire.Partial {
	w.flush()
	p := w.cur
	p.LastOffset, p.More = last, true
	w.cur = wire.Partial{Topic: p.Topic, Partition: p.Partition, WindowStartMs: p.WindowStartMs,
		WindowMs: w.windowMs, FirstOffset: last + 1, LastOffset: last}
	w.size, w.videoBytes = w.base, nil
	return &p
}

// skip moves the open window's range past offsets that hold no record
// (compacted away or transaction markers), up to but not including next.
func (w *windower) skip(next int64) {
	if next > w.next() {
		w.cur.LastOffset = next - 1
	}
}

// tick is called at wall time nowMs. When the partition is caught up (every
// record the broker had was read), it opens the current window if none is
// open, and closes the open window once its end plus the close delay has
// passed, returning its partial. Windows that passed in between are skipped:
// no flood of empty partials after a pause.
func (w *windower) tick(nowMs int64, caughtUp bool) (closed *wire.Partial) {
	if !caughtUp {
		return nil
	}
	if w.open && nowMs < w.due() {
		return nil
	}
	if w.open {
		closed = w.close(w.cur.LastOffset)
	}
	w.openAt(max(w.floor, wire.WindowStart(nowMs-w.closeDelayMs, w.windowMs)))
	return closed
}

// due is the wall time at which tick has something to do.
func (w *windower) due() int64 {
	if !w.open {
		return math.MinInt64
	}
	return min(w.end(), math.MaxInt64-w.closeDelayMs) + w.closeDelayMs
}

// end is the end of the open window.
func (w *windower) end() int64 { return wire.WindowEnd(w.cur.WindowStartMs, w.windowMs) }

// close ends the open window's range at offset last and returns its partial.
func (w *windower) close(last int64) *wire.Partial {
	w.flush()
	p := w.cur
	p.LastOffset = last
	w.floor = wire.WindowEnd(p.WindowStartMs, w.windowMs)
	w.open = false
	w.cur = wire.Partial{Topic: p.Topic, Partition: p.Partition, WindowMs: w.windowMs,
		FirstOffset: last + 1, LastOffset: last}
	w.size, w.videoBytes = w.base, nil
	return &p
}

func (w *windower) openAt(start int64) {
	w.open = true
	w.cur.WindowStartMs = start
}

// floorAfter is the first window of length windowMs that starts at or after the
// end of the window p covers, so a change of window length never reopens
// time that was already published. After a split partial (More) it is p's
// own window, which is still to be completed.
func floorAfter(p *wire.Partial, windowMs int64) int64 {
	if p.More && p.WindowMs == windowMs {
		return p.WindowStartMs
	}
	end := wire.WindowEnd(p.WindowStartMs, p.WindowMs)
	ws := wire.WindowStart(end, windowMs)
	if ws < end {
		ws = wire.WindowEnd(ws, windowMs)
	}
	return ws
}

// maxClockLeadMs is how far ahead of a bridge's clock the last partial of
// a partition it resumes may be and still be a window of a real clock:
// another bridge's, ahead of this one (a rebalance, or NTP stepping this
// host back). Past it the window is taken for one an older bridge opened
// for an absurd received_at.
const maxClockLeadMs = int64(24 * time.Hour / time.Millisecond)

// resumeFloor is the floor of a partition whose last partial is last, at
// the bridge's clock nowMs: floorAfter, never going back, unless last is
// of a window no clock could have opened, more than maxClockLeadMs ahead
// of this one or outside years 0000-9999 (an older bridge's, for an
// absurd received_at). Then the floor is the window of now, so that the
// partition counts in the windows of now again instead of in that one;
// the processor takes the partials of that window, stored before, as a
// partition going back and skips them (their counts reach no swarm).
// Within the lead the floor stays: a partition that another bridge, whose
// clock was ahead, counted into later windows goes on counting late into
// them, delayed but exact, for the processor skips a partial of a window
// before one its partition already delivered.
func resumeFloor(last *wire.Partial, windowMs, nowMs int64) int64 {
	floor := floorAfter(last, windowMs)
	if !wire.WindowInRange(last.WindowStartMs, windowMs) || floor-windowMs > nowMs+maxClockLeadMs {
		return wire.WindowStart(nowMs, windowMs)
	}
	return floor
}
