package wire

// Decoder decodes and validates POST /v1/emojis bodies. Build it once with
// NewDecoder; it is safe for concurrent use.
type Decoder struct {
	emojis       *EmojiSet
	userOptional bool // user_id may be absent (the server fills it in)
}

// NewDecoder returns a decoder that accepts the emojis of set (nil means
// DefaultEmojis).
func NewDecoder(set *EmojiSet) *Decoder {
	if set == nil {
		set = MustEmojiSet(nil)
	}
	return &Decoder{emojis: set}
}

// WithOptionalUser returns a decoder like d that accepts events without
// user_id, leaving Event.UserID empty: for a server that takes the user
// from a verified token and fills it in. A user_id that is given must
// still be valid.
func (d *Decoder) WithOptionalUser() *Decoder {
	c := *d
	c.userOptional = true
	return &c
}

// Emojis returns the decoder's allow-list.
func (d *Decoder) Emojis() *EmojiSet { return d.emojis }

// Decode parses body, one event object or an array of 1 to MaxBatch of them,
// and validates every event. It appends to dst and returns it. On any error
// it returns a *RequestError naming the first bad event; then no event of the
// body may be used.
func (d *Decoder) Decode(dst []Event, body []byte) ([]Event, error) {
	s := &scanner{data: body}
	switch s.peek() {
	case '{':
		ev, err := d.event(s, 0)
		if err != nil {
			return dst, err
		}
		dst = append(dst, ev)
	case '[':
		var err error
		if dst, err = d.events(s, dst); err != nil {
			return dst, err
		}
	case 0:
		return dst, reqErr(CodeBadJSON, -1, "empty body: want an event object or an array of them")
	default:
		return dst, reqErr(CodeBadJSON, -1, "want an event object or an array of them")
	}
	if err := s.end(); err != nil {
		return dst, reqErr(CodeBadJSON, -1, "data after the JSON value")
	}
	return dst, nil
}

func (d *Decoder) events(s *scanner, dst []Event) ([]Event, error) {
	n := 0
	var bad error
	err := s.array(func() error {
		if n == MaxBatch {
			bad = reqErr(CodeTooManyEvents, n, "more than %d events in one request", MaxBatch)
			return bad
		}
		if s.peek() != '{' {
			bad = reqErr(CodeBadJSON, n, "want an event object")
			return bad
		}
		ev, err := d.event(s, n)
		if err != nil {
			bad = err
			return err
		}
		dst = append(dst, ev)
		n++
		return nil
	})
	switch {
	case bad != nil:
		return dst, bad
	case err != nil:
		return dst, reqErr(CodeBadJSON, n, "%v", err)
	case n == 0:
		return dst, reqErr(CodeTooManyEvents, -1, "empty array: want 1 to %d events", MaxBatch)
	}
	return dst, nil
}

// Field bits, to find missing and repeated keys.
const (
	fUser = 1 << iota
	fMatch
	fEmoji
	fEventID
	fTimestamp
	fNullEventID // event_id was null, which means absent
	fVideoTS
)

func (d *Decoder) event(s *scanner, i int) (Event, error) {
	var ev Event
	seen, err := d.members(s, &ev, i)
	if err != nil {
		return ev, err
	}
	s.settle(&ev)
	return ev, d.check(&ev, seen, i)
}

// members reads an event object's members into ev (strings are kept in the
// scanner until settle) and returns the bits of the keys it saw. It is a
// plain loop rather than scanner.object with a closure, which would move ev
// to the heap: this is the hot path of ingest.
func (d *Decoder) members(s *scanner, ev *Event, i int) (int, error) {
	if err := s.expect('{'); err != nil {
		return 0, reqErr(CodeBadJSON, i, "%v", err)
	}
	seen := 0
	if s.peek() == '}' {
		s.pos++
		return 0, nil
	}
	for {
		key, err := s.str()
		if err == nil {
			err = s.expect(':')
		}
		if err != nil {
			return 0, reqErr(CodeBadJSON, i, "%v", err)
		}
		bit, ferr := d.field(s, ev, key, i)
		if ferr != nil {
			return 0, ferr
		}
		if seen&bit != 0 {
			return 0, reqErr(CodeBadField, i, "field %q given twice", key)
		}
		seen |= bit
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return seen, nil
		case 0:
			return 0, reqErr(CodeBadJSON, i, "%v", errEOF)
		default:
			return 0, reqErr(CodeBadJSON, i, "%v", errSyntax)
		}
	}
}

// field decodes the value of one key into ev and returns the key's bit.
func (d *Decoder) field(s *scanner, ev *Event, key []byte, i int) (int, *RequestError) {
	var bit int
	switch string(key) {
	case "user_id":
		bit = fUser
	case "match_id":
		bit = fMatch
	case "emoji_type":
		bit = fEmoji
	case "event_id":
		bit = fEventID
	case "timestamp":
		return fTimestamp, d.timestamp(s, ev, i)
	case "video_ts":
		return fVideoTS, d.videoTS(s, ev, i)
	default:
		return 0, reqErr(CodeBadField, i, "unknown field %q", key)
	}
	if bit == fEventID && s.null() {
		return fEventID | fNullEventID, nil
	}
	if s.peek() != '"' {
		return 0, notA(s, "a string", key, i)
	}
	v, err := s.str()
	if err != nil {
		return 0, reqErr(CodeBadJSON, i, "field %q: %v", key, err)
	}
	if bit == fEmoji { // the emoji set is asked for emoji_type alone
		if c, ok := d.emojis.byKey[string(v)]; ok {
			ev.EmojiType = c // the configured spelling: no allocation
			return bit, nil
		}
	}
	s.keep(bit, v)
	return bit, nil
}

