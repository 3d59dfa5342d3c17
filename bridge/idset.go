package bridge

import "math/bits"

// idSet is the compact store of dedup: the remembered hashes in a ring, in
// the order they were remembered, and an open-addressing table (linear
// probing) of ring positions to find them.
//
// Memory: a hash takes 8 bytes in the ring, which is allocated in chunks of
// 64 KiB as it fills and freed as it empties, and 1.33 to 2 slots of 4
// bytes in the table (it grows by half at a load of 3/4, to 1.5 slots per
// id at capacity): 13.3 to 16 bytes per id, 14 at capacity
// (BenchmarkDedupMemory), and up to 21.3 while the table moves to its next
// size. No step costs more than a few probes: the table moves its entries
// four slots per add, so a resize never stalls the partition.
//
// A slot holds, from its low bits, the ring position + 1, the distance
// from the hash's home slot (4 bits, all ones when farther), and a
// fingerprint of the hash in the bits left (10 at the default capacity):
// lookups read the ring only for slots whose fingerprint matches, and
// deletions find an entry's home without reading the ring.
//
// It never holds more than capacity hashes; forgetting is oldest first
// (dropOldest). Hash 0 is never stored.
type idSet struct {
	capacity int
	chunks   [][]uint64 // the ring: position r is chunks[r/chunkLen][r%chunkLen]
	head, n  int        // oldest position, hashes held
	slots    []uint32   // 0 is empty
	old      []uint32   // the smaller table being moved into slots; nil if none
	moved    int        // old[:moved] moved
	slotCode
}

// slotCode is the layout of a slot.
type slotCode struct {
	posBits  uint   // ring position + 1
	posMask  uint32 // never all ones: movedSlot is not a position
	distMask uint32 // the distance from home, after posBits; all ones: unknown
	fpShift  uint   // the fingerprint, the bits left
	fpMask   uint32
}

// Sizes of the ring's chunks and of the first table; the bits of a slot's
// distance.
const (
	chunkBits = 13
	chunkLen  = 1 << chunkBits
	minSlots  = 1536
	distBits  = 4
)

// movedSlot marks a slot of the old table whose entry was moved or forgotten.
const movedSlot = ^uint32(0)

// maxIDSetCapacity bounds capacity: a slot holds a ring position in 32 bits.
const maxIDSetCapacity = 1 << 31

// newIDSet is an empty set of capacity hashes.
func newIDSet(capacity int) idSet {
	capacity = min(capacity, maxIDSetCapacity)
	p := uint(bits.Len(uint(capacity + 1)))
	d := min(distBits, 32-p)
	c := slotCode{posBits: p, posMask: uint32(1)<<p - 1, distMask: uint32(1)<<d - 1, fpShift: p + d}
	c.fpMask = ^(c.posMask | c.distMask<<p)
	return idSet{capacity: capacity, slotCode: c}
}

// has reports whether h is remembered.
func (s *idSet) has(h uint64) bool {
	if s.n == 0 {
		return false
	}
	if _, ok := s.probe(s.slots, h); ok {
		return true
	}
	if s.old != nil {
		_, ok := s.probe(s.old, h)
		return ok
	}
	return false
}

// full reports whether the set holds capacity hashes.
func (s *idSet) full() bool { return s.n >= s.capacity }

// add remembers h, which must not be remembered already, unless the set is
// full; it reports whether it did.
func (s *idSet) add(h uint64) bool {
	if s.full() {
		return false
	}
	s.makeRoom()
	r := (s.head + s.n) % s.capacity
	*s.at(r) = h
	s.n++
	s.insert(h, uint32(r+1)|s.fingerprint(h))
	s.move(4)
	return true
}

// insert puts the slot value v of hash h, absent, into the table.
func (s *idSet) insert(h uint64, v uint32) {
	i, _ := s.probe(s.slots, h)
	s.slots[i] = s.withDist(v, dist(home(h, len(s.slots)), i, len(s.slots)))
}

// dropOldest forgets the k oldest hashes.
func (s *idSet) dropOldest(k int) {
	for ; k > 0 && s.n > 0; k-- {
		s.unslot(*s.at(s.head))
		*s.at(s.head) = 0
		s.n--
		left := s.head
		s.head = (s.head + 1) % s.capacity
		if s.head%chunkLen == 0 { // left a chunk (or wrapped around)
			s.freeChunk(left >> chunkBits)
		}
	}
}

