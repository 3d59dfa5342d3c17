package bridge

import "hash/maphash"

// dedup remembers the event_ids of one partition for a horizon of receive
// time, at most limit of them: the oldest are forgotten first. It keeps a
// 64-bit hash of each id, not the id: with 200,000 ids remembered, the chance
// that a new id collides with one of them is about 1 in 10^14. It is owned by
// the partition's worker goroutine.
type dedup struct {
	horizon int64 // ms; dedup is off when <= 0
	limit   int
	seen    map[uint64]struct{}
	fifo    []seenID // ring buffer, oldest at head
	head, n int
	evicted int64 // forgotten because of limit, before their horizon
}

type seenID struct {
	id   uint64
	tsMs int64
}

func newDedup(horizonMs int64, limit int) *dedup {
	return &dedup{horizon: horizonMs, limit: limit, seen: make(map[uint64]struct{})}
}

// eventSeed keys eventHash for this process.
var eventSeed = maphash.MakeSeed()

// eventHash is the hash dedup keeps of an event_id; 0 means no id.
func eventHash(id []byte) uint64 {
	if len(id) == 0 {
		return 0
	}
	return max(maphash.Bytes(eventSeed, id), 1)
}

// repeat reports whether the event_id of hash h (eventHash) was seen within
// the horizon before tsMs, and remembers it if not. No id (0) is never a
// repeat.
func (d *dedup) repeat(h uint64, tsMs int64) bool {
	if h == 0 || d.horizon <= 0 || d.limit <= 0 {
		return false
	}
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
