package bridge

import (
	"encoding/binary"
	"hash/maphash"
)

// dedup remembers the events of one partition that carried an event_id, for
// a horizon of receive time that nothing shortens. It is owned by the
// partition's worker goroutine.
//
// An event is identified by its owner and id together, the hash of
// (user_id, match_id, event_id) (eventHasher), so one client's event_id
// never hides another user's or another match's event. Hashes are 64-bit:
// with the 2.3 million a default budget holds, the chance that a new event
// collides with one of them, and is dropped as a repeat, is about 1 in
// 10^13.
//
// The rules:
//   - An event remembered at receive time t is remembered until the
//     partition's clock (the newest receive time seen, never ahead of the
//     bridge's own clock) passes t + horizon; at most one bucket span
//     (horizon/8) longer, as ids are forgotten a bucket at a time. Nothing
//     else forgets it: other clients' load cannot shorten its horizon.
//   - The set holds at most capacity ids (the memory budget, idSet: 14
//     bytes each). While it is full, a new event is counted, but its id is
//     not remembered (notRemembered[full]): its retry may count twice. The
//     set empties again as its ids pass their horizon.
//   - One user_id may have at most perUser ids remembered within the
//     horizon; the next are counted and not remembered
//     (notRemembered[userCap]), so one user, authenticated or not, cannot
//     fill the budget. The counts (userCounts) can only be too high, by
//     about the ids remembered / 16,384.
//
// Neither rule ever drops an event wrongly: an id not remembered only loses
// the protection of its own retry.
type dedup struct {
	horizon int64 // ms; dedup is off when <= 0
	span    int64 // ms a bucket covers: horizon/8
	perUser int   // ids per user within the horizon; <= 0: no cap
	clock   int64 // the newest receive time seen
	set     idSet
	buckets []bucket // oldest first
	users   userCounts
	// notRemembered counts the ids not remembered, by reason.
	notRemembered [reasons]int64
}

// Reasons an id is not remembered.
const (
	full    = iota // the set holds capacity ids
	userCap        // the user has perUser ids remembered
	reasons
)

// bucket is the ids remembered over one span of receive time, forgotten
// together once the newest of them passes the horizon.
type bucket struct {
	n             int      // ids, the oldest of the set's
	first, newest int64    // receive times
	users         []uint16 // its per-user sketch (userCounts); nil without a cap
}

func newDedup(horizonMs int64, capacity, perUser int) *dedup {
	return &dedup{horizon: horizonMs, span: max(horizonMs/8, 1), perUser: perUser,
		set: newIDSet(capacity)}
}

// dedupCapacity is how many ids a budget of memory bytes holds, with the
// per-user sketches when perUser caps are on.
func dedupCapacity(memory int64, perUser int) int {
	if perUser > 0 {
		memory -= sketchBytes
	}
	return int(min(max(memory/bytesPerID, 0), maxIDSetCapacity))
}

// bytesPerID is an idSet's memory per id at its capacity.
const bytesPerID = 14

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

// user is the hash of a user_id that the per-user counts are kept by.
func (e *eventHasher) user(user []byte) uint64 { return maphash.Bytes(eventSeed, user) }

// repeat reports whether the event of hash h (eventHasher.sum) by the user
// of hash user (eventHasher.user), received at tsMs, was remembered, and
// remembers it if not and the rules allow. No id (0) is never a repeat.
func (d *dedup) repeat(h, user uint64, tsMs int64) bool {
	if h == 0 || d.horizon <= 0 {
		return false
	}
	d.advance(tsMs)
	if d.set.has(h) {
		return true
	}
	d.remember(h, user, tsMs)
	return false
}

// advance moves the clock to tsMs if it is later, forgetting the buckets
// whose newest id passed the horizon.
func (d *dedup) advance(tsMs int64) {
	d.clock = max(d.clock, tsMs)
	cutoff := d.clock - d.horizon
	for len(d.buckets) > 0 && d.buckets[0].newest < cutoff {
		d.set.dropOldest(d.buckets[0].n)
		d.users.drop(&d.buckets[0])
		d.buckets = append(d.buckets[:0], d.buckets[1:]...)
	}
}

// remember adds h unless a rule refuses it.
func (d *dedup) remember(h, user uint64, tsMs int64) {
	switch {
	case d.set.full():
		d.notRemembered[full]++
	case d.perUser > 0 && d.users.count(user) >= d.perUser:
		d.notRemembered[userCap]++
	default:
		d.set.add(h)
		b := d.bucketFor(tsMs)
		if b.n++; d.perUser > 0 {
			d.users.add(b, user)
		}
	}
}

// bucketFor is the bucket an id received at tsMs joins: the newest, unless
// tsMs is a span or more after its first id.
func (d *dedup) bucketFor(tsMs int64) *bucket {
	if n := len(d.buckets); n > 0 && tsMs < d.buckets[n-1].first+d.span {
		b := &d.buckets[n-1]
		b.newest = max(b.newest, tsMs)
		return b
	}
	d.buckets = append(d.buckets, bucket{first: tsMs, newest: tsMs})
	return &d.buckets[len(d.buckets)-1]
}

// len is the number of remembered ids.
func (d *dedup) len() int { return d.set.n }

// capacity is the most ids the set holds.
func (d *dedup) capacity() int { return d.set.capacity }

// bytes is the memory the set holds, sketches included.
func (d *dedup) bytes() int {
	n := d.set.bytes() + d.users.bytes()
	for _, b := range d.buckets {
		n += 2 * len(b.users)
	}
	return n
}