// at is ring position r, its chunk allocated.
func (s *idSet) at(r int) *uint64 {
	c := r >> chunkBits
	if s.chunks == nil {
		s.chunks = make([][]uint64, (s.capacity+chunkLen-1)/chunkLen)
	}
	if s.chunks[c] == nil {
		s.chunks[c] = make([]uint64, min(chunkLen, s.capacity-c*chunkLen))
	}
	return &s.chunks[c][r&(chunkLen-1)]
}

// freeChunk frees chunk c, which the head just left, unless the ring wraps
// around into it (its newest hashes are there).
func (s *idSet) freeChunk(c int) {
	if s.n > 0 && ((s.head+s.n-1)%s.capacity)>>chunkBits == c {
		return
	}
	s.chunks[c] = nil
}

// hashAt is the hash that slot value v points to.
func (s *idSet) hashAt(v uint32) uint64 { return *s.at(int(v&s.posMask) - 1) }

// fingerprint is the part of a slot value taken from h: low bits, which its
// home (from the high bits) hardly depends on.
func (c *slotCode) fingerprint(h uint64) uint32 { return uint32(h) << c.fpShift }

// withDist is v with its distance from home set to d.
func (c *slotCode) withDist(v uint32, d int) uint32 {
	return v&^(c.distMask<<c.posBits) | uint32(min(d, int(c.distMask)))<<c.posBits
}

// homeOf is the home of the entry v at slot j of tab.
func (s *idSet) homeOf(tab []uint32, j int, v uint32) int {
	if d := v >> s.posBits & s.distMask; d < s.distMask {
		return (j - int(d) + len(tab)) % len(tab)
	}
	return home(s.hashAt(v), len(tab))
}

// home is h's first slot in a table of n slots.
func home(h uint64, n int) int {
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}

// dist is how many slots after home k slot i lies in a table of n.
func dist(k, i, n int) int { return (i - k + n) % n }

// probe returns h's slot in tab, or the empty slot where it would go. It
// reads the ring only for slots with h's fingerprint (1 in 1,024 of other
// hashes' slots at the default capacity).
func (s *idSet) probe(tab []uint32, h uint64) (int, bool) {
	fp := s.fingerprint(h)
	for i := home(h, len(tab)); ; i = next(tab, i) {
		switch v := tab[i]; {
		case v == 0:
			return i, false
		case v&s.fpMask == fp && v != movedSlot && s.hashAt(v) == h:
			return i, true
		}
	}
}

func next(tab []uint32, i int) int {
	if i++; i == len(tab) {
		return 0
	}
	return i
}

// unslot removes h from the tables.
func (s *idSet) unslot(h uint64) {
	if i, ok := s.probe(s.slots, h); ok {
		s.shiftBack(i)
	} else if s.old != nil {
		if i, ok := s.probe(s.old, h); ok {
			s.old[i] = movedSlot
		}
	}
	s.move(1)
}

// shiftBack empties slot i of the table, shifting back the entries after it
// whose probe passed it, so that no lookup stops early.
func (s *idSet) shiftBack(i int) {
	tab := s.slots
	for j := next(tab, i); tab[j] != 0; j = next(tab, j) {
		v := tab[j]
		k := s.homeOf(tab, j, v)
		if between(i, k, j) {
			continue // j's entry sits at or after its home, past i
		}
		tab[i] = s.withDist(v, dist(k, i, len(tab)))
		i = j
	}
	tab[i] = 0
}

// between reports whether k lies cyclically in (i, j].
func between(i, k, j int) bool {
	if i <= j {
		return i < k && k <= j
	}
	return i < k || k <= j
}

// makeRoom starts moving to a table half as large again once the table is
// 3/4 full, up to 1.5 slots per id of capacity.
func (s *idSet) makeRoom() {
	most := s.capacity + s.capacity/2 + 1
	switch {
	case s.slots == nil:
		s.slots = make([]uint32, min(minSlots, most))
	case s.old != nil || 4*(s.n+1) <= 3*len(s.slots) || len(s.slots) == most:
	default:
		s.old, s.moved = s.slots, 0
		s.slots = make([]uint32, min(len(s.slots)+len(s.slots)/2, most))
	}
}

// move moves up to k slots of the old table into the current one.
func (s *idSet) move(k int) {
	for ; k > 0 && s.old != nil; k-- {
		if v := s.old[s.moved]; v != 0 && v != movedSlot {
			s.insert(s.hashAt(v), v)
			s.old[s.moved] = movedSlot
		}
		if s.moved++; s.moved == len(s.old) {
			s.old = nil
		}
	}
}

// bytes is the memory the set holds.
func (s *idSet) bytes() int {
	n := 24*len(s.chunks) + 4*(len(s.slots)+len(s.old))
	for _, c := range s.chunks {
		n += 8 * len(c)
	}
	return n
}
