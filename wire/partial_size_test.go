package wire_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/emostream/emostream/wire"
)

func TestJSONStringBytesBoundsEncoding(t *testing.T) {
	tests := []struct {
		name string
		s    string
	}{
		{"empty", ""},
		{"match id", strings.Repeat("a-Z_9", 12) + "abcd"},
		{"emoji", "❤️"},
		{"skin tone and ZWJ", "👩🏽‍🚒"},
		{"quotes and backslashes", `"\"\\`},
		{"control characters", "\x00\x01\n\r\t\x1f\x7f"},
		{"HTML characters", "<script>&amp;</script>"},
		{"line separators", "\u2028\u2029"},
		{"invalid UTF-8", "\xff\xfe\xc0\x80\xed\xa0\x80"},
		{"truncated rune", "🔥"[:3]},
		{"every escape at the emoji limit", strings.Repeat("<", wire.MaxEmojiBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if got := wire.JSONStringBytes(tt.s); got < len(data) {
				t.Errorf("JSONStringBytes(%q) = %d, encoding is %d bytes: %s", tt.s, got, len(data), data)
			}
		})
	}
}

// The bound the bridge keeps while it adds keys to a partial holds for
// the widest numbers and the worst strings, and is close for real ones.
func TestPartialBytesBound(t *testing.T) {
	tests := []struct {
		name          string
		matches       int
		emojis        []string
		count         int64
		slackPerKeyAt int // the bound may exceed the encoding by at most this per key
	}{
		{"widest counts, allow-list emojis", 50, wire.DefaultEmojis, math.MaxInt64, 2},
		{"single counts", 50, wire.DefaultEmojis, 1, 21},
		{"hostile emoji spellings", 20, []string{strings.Repeat("<", 64), "\xff\xfe", "\u2028", `"\`, "\x00"}, -math.MaxInt64 - 1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := wire.Partial{Topic: "emostream.events", Partition: math.MaxInt32, WindowStartMs: math.MinInt64,
				WindowMs: math.MinInt64, FirstOffset: math.MinInt64, LastOffset: math.MinInt64, Counts: wire.Counts{},
				Late: math.MinInt64, Duplicates: math.MinInt64, Bad: math.MinInt64, More: true}
			bound, keys := wire.PartialBaseBytes(p.Topic), 0
			for i := range tt.matches {
				match := strings.Repeat(string(rune('a'+i%26)), wire.MaxMatchID-2) + string(rune('A'+i/26)) + "_"
				for j, e := range tt.emojis {
					bound += wire.CountKeyBytes(match, e, j == 0)
					p.Counts.Add(match, e, tt.count)
					keys++
				}
			}
			data, err := p.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if len(data) > bound {
				t.Fatalf("encoding is %d bytes, above the bound %d", len(data), bound)
			}
			if slack := bound - len(data); slack > tt.slackPerKeyAt*keys+tt.matches*2 {
				t.Errorf("bound %d is %d above the encoding (%d keys): too loose", bound, slack, keys)
			}
		})
	}
}
