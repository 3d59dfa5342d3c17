package bridge

import (
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/emostream/emostream/wire"
)

// step is one input to a windower: a record (off >= 0), or a tick at now.
type step struct {
	off, ts  int64 // record at offset off received at ts
	o        outcome
	now      int64 // tick at wall time now (when off < 0)
	caughtUp bool
}

func rec(off, ts int64) step     { return step{off: off, ts: ts} }
func badRec(off, ts int64) step  { return step{off: off, ts: ts, o: bad} }
func dupRec(off, ts int64) step  { return step{off: off, ts: ts, o: duplicate} }
func tick(now int64) step        { return step{off: -1, now: now, caughtUp: true} }
func tickBehind(now int64) step  { return step{off: -1, now: now} }
func counts(n int64) wire.Counts { return wire.Counts{"m": {"🔥": n}} }
func part(ws, first, last int64, c wire.Counts, late int64) wire.Partial {
	return wire.Partial{Topic: "t", Partition: 3, WindowStartMs: ws, WindowMs: 1000,
		FirstOffset: first, LastOffset: last, Counts: c, Late: late}
}

// lateFrom is p with its late records received in the window at origin
// (where the program-time view counts them too: they have no video_ts).
func lateFrom(p wire.Partial, origin int64) wire.Partial {
	p.LateCounts = map[int64]wire.Counts{origin: counts(p.Late)}
	p.VideoCounts = map[int64]wire.Counts{origin: counts(p.Late)}
	return p
}