func (d *Decoder) timestamp(s *scanner, ev *Event, i int) *RequestError {
	switch c := s.peek(); {
	case c == 'n' && s.null():
		return nil
	case c == '"':
		v, err := s.str()
		if err != nil {
			return reqErr(CodeBadJSON, i, "field \"timestamp\": %v", err)
		}
		ms, ok := parseTimestamp(string(v))
		if !ok {
			return reqErr(CodeBadField, i, "field \"timestamp\": want RFC 3339 (2026-11-23T05:00:00.123Z) or Unix milliseconds")
		}
		ev.ClientTS = ms
		return nil
	case c == '-' || c >= '0' && c <= '9':
		ms, err := s.integer()
		if err != nil || ms < 0 || ms > MaxTimeMs {
			return reqErr(CodeBadField, i, "field \"timestamp\": want Unix milliseconds as a whole number from 0 to year 9999")
		}
		ev.ClientTS = ms
		return nil
	}
	return notA(s, "a string or a number", []byte("timestamp"), i)
}

// videoTS reads video_ts: Unix milliseconds as a whole number, or null
// (absent). Its range against the server's clock is ingest's to check
// (CheckVideoTS), but a value that cannot be a program time (negative,
// past year 9999) is refused here.
func (d *Decoder) videoTS(s *scanner, ev *Event, i int) *RequestError {
	switch c := s.peek(); {
	case c == 'n' && s.null():
		return nil
	case c == '-' || c >= '0' && c <= '9':
		ms, err := s.integer()
		if err != nil || ms <= 0 || ms > MaxTimeMs {
			return reqErr(CodeBadVideoTS, i, "field \"video_ts\": want the program time of the frame on screen, in Unix milliseconds as a whole number")
		}
		ev.VideoTS = ms
		return nil
	}
	return notA(s, "a number (Unix milliseconds)", []byte("video_ts"), i)
}

// CheckVideoTS returns the error for the first event of evs whose
// video_ts is outside the bounds of a reaction received at receivedMs
// (VideoInRange), or nil.
func CheckVideoTS(evs []Event, receivedMs int64) *RequestError {
	for i := range evs {
		v := evs[i].VideoTS
		switch {
		case v == 0 || VideoInRange(v, receivedMs):
			continue
		case v > receivedMs:
			return reqErr(CodeBadVideoTS, i, "field \"video_ts\": %d ms ahead of the server's clock (at most %d ms: a program time is of a frame already on screen)",
				v-receivedMs, MaxVideoLead.Milliseconds())
		default:
			return reqErr(CodeBadVideoTS, i, "field \"video_ts\": %d ms behind the server's clock (at most %d ms: the timeline takes reactions to the last %d s of the match)",
				receivedMs-v, MaxVideoLag.Milliseconds(), int(MaxVideoLag.Seconds()))
		}
	}
	return nil
}

// notA is the error for a value of the wrong type: bad_field if it is
// JSON, bad_json if it is not (NaN, a misspelt true).
func notA(s *scanner, want string, key []byte, i int) *RequestError {
	if err := s.skip(0); err != nil && err != errTooDeep {
		return reqErr(CodeBadJSON, i, "field %q: %v", key, err)
	}
	return reqErr(CodeBadField, i, "field %q: want %s", key, want)
}

// check validates a decoded event and canonicalises its emoji.
func (d *Decoder) check(ev *Event, seen, i int) error {
	switch {
	case seen&fUser == 0 && !d.userOptional:
		return reqErr(CodeBadField, i, "field \"user_id\" is required")
	case seen&fUser != 0 && !validText(ev.UserID, MaxUserID):
		return reqErr(CodeBadField, i, "field \"user_id\": want 1 to %d bytes without control characters", MaxUserID)
	case seen&fMatch == 0:
		return reqErr(CodeBadField, i, "field \"match_id\" is required")
	case !ValidMatchID(ev.MatchID):
		return reqErr(CodeBadField, i, "field \"match_id\": want %s", MatchIDRule)
	case seen&fEmoji == 0:
		return reqErr(CodeBadField, i, "field \"emoji_type\" is required")
	case seen&fEventID != 0 && seen&fNullEventID == 0 && !validText(ev.EventID, MaxEventID):
		return reqErr(CodeBadField, i, "field \"event_id\": want 1 to %d bytes without control characters", MaxEventID)
	}
	c, ok := d.emojis.Canonical(ev.EmojiType)
	if !ok {
		return reqErr(CodeUnknownEmoji, i, "emoji_type %q is not allowed (GET /v1/emoji-types lists them)", ev.EmojiType)
	}
	ev.EmojiType = c
	return nil
}
