package wire

import (
	"fmt"
	"unicode/utf8"
)

// RecordScanner decodes Kafka record values like DecodeRecord, without
// allocating. The byte fields of the last Scan may alias its data: they are
// valid until the next Scan and while data is unchanged.
// A bridge reads a million records a second per core through it.
type RecordScanner struct {
	EventID, UserID, MatchID, EmojiType []byte
	ClientTS, ReceivedAt, VideoTS       int64

	s   scanner
	own [4][]byte // the strict path's copies of the byte fields, never aliasing data
}

// Scan decodes one record value, with DecodeRecord's rules. A value in
// exactly the layout Record.AppendJSON writes takes a fast path that
// accepts only what the strict path accepts, with the same result
// (FuzzRecordScannerFastPath); any other value takes the strict path.
func (r *RecordScanner) Scan(data []byte) error {
	if r.fast(data) {
		return r.check()
	}
	return r.scanStrict(data)
}

// scanStrict decodes data with the strict JSON scanner.
func (r *RecordScanner) scanStrict(data []byte) error {
	r.EventID, r.UserID, r.MatchID, r.EmojiType = r.own[0][:0], r.own[1][:0], r.own[2][:0], r.own[3][:0]
	r.ClientTS, r.ReceivedAt, r.VideoTS = 0, 0, 0
	r.s.data, r.s.pos = data, 0
	if err := r.s.document(r.field); err != nil {
		return fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	return r.check()
}

// check applies the rules beyond the syntax: a record that could not be
// counted is bad.
func (r *RecordScanner) check() error {
	switch {
	case !validMatchID(r.MatchID):
		return fmt.Errorf("%w: match_id %w", ErrBadRecord, CheckMatchID(string(r.MatchID)))
	case len(r.EmojiType) == 0:
		return fmt.Errorf("%w: no emoji_type", ErrBadRecord)
	}
	return nil
}

func (r *RecordScanner) field(key []byte) error {
	var dst *[]byte
	var i int // dst's copy in r.own
	switch string(key) {
	case "event_id":
		dst, i = &r.EventID, 0
	case "user_id":
		dst, i = &r.UserID, 1
	case "match_id":
		dst, i = &r.MatchID, 2
	case "emoji_type":
		dst, i = &r.EmojiType, 3
	case "client_ts":
		return r.s.intInto(&r.ClientTS)
	case "received_at":
		return r.s.intInto(&r.ReceivedAt)
	case "video_ts":
		return r.s.intInto(&r.VideoTS)
	default:
		return r.s.skip(0)
	}
	v, err := r.s.str()
	if err != nil {
		return fmt.Errorf("field %q: %w", key, err)
	}
	r.own[i] = append(r.own[i][:0], v...) // v may be the scanner's scratch
	*dst = r.own[i]
	return nil
}

// fast decodes data if it is in exactly the layout AppendJSON writes, with
// no escape or control character in a string and every integer plain
// decimal digits that cannot overflow, and reports whether it did. The
// byte fields alias data. On false the fields are undefined.
func (r *RecordScanner) fast(data []byte) bool {
	p, ok := 0, false
	if r.EventID, p, ok = fastStr(data, p, `{"event_id":"`); !ok {
		return false
	}
	if r.UserID, p, ok = fastStr(data, p, `,"user_id":"`); !ok {
		return false
	}
	if r.MatchID, p, ok = fastStr(data, p, `,"match_id":"`); !ok {
		return false
	}
	if r.EmojiType, p, ok = fastStr(data, p, `,"emoji_type":"`); !ok {
		return false
	}
	if r.ClientTS, p, ok = fastInt(data, p, `,"client_ts":`); !ok {
		return false
	}
	if r.ReceivedAt, p, ok = fastInt(data, p, `,"received_at":`); !ok {
		return false
	}
	if r.VideoTS = 0; p != len(data)-1 {
		if r.VideoTS, p, ok = fastInt(data, p, `,"video_ts":`); !ok {
			return false
		}
	}
	return p == len(data)-1 && data[p] == '}'
}

// fastStr reads prefix at data[p:], then a string's bytes up to its closing
// quote, and returns them and the position after the quote. It refuses a
// backslash, a control character and invalid UTF-8.
func fastStr(data []byte, p int, prefix string) ([]byte, int, bool) {
	if len(data)-p < len(prefix) || string(data[p:p+len(prefix)]) != prefix {
		return nil, p, false
	}
	p += len(prefix)
	n, ascii := plainRun(data[p:])
	i := p + n
	if i == len(data) || data[i] != '"' { // the end, an escape or a control character
		return nil, p, false
	}
	v := data[p:i]
	if !ascii && !utf8.Valid(v) {
		return nil, p, false
	}
	return v, i + 1, true
}

// maxFastDigits is the most digits fastInt reads: any 18 fit in an int64.
const maxFastDigits = 18

// fastInt reads prefix at data[p:], then an unsigned decimal integer of at
// most maxFastDigits digits without a leading zero, and returns it and the
// position after it.
func fastInt(data []byte, p int, prefix string) (int64, int, bool) {
	if len(data)-p < len(prefix) || string(data[p:p+len(prefix)]) != prefix {
		return 0, p, false
	}
	p += len(prefix)
	start := p
	var n int64
	for ; p < len(data) && data[p] >= '0' && data[p] <= '9'; p++ {
		n = n*10 + int64(data[p]-'0')
		if p-start >= maxFastDigits {
			return 0, p, false
		}
	}
	if p == start || data[start] == '0' && p-start > 1 {
		return 0, p, false
	}
	return n, p, true
}
