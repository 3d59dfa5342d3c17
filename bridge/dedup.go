package bridge

import (
	"encoding/binary"
	"hash/maphash"
)

// dedup remembers the events of one partition that carried an event_id, for
// a horizon of receive time, at most limit of them: the oldest are forgotten
// first. An event is identified by its owner and id together, the hash of
// (user_id, match_id, event_id) (eventHasher), so one client's event_id never
// hides another user's or another match's event. It keeps a 64-bit hash and
// the receive time of each, about 40 bytes per remembered event
// (BenchmarkDedupMemory): with 200,000 remembered, the chance that a new
// event collides with one of them is about 1 in 10^14. It is owned by the
// partition's worker goroutine.
//
// While the set is full, an event is forgotten before its horizon: the
// effective horizon is then the receive time of the newest event minus that
// of the oldest one remembered (effectiveHorizon), and a retry is counted
// once if it comes within the smaller of the two.
type dedup struct {
	horizon int64 // ms; dedup is off when <= 0
	limit   int
	seen    map[uint64]struct{}
	fifo    []seenID // ring buffer, oldest at head
	head, n int
	evicted int64 // forgotten because of limit, before their horizon
	lastMs  int64 // the latest receive time seen
}

type seenID struct {
	id   uint64
	tsMs int64
}

func newDedup(horizonMs int64, limit int) *dedup {
	return &dedup{horizon: horizonMs, limit: limit, seen: make(map[uint64]struct{})}
}

// eventSeed keys eventHasher for this process.
var eventSeed = maphash.MakeSeed()

// eventHasher hashes events' identities; its zero value is ready to use.
// Each fetcher has its own.
type eventHasher struct {
	h   maphash.Hash
	len [binary.MaxVarintLen64]byte
}

// sum is the hash dedup keeps of an event: of its user, match and
// event_id, each but the last prefixed with its length so that no two
// triples run together. 0 means no event_id: no dedup.
func (e *eventHasher) sum(user, match, id []byte) uint64 {
	if len(id) == 0 {
		return 0
	}
	e.h.SetSeed(eventSeed)
	e.h.Write(binary.AppendUvarint(e.len[:0], uint64(len(user))))
	e.h.Write(user)
	e.h.Write(binary.AppendUvarint(e.len[:0], uint64(len(match))))
	e.h.Write(match)
	e.h.Write(id)
	return max(e.h.Sum64(), 1)
}

// repeat reports whether the event of hash h (eventHasher.sum) was seen within
// the horizon before tsMs, and remembers it if not. No id (0) is never a
// repeat.
func (d *dedup) repeat(h uint64, tsMs int64) bool {
	if h == 0 || d.horizon <= 0 || d.limit <= 0 {
		return false
	}
	d.lastMs = max(d.lastMs, tsMs)
	d.expire(tsMs - d.horizon)
	if _, ok := d.seen[h]; ok {
		return true
	}
	if d.n == d.limit {
		d.pop()
		d.evicted++
	}
	d.push(seenID{h, tsMs})
	return false
}

// expire forgets the ids seen before cutoff.
func (d *dedup) expire(cutoff int64) {
	for d.n > 0 && d.fifo[d.head].tsMs < cutoff {
		d.pop()
	}
}

func (d *dedup) push(s seenID) {
	if d.n == len(d.fifo) {
		d.grow()
	}
	d.fifo[(d.head+d.n)%len(d.fifo)] = s
	d.n++
	d.seen[s.id] = struct{}{}
}

func (d *dedup) pop() {
	delete(d.seen, d.fifo[d.head].id)
	d.fifo[d.head] = seenID{}
	d.head = (d.head + 1) % len(d.fifo)
	d.n--
}

// grow doubles the ring, up to limit.
func (d *dedup) grow() {
	size := min(max(2*len(d.fifo), 64), d.limit)
	fifo := make([]seenID, size)
	for i := 0; i < d.n; i++ {
		fifo[i] = d.fifo[(d.head+i)%len(d.fifo)]
	}
	d.fifo, d.head = fifo, 0
}

// len is the number of remembered ids.
func (d *dedup) len() int { return d.n }

// effectiveHorizon is how far back in receive time the set remembers, in
// ms: the configured horizon, or, while the set is full, the time from the
// oldest remembered event to the latest one seen, if that is shorter.
func (d *dedup) effectiveHorizon() int64 {
	if d.n < d.limit || d.n == 0 {
		return max(d.horizon, 0)
	}
	return min(d.horizon, d.lastMs-d.fifo[d.head].tsMs)
}