func TestWindower(t *testing.T) {
	tests := []struct {
		name  string
		next  int64
		floor int64
		steps []step
		want  []wire.Partial
	}{
		{"records of one window stay open until the close delay",
			0, noFloor, []step{rec(0, 1000), rec(1, 1999), tick(2199)}, nil},
		{"close delay passed: the window closes",
			0, noFloor, []step{rec(0, 1000), rec(1, 1999), tick(2200)},
			[]wire.Partial{part(1000, 0, 1, counts(2), 0)}},
		{"a record of a later window ends the range before it",
			5, noFloor, []step{rec(5, 1000), rec(6, 1500), rec(7, 2000)},
			[]wire.Partial{part(1000, 5, 6, counts(2), 0)}},
		{"a record far later skips the empty windows between (catch-up)",
			0, noFloor, []step{rec(0, 1000), rec(1, 9000), rec(2, 12000)},
			[]wire.Partial{part(1000, 0, 0, counts(1), 0), part(9000, 1, 1, counts(1), 0)}},
		{"a record of a closed window counts late in the open one",
			0, noFloor, []step{rec(0, 1000), tick(2200), rec(1, 1900), rec(2, 2100), tick(3200)},
			[]wire.Partial{part(1000, 0, 0, counts(1), 0), lateFrom(part(2000, 1, 2, counts(2), 1), 1000)}},
		{"caught up with no records: empty heartbeat partials, one per window",
			7, noFloor, []step{tick(1250), tick(2199), tick(2200), tick(3200)},
			[]wire.Partial{part(1000, 7, 6, nil, 0), part(2000, 7, 6, nil, 0)}},
		{"not caught up: no wall-clock close",
			0, noFloor, []step{rec(0, 1000), tickBehind(5000), rec(1, 1500)}, nil},
		{"after a pause the next window opens at the present, no flood",
			0, noFloor, []step{rec(0, 1000), tick(60500), tick(61000), tick(61200)},
			[]wire.Partial{part(1000, 0, 0, counts(1), 0), part(60000, 1, 0, nil, 0)}},
		{"resume: records before the floor are late in the floor's window",
			10, 4000, []step{rec(10, 3500), rec(11, 4100), tick(5200)},
			[]wire.Partial{lateFrom(part(4000, 10, 11, counts(2), 1), 3000)}},
		{"resume: first record after the floor opens its own window, no extra empty partial",
			10, 4000, []step{rec(10, 9100), tick(10200)},
			[]wire.Partial{part(9000, 10, 10, counts(1), 0)}},
		{"bad and duplicate records are in the range but not the counts",
			0, noFloor, []step{rec(0, 1000), badRec(1, 1100), dupRec(2, 1200), tick(2200)},
			[]wire.Partial{{Topic: "t", Partition: 3, WindowStartMs: 1000, WindowMs: 1000,
				FirstOffset: 0, LastOffset: 2, Counts: counts(1), Bad: 1, Duplicates: 1}}},
		{"offset gaps are covered by the range",
			0, noFloor, []step{rec(0, 1000), rec(3, 1100), rec(9, 2000)},
			[]wire.Partial{part(1000, 0, 8, counts(2), 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWindower("t", 3, 1000, 200, tt.next, tt.floor, 1<<20)
			var got []wire.Partial
			for _, s := range tt.steps {
				var p *wire.Partial
				if s.off >= 0 {
					p = w.add(s.off, s.ts, "m", "🔥", s.o)
				} else {
					p = w.tick(s.now, s.caughtUp)
				}
				if p != nil {
					got = append(got, *p)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			for _, p := range got {
				if err := p.Validate(); err != nil {
					t.Errorf("invalid partial: %v", err)
				}
			}
		})
	}
}

func TestWindowerContiguous(t *testing.T) {
	w := newWindower("t", 0, 1000, 100, 0, noFloor, 1<<20)
	var got []wire.Partial
	now := int64(0)
	for off := int64(0); off < 1000; off++ {
		now += int64(off % 7 * 3)
		if p := w.add(off, now-int64(off%5*150), "m", "🔥", counted); p != nil {
			got = append(got, *p)
		}
		if p := w.tick(now, off%3 == 0); p != nil {
			got = append(got, *p)
		}
	}
	next, total := int64(0), int64(0)
	for _, p := range got {
		if p.FirstOffset != next {
			t.Fatalf("partial %+v starts at %d, want %d", p, p.FirstOffset, next)
		}
		next, total = p.NextOffset(), total+p.Counts.Total()
	}
	if total != next {
		t.Errorf("counted %d records in offsets 0..%d", total, next-1)
	}
}

func TestFloorAfter(t *testing.T) {
	tests := []struct {
		start, ms, win, want int64
	}{
		{2000, 2000, 2000, 4000},
		{2000, 2000, 3000, 6000},
		{3000, 1000, 2000, 4000},
		{2000, 1000, 2000, 4000},
	}
	for _, tt := range tests {
		p := wire.Partial{WindowStartMs: tt.start, WindowMs: tt.ms}
		if got := floorAfter(&p, tt.win); got != tt.want {
			t.Errorf("floorAfter(%d+%d, %d) = %d, want %d", tt.start, tt.ms, tt.win, got, tt.want)
		}
	}
	// A split partial leaves its window open, unless the window length changed.
	for _, tt := range []struct{ win, want int64 }{{2000, 2000}, {1000, 4000}} {
		p := wire.Partial{WindowStartMs: 2000, WindowMs: 2000, More: true}
		if got := floorAfter(&p, tt.win); got != tt.want {
			t.Errorf("split: floorAfter(2000+2000, %d) = %d, want %d", tt.win, got, tt.want)
		}
	}
}

// A partition resumes after its last partial's window, never going back
// within a day of the clock (another bridge's clock may have been ahead):
// only a window more than a day ahead, or outside years 0000-9999, is one
// an older bridge opened for an absurd received_at. Then it resumes at the
// window of now, so its tick closes its windows again.
func TestResumeFloor(t *testing.T) {
	const now, win = 1_795_410_001_500, 2000 // in the window starting at 1_795_410_000_000
	nowWin := int64(1_795_410_000_000)
	year9999 := wire.WindowStart(wire.MaxTimeMs, win) - win
	tests := []struct {
		name      string
		start, ms int64
		more      bool
		want      int64
	}{
		{"a window of the past", nowWin - 10*win, win, false, nowWin - 9*win},
		{"the window of now", nowWin, win, false, nowWin + win},
		{"the next window (a clock a little ahead)", nowWin + win, win, false, nowWin + 2*win},
		{"split in the next window", nowWin + win, win, true, nowWin + win},
		{"two windows ahead (another bridge's clock)", nowWin + 2*win, win, false, nowWin + 3*win},
		{"a day ahead", nowWin + 86_400_000, win, false, nowWin + 86_400_000 + win},
		{"more than a day ahead", nowWin + 86_400_000 + 2*win, win, false, nowWin},
		{"split in year 9999", year9999, win, true, nowWin},
		{"year 9999", year9999, win, false, nowWin},
		{"the window of MaxInt64", wire.WindowStart(math.MaxInt64, win), win, false, nowWin},
		{"a window before 1970", -10 * win, win, false, -9 * win},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := wire.Partial{WindowStartMs: tt.start, WindowMs: tt.ms, More: tt.more}
			if got := resumeFloor(&p, win, now); got != tt.want {
				t.Errorf("resumeFloor(%d+%d, more %v) = %d, want %d", tt.start, tt.ms, tt.more, got, tt.want)
			}
		})
	}
}

// Window arithmetic near the int64 limits does not overflow: a window
// that ends past MaxInt64 is never due, and the floor after it saturates.
func TestWindowerNearInt64Limits(t *testing.T) {
	top := wire.WindowStart(math.MaxInt64, 1000)
	w := newWindower("t", 3, 1000, 200, 0, top, 1<<20)
	if p := w.add(0, 1000, "m", "🔥", counted); p != nil {
		t.Fatalf("a record before the floor closed %+v", p)
	}
	if w.cur.WindowStartMs != top || w.due() != math.MaxInt64 {
		t.Fatalf("window %d due %d, want %d due MaxInt64", w.cur.WindowStartMs, w.due(), top)
	}
	if p := w.tick(1_795_410_000_000, true); p != nil {
		t.Fatalf("a tick of now closed the window of MaxInt64: %+v", p)
	}
	p := wire.Partial{WindowStartMs: top, WindowMs: 1000}
	if got := floorAfter(&p, 1000); got != math.MaxInt64 {
		t.Errorf("floorAfter the window of MaxInt64 = %d, want MaxInt64", got)
	}
}

// The fast path of addVideo (again) changes nothing: two windowers, one
// taking it and one always going the general way, given the same random
// records (late ones, ones with video_ts, bad ones, duplicates, new and
// repeated keys, partials small enough to split often), close the same
// partials and hold the same open one after every record.
func TestWindowerFastPathSameAsGeneral(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	matches := []string{"final-2026", "semi", strings.Repeat("m", wire.MaxMatchID)}
	emojis := []string{"🔥", "👏", "😂", strings.Repeat("<", wire.MaxEmojiBytes)}
	// The first bound is below minPartialBytes, so a partial can be over
	// it right after a split: the general way splits it again.
	for _, maxBytes := range []int{wire.PartialBaseBytes("t") + 40, minPartialBytes("t"), minPartialBytes("t") + 300, 256 << 10} {
		fast := newWindower("t", 0, 2000, 100, 0, noFloor, maxBytes)
		general := newWindower("t", 0, 2000, 100, 0, noFloor, maxBytes)
		general.general = true
		ts, taken, hits := int64(1_795_410_000_000), 0, 0
		for off := int64(0); off < 20_000; off++ {
			ts += rng.Int64N(3)
			recTs := ts
			if rng.IntN(20) == 0 {
				recTs -= rng.Int64N(10_000) // late
			}
			var video int64
			switch rng.IntN(20) {
			case 0, 1:
				video = recTs - rng.Int64N(60_000)
			case 2: // ahead of its receive time: a late record's may be in the open window
				video = recTs + rng.Int64N(wire.MaxVideoLead.Milliseconds())
			}
			o := counted
			switch rng.IntN(50) {
			case 0:
				o = bad
			case 1:
				o = duplicate
			}
			m, e := matches[rng.IntN(len(matches))], emojis[rng.IntN(len(emojis))]
			if fast.cur.Counts[m][e] > 0 {
				taken++
			}
			a := fast.addVideo(off, recTs, video, m, e, o)
			b := general.addVideo(off, recTs, video, m, e, o)
			if s := fast.hot[hotSlotOf(m, e)]; s.n > 1 {
				hits++
			}
			if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(withHot(fast), general.cur) || fast.size != general.size ||
				!reflect.DeepEqual(fast.videoBytes, general.videoBytes) {
				t.Fatalf("maxBytes %d, offset %d: fast path closed %+v, open %+v; general closed %+v, open %+v",
					maxBytes, off, a, fast.cur, b, general.cur)
			}
		}
		if taken < 1000 {
			t.Errorf("maxBytes %d: only %d records had a known key; the fast path was hardly tried", maxBytes, taken)
		}
		if maxBytes > minPartialBytes("t") && hits < 1000 {
			t.Errorf("maxBytes %d: only %d records were counted in a slot of hot", maxBytes, hits)
		}
	}
}

// withHot is w's open partial with the counts held in w.hot added, in maps
// of its own: what flush would make of it.
func withHot(w *windower) wire.Partial {
	p := w.cur
	if p.Counts == nil {
		return p
	}
	p.Counts = make(wire.Counts, len(w.cur.Counts))
	for m, es := range w.cur.Counts {
		p.Counts[m] = maps.Clone(es)
	}
	for _, s := range w.hot {
		if s.n != 0 {
			p.Counts[s.match][s.emoji] += s.n
		}
	}
	return p
}
