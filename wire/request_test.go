package wire_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/emostream/emostream/wire"
)

func TestDecodeValid(t *testing.T) {
	d := wire.NewDecoder(nil)
	tests := []struct {
		name string
		body string
		want []wire.Event
	}{
		{"one", `{"user_id":"u-42","match_id":"final-2026","emoji_type":"🔥"}`,
			[]wire.Event{{UserID: "u-42", MatchID: "final-2026", EmojiType: "🔥"}}},
		{"array and whitespace", " [ {\"user_id\":\"a\",\"match_id\":\"m\",\"emoji_type\":\"👏\"} ,\n{\"user_id\":\"b\",\"match_id\":\"m\",\"emoji_type\":\"🎉\"} ] ",
			[]wire.Event{{UserID: "a", MatchID: "m", EmojiType: "👏"}, {UserID: "b", MatchID: "m", EmojiType: "🎉"}}},
		{"rfc3339 timestamp", `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":"2026-11-23T05:00:00.123Z"}`,
			[]wire.Event{{UserID: "u", MatchID: "m", EmojiType: "🔥", ClientTS: 1795410000123}}},
		{"unix ms timestamp", `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":1795410000123}`,
			[]wire.Event{{UserID: "u", MatchID: "m", EmojiType: "🔥", ClientTS: 1795410000123}}},
		{"null optional fields", `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":null,"event_id":null}`,
			[]wire.Event{{UserID: "u", MatchID: "m", EmojiType: "🔥"}}},
		{"event id", `{"event_id":"e-1","user_id":"u","match_id":"m","emoji_type":"🔥"}`,
			[]wire.Event{{EventID: "e-1", UserID: "u", MatchID: "m", EmojiType: "🔥"}}},
		{"escaped strings", `{"user_id":"\u00e9\"q\\","match_id":"m","emoji_type":"\ud83d\udd25"}`,
			[]wire.Event{{UserID: "é\"q\\", MatchID: "m", EmojiType: "🔥"}}},
		{"heart without FE0F is the configured heart", `{"user_id":"u","match_id":"m","emoji_type":"❤"}`,
			[]wire.Event{{UserID: "u", MatchID: "m", EmojiType: "❤️"}}},
		{"skin tone counts as the base emoji", `{"user_id":"u","match_id":"m","emoji_type":"👍🏽"}`,
			[]wire.Event{{UserID: "u", MatchID: "m", EmojiType: "👍"}}},
		{"longest ids", fmt.Sprintf(`{"user_id":%q,"match_id":%q,"emoji_type":"🔥"}`, strings.Repeat("u", 128), strings.Repeat("M", 64)),
			[]wire.Event{{UserID: strings.Repeat("u", 128), MatchID: strings.Repeat("M", 64), EmojiType: "🔥"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Decode(nil, []byte(tt.body))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeInvalid(t *testing.T) {
	d := wire.NewDecoder(nil)
	ok := `{"user_id":"u","match_id":"m","emoji_type":"🔥"}`
	many := "[" + strings.TrimSuffix(strings.Repeat(ok+",", 1001), ",") + "]"
	tests := []struct {
		name, body, code string
		index            int
	}{
		{"empty body", ``, wire.CodeBadJSON, -1},
		{"not json", `hello`, wire.CodeBadJSON, -1},
		{"truncated", `{"user_id":"u"`, wire.CodeBadJSON, 0},
		{"trailing data", ok + `{}`, wire.CodeBadJSON, -1},
		{"number at top", `42`, wire.CodeBadJSON, -1},
		{"array of non-objects", `[1]`, wire.CodeBadJSON, 0},
		{"empty array", `[]`, wire.CodeTooManyEvents, -1},
		{"1001 events", many, wire.CodeTooManyEvents, 1000},
		{"unknown field", `{"user_id":"u","match_id":"m","emoji_type":"🔥","x":1}`, wire.CodeBadField, 0},
		{"case-variant key", `{"USER_ID":"u","match_id":"m","emoji_type":"🔥"}`, wire.CodeBadField, 0},
		{"duplicate key", `{"user_id":"u","user_id":"v","match_id":"m","emoji_type":"🔥"}`, wire.CodeBadField, 0},
		{"missing user", `{"match_id":"m","emoji_type":"🔥"}`, wire.CodeBadField, 0},
		{"empty user", `{"user_id":"","match_id":"m","emoji_type":"🔥"}`, wire.CodeBadField, 0},
		{"long user", fmt.Sprintf(`{"user_id":%q,"match_id":"m","emoji_type":"🔥"}`, strings.Repeat("u", 129)), wire.CodeBadField, 0},
		{"control char in user", `{"user_id":"a\u0007","match_id":"m","emoji_type":"🔥"}`, wire.CodeBadField, 0},
		{"user not a string", `{"user_id":42,"match_id":"m","emoji_type":"🔥"}`, wire.CodeBadField, 0},
		{"nested user", `{"user_id":{"a":[[[[1]]]]},"match_id":"m","emoji_type":"🔥"}`, wire.CodeBadField, 0},
		{"missing match", `{"user_id":"u","emoji_type":"🔥"}`, wire.CodeBadField, 0},
		{"match with a dot", `{"user_id":"u","match_id":"a.b","emoji_type":"🔥"}`, wire.CodeBadField, 0},
		{"match with a space", `{"user_id":"u","match_id":"a b","emoji_type":"🔥"}`, wire.CodeBadField, 0},
		{"long match", fmt.Sprintf(`{"user_id":"u","match_id":%q,"emoji_type":"🔥"}`, strings.Repeat("m", 65)), wire.CodeBadField, 0},
		{"missing emoji", `{"user_id":"u","match_id":"m"}`, wire.CodeBadField, 0},
		{"unknown emoji", `{"user_id":"u","match_id":"m","emoji_type":"🦄"}`, wire.CodeUnknownEmoji, 0},
		{"emoji text", `{"user_id":"u","match_id":"m","emoji_type":"fire"}`, wire.CodeUnknownEmoji, 0},
		{"zwj sequence", `{"user_id":"u","match_id":"m","emoji_type":"👨‍👩‍👧"}`, wire.CodeUnknownEmoji, 0},
		{"empty event id", `{"event_id":"","user_id":"u","match_id":"m","emoji_type":"🔥"}`, wire.CodeBadField, 0},
		{"long event id", fmt.Sprintf(`{"event_id":%q,"user_id":"u","match_id":"m","emoji_type":"🔥"}`, strings.Repeat("e", 65)), wire.CodeBadField, 0},
		{"bad timestamp", `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":"yesterday"}`, wire.CodeBadField, 0},
		{"fractional timestamp", `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":1.5}`, wire.CodeBadField, 0},
		{"negative timestamp", `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":-1}`, wire.CodeBadField, 0},
		{"bool timestamp", `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":true}`, wire.CodeBadField, 0},
		{"NaN timestamp is not JSON", `{"user_id":"u","match_id":"m","emoji_type":"🔥","timestamp":NaN}`, wire.CodeBadJSON, 0},
		{"misspelt literal is not JSON", `{"user_id":tru,"match_id":"m","emoji_type":"🔥"}`, wire.CodeBadJSON, 0},
		{"invalid utf-8", "{\"user_id\":\"\xff\",\"match_id\":\"m\",\"emoji_type\":\"🔥\"}", wire.CodeBadJSON, 0},
		{"invalid utf-8 after ascii", "{\"user_id\":\"user-1\xff\",\"match_id\":\"m\",\"emoji_type\":\"🔥\"}", wire.CodeBadJSON, 0},
		{"truncated rune after a valid one", "{\"user_id\":\"é\xe2\x82\",\"match_id\":\"m\",\"emoji_type\":\"🔥\"}", wire.CodeBadJSON, 0},
		{"overlong encoding", "{\"user_id\":\"a\xc0\xafb\",\"match_id\":\"m\",\"emoji_type\":\"🔥\"}", wire.CodeBadJSON, 0},
		{"control character after ascii", "{\"user_id\":\"ab\x01\",\"match_id\":\"m\",\"emoji_type\":\"🔥\"}", wire.CodeBadJSON, 0},
		{"lone surrogate", `{"user_id":"\ud800","match_id":"m","emoji_type":"🔥"}`, wire.CodeBadJSON, 0},
		{"bad escape", `{"user_id":"\x41","match_id":"m","emoji_type":"🔥"}`, wire.CodeBadJSON, 0},
		{"second event bad", "[" + ok + `,{"user_id":"u","match_id":"m","emoji_type":"🦄"}]`, wire.CodeUnknownEmoji, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Decode(nil, []byte(tt.body))
			var re *wire.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("Decode = %v, %v; want a *RequestError", got, err)
			}
			if re.Code != tt.code || re.Index != tt.index {
				t.Fatalf("got code %q index %d (%v), want %q index %d", re.Code, re.Index, err, tt.code, tt.index)
			}
			if !errors.Is(err, wire.ErrInvalid) {
				t.Fatalf("%v does not match ErrInvalid", err)
			}
		})
	}
}

// FuzzDecode checks that no body crashes the decoder, that an accepted body
// is valid JSON that encoding/json reads the same way, and that every event
// it accepts is valid.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"user_id":"u-42","match_id":"final-2026","emoji_type":"🔥","timestamp":"2026-11-23T05:00:00.123Z"}`,
		`[{"user_id":"a","match_id":"m","emoji_type":"👏","event_id":"x"},{"user_id":"b","match_id":"m","emoji_type":"❤"}]`,
		`{"user_id":"\u00e9","match_id":"m","emoji_type":"\ud83d\udd25","timestamp":1}`,
		`[`, `{"user_id":`, `"\ud800"`, "\xff", `[[[[[[[[`, `{"a":{"b":{"c":1}}}`,
	} {
		f.Add([]byte(s))
	}
	d := wire.NewDecoder(nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := d.Decode(nil, body)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if len(evs) == 0 || len(evs) > wire.MaxBatch {
			t.Fatalf("accepted %d events", len(evs))
		}
		for _, ev := range evs {
			if !wire.ValidMatchID(ev.MatchID) || ev.UserID == "" {
				t.Fatalf("accepted invalid event %+v", ev)
			}
			if _, ok := d.Emojis().Canonical(ev.EmojiType); !ok {
				t.Fatalf("accepted emoji %q", ev.EmojiType)
			}
		}
	})
}

// BenchmarkDecodeBatch100 decodes 100 events, without and with a video_ts
// each (and, with, checks them against the clock as ingest does).
//
//	go test ./wire -run '^$' -bench DecodeBatch100 -count 5
func BenchmarkDecodeBatch100(b *testing.B) {
	b.Run("plain", func(b *testing.B) { benchDecode(b, "") })
	b.Run("video_ts", func(b *testing.B) { benchDecode(b, `,"video_ts":1795409980123`) })
}

func benchDecode(b *testing.B, extra string) {
	d := wire.NewDecoder(nil)
	var sb strings.Builder
	sb.WriteString("[")
	for i := 0; i < 100; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"user_id":"user-%d","match_id":"final-2026","emoji_type":"🔥","event_id":"ev-%d"%s}`, i, i, extra)
	}
	sb.WriteString("]")
	body := []byte(sb.String())
	evs := make([]wire.Event, 0, 100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if evs, err = d.Decode(evs[:0], body); err != nil {
			b.Fatal(err)
		}
		if err := wire.CheckVideoTS(evs, 1795410000000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/event")
}
