package loadgen

import (
	"math/rand/v2"
	"strconv"

	"github.com/emostream/emostream/wire"
)

// Prefixes of the generated identifiers: user_id u-<n>, match_id match-<n>,
// event_id <run>-<n> where run is random per Generator and n counts events
// from 0.
const (
	UserPrefix  = "u-"
	MatchPrefix = "match-"
)

// encoder appends request bodies of generated events. It is read-only after
// construction and shared by every worker; each brings its own rand.
type encoder struct {
	users, matches uint64
	emojis         [][]byte // `","emoji_type":"🔥"` per mix entry
	picker         picker
	runID          string // "" means no event_id
	noUser         bool   // tokens name the user: no user_id
}

func newEncoder(c Config, runID string) *encoder {
	e := &encoder{users: uint64(c.Users), matches: uint64(c.Matches), picker: newPicker(c.Mix), noUser: len(c.Tokens) > 0}
	for _, w := range c.Mix {
		frag := wire.AppendJSONString([]byte(`","emoji_type":`), w.Emoji)
		e.emojis = append(e.emojis, frag)
	}
	if c.EventIDs {
		e.runID = runID
	}
	return e
}

// appendBody appends n events numbered from first: a bare object when n is
// one, else an array. It appends each event's match number to matches.
func (e *encoder) appendBody(dst []byte, matches []uint64, r *rand.Rand, first int64, n int) ([]byte, []uint64) {
	if n == 1 {
		return e.appendEvent(dst, matches, r, first)
	}
	dst = append(dst, '[')
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst, matches = e.appendEvent(dst, matches, r, first+int64(i))
	}
	return append(dst, ']'), matches
}

// appendEvent appends one event object, and its match number to matches.
func (e *encoder) appendEvent(dst []byte, matches []uint64, r *rand.Rand, seq int64) ([]byte, []uint64) {
	if e.noUser {
		dst = append(dst, `{"match_id":"`+MatchPrefix...)
	} else {
		dst = append(dst, `{"user_id":"`+UserPrefix...)
		dst = strconv.AppendUint(dst, r.Uint64N(e.users), 10)
		dst = append(dst, `","match_id":"`+MatchPrefix...)
	}
	match := r.Uint64N(e.matches)
	dst = strconv.AppendUint(dst, match, 10)
	dst = append(dst, e.emojis[e.picker.pick(r.Uint32N(e.picker.total))]...)
	if e.runID != "" {
		dst = append(dst, `,"event_id":"`...)
		dst = appendEventID(dst, e.runID, seq)
		dst = append(dst, '"')
	}
	return append(dst, '}'), append(matches, match)
}

// appendEventID appends the event_id of event seq of run runID.
func appendEventID(dst []byte, runID string, seq int64) []byte {
	dst = append(dst, runID...)
	dst = append(dst, '-')
	return strconv.AppendInt(dst, seq, 10)
}
