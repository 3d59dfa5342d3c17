package wire

import (
	"fmt"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// DefaultEmojis is the allow-list of sports-crowd reactions used when none is
// configured.
var DefaultEmojis = []string{"🔥", "👏", "😂", "😮", "😢", "😡", "❤️", "👍", "👎", "🎉", "⚽", "🏆"}

// EmojiSet is an allow-list of emojis. Lookups compare a canonical key: NFC
// normalised, with variation selectors (U+FE0E, U+FE0F) and skin-tone
// modifiers (U+1F3FB–U+1F3FF) removed, so "❤" and "❤️" are one emoji and
// "👍🏽" counts as "👍". Every event is stored with the spelling of the list.
type EmojiSet struct {
	list  []string
	byKey map[string]string
}

// NewEmojiSet builds a set from the given spellings. An empty list means
// DefaultEmojis. Two spellings of one emoji, or an empty one, are an error.
func NewEmojiSet(emojis []string) (*EmojiSet, error) {
	if len(emojis) == 0 {
		emojis = DefaultEmojis
	}
	s := &EmojiSet{byKey: make(map[string]string, len(emojis))}
	for _, e := range emojis {
		k := emojiKey(e)
		if k == "" || len(e) > 64 {
			return nil, fmt.Errorf("wire: emoji %q: empty or longer than 64 bytes", e)
		}
		if prev, dup := s.byKey[k]; dup {
			return nil, fmt.Errorf("wire: emojis %q and %q are the same emoji", prev, e)
		}
		s.byKey[k] = e
		s.byKey[e] = e // the exact spelling, for the fast path
		s.list = append(s.list, e)
	}
	return s, nil
}

// MustEmojiSet is NewEmojiSet that panics, for fixed lists.
func MustEmojiSet(emojis []string) *EmojiSet {
	s, err := NewEmojiSet(emojis)
	if err != nil {
		panic(err)
	}
	return s
}

// List returns the allowed spellings in configured order.
func (s *EmojiSet) List() []string { return append([]string(nil), s.list...) }

// Canonical returns the configured spelling of e, and whether e is allowed.
func (s *EmojiSet) Canonical(e string) (string, bool) {
	if c, ok := s.byKey[e]; ok { // fast path: a configured spelling or key
		return c, true
	}
	c, ok := s.byKey[emojiKey(e)]
	return c, ok
}

func emojiKey(e string) string {
	if len(e) > 64 {
		return ""
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == 0xFE0E, r == 0xFE0F, r >= 0x1F3FB && r <= 0x1F3FF:
			return -1
		}
		return r
	}, norm.NFC.String(e))
}
