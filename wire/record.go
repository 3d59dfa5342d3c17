package wire

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Record is an event as kept in Kafka: the record's key is UserID, its
// timestamp is ReceivedAt, and its value is this JSON object:
//
//	{"event_id":"","user_id":"u-42","match_id":"final-2026","emoji_type":"🔥",
//	 "client_ts":1795410000123,"received_at":1795410000456,"video_ts":1795409980123}
//
// client_ts, received_at and video_ts are Unix milliseconds; client_ts is
// 0 when the client sent no timestamp, event_id is "" when it sent no
// event_id, and video_ts is left out when the client sent none.
type Record struct {
	EventID    string
	UserID     string
	MatchID    string
	EmojiType  string
	ClientTS   int64
	ReceivedAt int64
	VideoTS    int64
}

// Record returns the record of ev received at receivedAt (Unix ms).
func (ev *Event) Record(receivedAt int64) Record {
	return Record{EventID: ev.EventID, UserID: ev.UserID, MatchID: ev.MatchID,
		EmojiType: ev.EmojiType, ClientTS: ev.ClientTS, ReceivedAt: receivedAt, VideoTS: ev.VideoTS}
}

// AppendJSON appends r's JSON encoding to dst.
func (r *Record) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"event_id":`...)
	dst = appendString(dst, r.EventID)
	dst = append(dst, `,"user_id":`...)
	dst = appendString(dst, r.UserID)
	dst = append(dst, `,"match_id":`...)
	dst = appendString(dst, r.MatchID)
	dst = append(dst, `,"emoji_type":`...)
	dst = appendString(dst, r.EmojiType)
	dst = append(dst, `,"client_ts":`...)
	dst = strconv.AppendInt(dst, r.ClientTS, 10)
	dst = append(dst, `,"received_at":`...)
	dst = strconv.AppendInt(dst, r.ReceivedAt, 10)
	if r.VideoTS != 0 {
		dst = append(dst, `,"video_ts":`...)
		dst = strconv.AppendInt(dst, r.VideoTS, 10)
	}
	return append(dst, '}')
}

// MarshalJSON implements json.Marshaler.
func (r Record) MarshalJSON() ([]byte, error) { return r.AppendJSON(nil), nil }

// UnmarshalJSON implements json.Unmarshaler with DecodeRecord's rules.
func (r *Record) UnmarshalJSON(b []byte) error { return DecodeRecord(b, r) }

// ErrBadRecord is wrapped by DecodeRecord's errors.
var ErrBadRecord = fmt.Errorf("wire: bad record")

// DecodeRecord parses a Kafka record value into r. Unknown fields are
// skipped, so newer producers may add some; match_id must be a valid match
// and emoji_type non-empty, or the record could not be counted. It is
// RecordScanner with the fields copied into strings.
func DecodeRecord(data []byte, r *Record) error {
	*r = Record{}
	var sc RecordScanner
	if err := sc.Scan(data); err != nil {
		return err
	}
	*r = Record{EventID: string(sc.EventID), UserID: string(sc.UserID), MatchID: string(sc.MatchID),
		EmojiType: string(sc.EmojiType), ClientTS: sc.ClientTS, ReceivedAt: sc.ReceivedAt, VideoTS: sc.VideoTS}
	return nil
}

func (s *scanner) intInto(dst *int64) error {
	n, err := s.integer()
	*dst = n
	return err
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
// A string with nothing to escape (every event's strings, nearly) is
// checked through strSpecial and copied whole.
func appendString(dst []byte, s string) []byte {
	if n, ascii := plainRun(s); n < len(s) || !ascii && !utf8.ValidString(s) {
		return appendEscaped(dst, s)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// appendEscaped is appendString for a string with something to escape or
// replace.
func appendEscaped(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendJSONString appends s as a quoted JSON string: quotes, backslashes
// and control characters escaped, other bytes as they are (s must be valid
// UTF-8 for the result to be valid JSON).
func AppendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
