package wire

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a small strict JSON reader for the flat objects of the wire
// format: objects whose values are strings, integers or null. It is several
// times faster than encoding/json for them, and stricter: keys are compared
// exactly (no case folding), and invalid UTF-8 is an error, not replaced.
type scanner struct {
	data []byte
	pos  int
	buf  []byte // unescaping scratch

	// keep and settle turn an object's string values into substrings of
	// one allocated string.
	arena []byte
	kept  []keptString
}

type keptString struct {
	field      int // an f… bit of request.go
	start, end int
}

// keep records that the field gets v's bytes at the next settle.
func (s *scanner) keep(field int, v []byte) {
	start := len(s.arena)
	s.arena = append(s.arena, v...)
	s.kept = append(s.kept, keptString{field, start, len(s.arena)})
}

// settle assigns the kept strings to ev, with one allocation for all.
func (s *scanner) settle(ev *Event) {
	all := string(s.arena)
	for _, k := range s.kept {
		v := all[k.start:k.end]
		switch k.field {
		case fUser:
			ev.UserID = v
		case fMatch:
			ev.MatchID = v
		case fEmoji:
			ev.EmojiType = v
		case fEventID:
			ev.EventID = v
		}
	}
	s.arena, s.kept = s.arena[:0], s.kept[:0]
}

var (
	errSyntax   = errors.New("malformed JSON")
	errEOF      = errors.New("unexpected end of JSON")
	errUTF8     = errors.New("invalid UTF-8 in string")
	errControl  = errors.New("control character in string")
	errEscape   = errors.New("invalid escape in string")
	errNotInt   = errors.New("not an integer")
	errTooDeep  = errors.New("nested too deeply")
	errNotValue = errors.New("expected a JSON value")
)

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// expect consumes byte c after white space.
func (s *scanner) expect(c byte) error {
	switch s.peek() {
	case c:
		s.pos++
		return nil
	case 0:
		return errEOF
	}
	return errSyntax
}

// str reads a string; the result aliases s.data or s.buf and is valid until
// the next call.
func (s *scanner) str() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	start := s.pos
	n, ascii := plainRun(s.data[start:])
	s.pos += n
	if s.pos == len(s.data) {
		return nil, errEOF
	}
	switch s.data[s.pos] {
	case '"':
		out := s.data[start:s.pos]
		s.pos++
		if !ascii && !utf8.Valid(out) { // ASCII is valid UTF-8
			return nil, errUTF8
		}
		return out, nil
	case '\\':
		return s.strEscaped(start)
	}
	return nil, errControl
}

// strSpecial marks the bytes that end a string's plain run: the closing
// quote, a backslash and the control characters JSON forbids in strings.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// plainRun is the length of b's leading run of bytes that strSpecial does
// not mark (a JSON string's bytes up to its end or its first escape), and
// whether they are all ASCII: only then may their UTF-8 check be skipped.
func plainRun[T ~string | ~[]byte](b T) (n int, ascii bool) {
	var high byte // the OR of the bytes: ≥ 0x80 if any was not ASCII
	for n < len(b) && !strSpecial[b[n]] {
		high |= b[n]
		n++
	}
	return n, high < utf8.RuneSelf
}

func (s *scanner) strEscaped(start int) ([]byte, error) {
	s.buf = append(s.buf[:0], s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			if !utf8.Valid(s.buf) {
				return nil, errUTF8
			}
			return s.buf, nil
		case c < 0x20:
			return nil, errControl
		case c != '\\':
			s.buf = append(s.buf, c)
			s.pos++
			continue
		}
		if err := s.escape(); err != nil {
			return nil, err
		}
	}
	return nil, errEOF
}

