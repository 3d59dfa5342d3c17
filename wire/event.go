package wire

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Limits of the Event API.
const (
	// MaxBatch is the most events one request may carry.
	MaxBatch = 1000
	// MaxUserID is the longest user_id, in bytes.
	MaxUserID = 128
	// MaxMatchID is the longest match_id, in bytes.
	MaxMatchID = 64
	// MaxEventID is the longest event_id, in bytes.
	MaxEventID = 64
)

// Event is one reaction as a viewer sends it to POST /v1/emojis:
//
//	{"user_id": "u-42", "match_id": "final-2026", "emoji_type": "🔥",
//	 "timestamp": "2026-11-23T05:00:00.123Z", "event_id": "optional",
//	 "video_ts": 1795409980123}
//
// timestamp (RFC 3339 or Unix milliseconds), event_id and video_ts are
// optional.
type Event struct {
	EventID   string
	UserID    string
	MatchID   string
	EmojiType string
	// ClientTS is the client's timestamp in Unix milliseconds, 0 if absent.
	// It is informational: the server's receive time decides the window.
	ClientTS int64
	// VideoTS is the program time (Unix ms) of the video frame the viewer
	// saw when reacting, 0 if absent. The decoder checks its type; ingest
	// checks it against its clock (CheckVideoTS): the match's timeline
	// counts the event in the window containing it (docs/api.md,
	// "Timeline", by=video).
	VideoTS int64
}

// Bounds of video_ts against the server's receive time: a reaction's
// program time is at most MaxVideoLag behind it (a viewer's stream that
// far behind live) and at most MaxVideoLead ahead (clock skew between the
// stream's packager and ingest).
const (
	MaxVideoLag  = 60 * time.Second
	MaxVideoLead = 2 * time.Second
)

// VideoInRange reports whether a video_ts of videoMs is within the bounds
// of a reaction received at receivedMs: in [receivedMs-MaxVideoLag,
// receivedMs+MaxVideoLead].
func VideoInRange(videoMs, receivedMs int64) bool {
	return videoMs >= receivedMs-MaxVideoLag.Milliseconds() && videoMs <= receivedMs+MaxVideoLead.Milliseconds()
}

// ValidMatchID reports whether m can be a match_id: 1 to 64 bytes of
// [A-Za-z0-9_-], so that it is a single NATS subject token.
func ValidMatchID(m string) bool { return validMatchID(m) }

// validMatchID is the one match id rule, for strings and for the record
// scanner's bytes.
func validMatchID[S string | []byte](m S) bool {
	if len(m) == 0 || len(m) > MaxMatchID {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// MatchIDRule says what a match id is, in every message that refuses one
// and in the help of every flag that takes one.
var MatchIDRule = fmt.Sprintf("1 to %d characters of A-Z a-z 0-9 _ -", MaxMatchID)

// CheckMatchID returns nil for a valid match id (ValidMatchID), else the
// error every stage refuses one with: the id quoted, then the rule, as in
// `"a b": want 1 to 64 characters of A-Z a-z 0-9 _ -`. The caller puts
// the name of the setting first: fmt.Errorf("--match %w", err).
func CheckMatchID(m string) error {
	if ValidMatchID(m) {
		return nil
	}
	return fmt.Errorf("%q: want %s", m, MatchIDRule)
}

// ValidUserID reports whether s is a valid user_id: 1 to MaxUserID bytes of
// UTF-8 without control characters.
func ValidUserID(s string) bool { return validText(s, MaxUserID) }

// validText reports whether s is 1..max bytes of UTF-8 with no control
// characters.
func validText(s string, max int) bool {
	if len(s) == 0 || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return false
		}
	}
	return true
}

// parseTimestamp accepts RFC 3339 (any sub-second precision) and returns Unix
// milliseconds.
func parseTimestamp(s string) (int64, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() < 1970 || t.Year() > 9999 {
		return 0, false
	}
	return t.UnixMilli(), true
}
