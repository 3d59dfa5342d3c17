package bridge

// userCounts bounds the ids of one user_id that dedup remembers: a
// count-min sketch (two rows of sketchWidth counters, a user's cell in each
// chosen by its hash) per bucket, and their sum over the live buckets, so a
// user's count is two reads. A count can only be too high, by about the
// live ids / sketchWidth (a user sharing both cells with others), so the
// cap can bite early but never lets a user past it. Owned by the dedup's
// goroutine.
type userCounts struct {
	total []uint32 // the sum of the live buckets' sketches
	spare []uint16 // the sketch of a bucket forgotten, for the next
}

// sketchWidth is a sketch row's width: a bucket's sketch is 64 KiB.
const sketchWidth = 1 << 14

// maxBuckets bounds the buckets alive at once: horizon/span, plus the
// newest partly filled, plus one partly expired.
const maxBuckets = 10

// sketchBytes is the most memory of the per-user counts.
const sketchBytes = maxBuckets*2*sketchWidth*2 + 2*sketchWidth*4

// MaxDedupPerUser bounds DedupPerUser: a bucket's counter holds 16 bits.
const MaxDedupPerUser = 1<<16 - 1

// cells are user's counters in the two rows.
func cells(user uint64) (int, int) {
	return int(user % sketchWidth), sketchWidth + int(user>>32)%sketchWidth
}

// count is at least the ids of user in the live buckets.
func (u *userCounts) count(user uint64) int {
	if u.total == nil {
		return 0
	}
	i, j := cells(user)
	return int(min(u.total[i], u.total[j]))
}

// add counts one id of user in b.
func (u *userCounts) add(b *bucket, user uint64) {
	if b.users == nil {
		b.users, u.spare = u.spare, nil
		if b.users == nil {
			b.users = make([]uint16, 2*sketchWidth)
		}
	}
	if u.total == nil {
		u.total = make([]uint32, 2*sketchWidth)
	}
	i, j := cells(user)
	for _, c := range [2]int{i, j} {
		if b.users[c] < MaxDedupPerUser { // saturated: the user is past any cap while b lives
			b.users[c]++
			u.total[c]++
		}
	}
}

// drop takes the ids of b, forgotten, out of the counts.
func (u *userCounts) drop(b *bucket) {
	if b.users == nil {
		return
	}
	for c, n := range b.users {
		u.total[c] -= uint32(n)
	}
	clear(b.users)
	u.spare, b.users = b.users, nil
}

// bytes is the memory the counts hold, the live buckets' sketches apart.
func (u *userCounts) bytes() int { return 4*len(u.total) + 2*len(u.spare) }