var simpleEscapes = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// escape decodes the escape sequence at s.pos (which is a backslash).
func (s *scanner) escape() error {
	if s.pos+1 >= len(s.data) {
		return errEOF
	}
	e := s.data[s.pos+1]
	if r := simpleEscapes[e]; r != 0 {
		s.buf = append(s.buf, r)
		s.pos += 2
		return nil
	}
	if e != 'u' {
		return errEscape
	}
	r, ok := s.hex4(s.pos + 2)
	if !ok {
		return errEscape
	}
	s.pos += 6
	if utf16.IsSurrogate(r) {
		r2, ok := rune(0), false
		if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
			r2, ok = s.hex4(s.pos + 2)
		}
		if r = utf16.DecodeRune(r, r2); !ok || r == utf8.RuneError {
			return errEscape // a lone surrogate is not a character
		}
		s.pos += 6
	}
	s.buf = utf8.AppendRune(s.buf, r)
	return nil
}

func (s *scanner) hex4(at int) (rune, bool) {
	if at+4 > len(s.data) {
		return 0, false
	}
	var r rune
	for _, c := range s.data[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// integer reads a JSON number that must be an integer that fits in int64.
func (s *scanner) integer() (int64, error) {
	s.ws()
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if (c < '0' || c > '9') && c != '-' && c != '+' && c != '.' && c != 'e' && c != 'E' {
			break
		}
		s.pos++
	}
	tok := s.data[start:s.pos]
	if len(tok) == 0 {
		return 0, errNotValue
	}
	if tok[0] == '+' || len(tok) > 1 && tok[0] == '0' || len(tok) > 2 && tok[0] == '-' && tok[1] == '0' {
		return 0, errSyntax // JSON forbids leading zeros
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	if err != nil {
		return 0, errNotInt
	}
	return n, nil
}

// null consumes a literal null if it is next, and reports whether it was.
func (s *scanner) null() bool {
	s.ws()
	if len(s.data)-s.pos >= 4 && string(s.data[s.pos:s.pos+4]) == "null" {
		s.pos += 4
		return true
	}
	return false
}

// object reads an object, calling field for each key; field must consume the
// key's value. Keys are passed unescaped and valid only during the call.
func (s *scanner) object(field func(key []byte) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		key, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		case 0:
			return errEOF
		default:
			return errSyntax
		}
	}
}

// skip consumes any JSON value, nested at most maxDepth deep.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	switch c := s.peek(); {
	case c == '"':
		_, err := s.str()
		return err
	case c == '{':
		return s.object(func([]byte) error { return s.skip(depth + 1) })
	case c == '[':
		return s.array(func() error { return s.skip(depth + 1) })
	case c == 't' || c == 'f' || c == 'n':
		return s.literal()
	case c == 0:
		return errEOF
	}
	_, err := s.number()
	return err
}

const maxDepth = 32

func (s *scanner) literal() error {
	for _, lit := range []string{"true", "false", "null"} {
		if len(s.data)-s.pos >= len(lit) && string(s.data[s.pos:s.pos+len(lit)]) == lit {
			s.pos += len(lit)
			return nil
		}
	}
	return errSyntax
}

// number consumes any JSON number and returns its text.
func (s *scanner) number() ([]byte, error) {
	start := s.pos
	for s.pos < len(s.data) && (s.data[s.pos] >= '0' && s.data[s.pos] <= '9' ||
		s.data[s.pos] == '-' || s.data[s.pos] == '+' || s.data[s.pos] == '.' || s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
	}
	tok := s.data[start:s.pos]
	if len(tok) == 0 || tok[0] == '+' || tok[0] == '.' || tok[len(tok)-1] == '.' {
		return nil, errNotValue
	}
	if _, err := strconv.ParseFloat(string(tok), 64); err != nil {
		return nil, errNotValue
	}
	return tok, nil
}

// array reads an array, calling elem for each element; elem must consume it.
func (s *scanner) array(elem func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return nil
		case 0:
			return errEOF
		default:
			return errSyntax
		}
	}
}

// document reads data as one object, as object does, with nothing but
// white space after it: a whole record.
func (s *scanner) document(field func(key []byte) error) error {
	if err := s.object(field); err != nil {
		return err
	}
	return s.end()
}

// end checks that only white space follows.
func (s *scanner) end() error {
	if s.peek() != 0 {
		return errSyntax
	}
	return nil
}
