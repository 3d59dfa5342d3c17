package wire_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/emostream/emostream/wire"
)

// canonical is a record in the layout ingest writes, taken by the fast path.
var canonical = wire.Record{EventID: "ev-1", UserID: "u-42", MatchID: "final-2026", EmojiType: "🔥",
	ClientTS: 1795410000123, ReceivedAt: 1795410000456}

// withCanonical returns canonical's encoding with old replaced by new once.
func withCanonical(old, new string) []byte {
	b := string(canonical.AppendJSON(nil))
	if !strings.Contains(b, old) {
		panic(old + " is not in " + b)
	}
	return []byte(strings.Replace(b, old, new, 1))
}

func encoded(r wire.Record) []byte { return r.AppendJSON(nil) }

// fastPathTaken are records the fast path must decode: all AppendJSON output
// without escapes, negative numbers or numbers of more than 18 digits.
var fastPathTaken = []struct {
	name string
	data []byte
	err  string // the result of Scan, "" for none
}{
	{"canonical", encoded(canonical), ""},
	{"video_ts", encoded(wire.Record{EventID: "e", UserID: "u", MatchID: "m", EmojiType: "❤️", ClientTS: 1, ReceivedAt: 2, VideoTS: 3}), ""},
	{"no video_ts after one", encoded(wire.Record{UserID: "u", MatchID: "m", EmojiType: "👏"}), ""},
	{"empty strings", encoded(wire.Record{MatchID: "m", EmojiType: "x"}), ""},
	{"18 digits", encoded(wire.Record{MatchID: "m", EmojiType: "x", ClientTS: 999999999999999999, ReceivedAt: 100000000000000000, VideoTS: 123456789012345678}), ""},
	{"zeros", []byte(`{"event_id":"","user_id":"","match_id":"m","emoji_type":"x","client_ts":0,"received_at":0,"video_ts":0}`), ""},
	{"non-ASCII user", encoded(wire.Record{UserID: "zoë-日本", MatchID: "m", EmojiType: "🔥"}), ""},
	{"bad match", withCanonical(`final-2026`, `a.b`), "wire: bad record: match_id \"a.b\": want 1 to 64 characters of A-Z a-z 0-9 _ -"},
	{"no emoji", withCanonical(`🔥`, ``), "wire: bad record: no emoji_type"},
}

// fastPathRefused are values the fast path must leave to the strict path,
// one per check it makes.
var fastPathRefused = []struct {
	name string
	data []byte
}{
	{"escaped quote", encoded(wire.Record{EventID: `a"b`, MatchID: "m", EmojiType: "x"})},
	{"escaped backslash", encoded(wire.Record{EventID: `a\`, MatchID: "m", EmojiType: "x"})},
	{"escaped newline", encoded(wire.Record{UserID: "a\nb", MatchID: "m", EmojiType: "x"})},
	{"escaped invalid UTF-8", encoded(wire.Record{UserID: "a\xffb", MatchID: "m", EmojiType: "x"})},
	{"raw control character", withCanonical(`u-42`, "u-\x0142")},
	{"raw tab", withCanonical(`u-42`, "u-\t42")},
	{"raw invalid UTF-8", withCanonical(`🔥`, "\xf0\x9f\x94")},
	{"raw surrogate in UTF-8", withCanonical(`u-42`, "\xed\xa0\x80")},
	{"negative client_ts", encoded(wire.Record{MatchID: "m", EmojiType: "x", ClientTS: -5})},
	{"minus zero", withCanonical(`"client_ts":1795410000123`, `"client_ts":-0`)},
	{"plus", withCanonical(`"client_ts":1795410000123`, `"client_ts":+1`)},
	{"leading zero", withCanonical(`"client_ts":1795410000123`, `"client_ts":01795410000123`)},
	{"zero zero", withCanonical(`"client_ts":1795410000123`, `"client_ts":00`)},
	{"19 digits", encoded(wire.Record{MatchID: "m", EmojiType: "x", ReceivedAt: 1000000000000000000})},
	{"max int64", encoded(wire.Record{MatchID: "m", EmojiType: "x", VideoTS: 9223372036854775807})},
	{"20 digits", withCanonical(`1795410000456`, `99999999999999999999`)},
	{"no digits", withCanonical(`1795410000456`, ``)},
	{"fraction", withCanonical(`1795410000456`, `1795410000456.5`)},
	{"exponent", withCanonical(`1795410000456`, `1e3`)},
	{"null number", withCanonical(`1795410000456`, `null`)},
	{"null string", withCanonical(`"ev-1"`, `null`)},
	{"trailing space", append(encoded(canonical), ' ')},
	{"leading space", append([]byte(" "), encoded(canonical)...)},
	{"space after colon", withCanonical(`"user_id":`, `"user_id": `)},
	{"space for the brace", withCanonical(`456}`, `456 `)},
	{"bracket for the brace", withCanonical(`456}`, `456]`)},
	{"two braces", append(encoded(canonical), '}')},
	{"two braces after video_ts", withCanonical(`}`, `,"video_ts":1}}`)},
	{"byte after video_ts", withCanonical(`}`, `,"video_ts":1} `)},
	{"duplicate key", withCanonical(`}`, `,"received_at":7}`)},
	{"unknown key", withCanonical(`}`, `,"x":1}`)},
	{"unknown key after video_ts", withCanonical(`}`, `,"video_ts":1,"x":1}`)},
	{"keys in another order", withCanonical(`"event_id":"ev-1","user_id":"u-42"`, `"user_id":"u-42","event_id":"ev-1"`)},
	{"key in upper case", withCanonical(`"user_id"`, `"USER_ID"`)},
	{"number key in upper case", withCanonical(`"client_ts"`, `"CLIENT_TS"`)},
	{"video_ts key in upper case", withCanonical(`}`, `,"VIDEO_TS":1}`)},
	{"no event_id", withCanonical(`"event_id":"ev-1",`, ``)},
	{"truncated in a key", encoded(canonical)[:30]},
	{"truncated in a string", encoded(canonical)[:16]},
	{"truncated in a number", encoded(canonical)[:len(encoded(canonical))-3]},
	{"truncated before the brace", encoded(canonical)[:len(encoded(canonical))-1]},
	{"empty", []byte{}},
}

// recordOf copies sc's fields out of the data they may alias.
func recordOf(sc *wire.RecordScanner) wire.Record {
	return wire.Record{EventID: string(sc.EventID), UserID: string(sc.UserID), MatchID: string(sc.MatchID),
		EmojiType: string(sc.EmojiType), ClientTS: sc.ClientTS, ReceivedAt: sc.ReceivedAt, VideoTS: sc.VideoTS}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestRecordScannerFastPathTaken(t *testing.T) {
	var fast, strict wire.RecordScanner // reused, as a bridge does
	for _, tt := range fastPathTaken {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := fast.ScanFast(tt.data)
			if !ok {
				t.Fatalf("the fast path refused %s", tt.data)
			}
			if got := errString(err); got != tt.err {
				t.Fatalf("fast path: %q, want %q", got, tt.err)
			}
			if err := strict.ScanStrict(tt.data); errString(err) != tt.err {
				t.Fatalf("strict path: %v, want %q", err, tt.err)
			}
			if got, want := recordOf(&fast), recordOf(&strict); got != want {
				t.Fatalf("fast path %+v, strict path %+v", got, want)
			}
		})
	}
}

func TestRecordScannerFastPathRefused(t *testing.T) {
	var fast, strict, sc wire.RecordScanner
	for _, tt := range fastPathRefused {
		t.Run(tt.name, func(t *testing.T) {
			if ok, _ := fast.ScanFast(tt.data); ok {
				t.Fatalf("the fast path took %q as %+v", tt.data, recordOf(&fast))
			}
			errStrict := strict.ScanStrict(tt.data)
			errScan := sc.Scan(tt.data)
			if errString(errScan) != errString(errStrict) {
				t.Fatalf("Scan: %v, strict path: %v", errScan, errStrict)
			}
			if errScan == nil && recordOf(&sc) != recordOf(&strict) {
				t.Fatalf("Scan %+v, strict path %+v", recordOf(&sc), recordOf(&strict))
			}
		})
	}
}

// The fields of a Scan on the fast path alias its data; a later Scan on
// the strict path must not write through them into that data.
func TestRecordScannerLeavesDataAlone(t *testing.T) {
	var sc wire.RecordScanner
	first := encoded(canonical)
	kept := bytes.Clone(first)
	if ok, err := sc.ScanFast(first); !ok || err != nil {
		t.Fatalf("fast path: %v %v", ok, err)
	}
	second := []byte(` {"event_id":"XXXX","user_id":"YYYY","match_id":"mmmm","emoji_type":"Z"}`)
	if err := sc.Scan(second); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, kept) {
		t.Fatalf("the second Scan changed the first one's data to %q", first)
	}
	// The same buffer reused for a value the strict path reads.
	buf := append(make([]byte, 0, 256), encoded(canonical)...)
	if err := sc.Scan(buf); err != nil {
		t.Fatal(err)
	}
	buf = append(buf[:0], ` {"user_id":"uu","event_id":"e","match_id":"mm","emoji_type":"x"}`...)
	if err := sc.Scan(buf); err != nil {
		t.Fatal(err)
	}
	want := wire.Record{EventID: "e", UserID: "uu", MatchID: "mm", EmojiType: "x"}
	if got := recordOf(&sc); got != want {
		t.Fatalf("Scan of a reused buffer = %+v, want %+v", got, want)
	}
}

// The fast path accepts only what the strict path accepts, with the same
// result, and Scan's result is the strict path's on every input.
func FuzzRecordScannerFastPath(f *testing.F) {
	for _, tt := range fastPathTaken {
		f.Add(tt.data)
	}
	for _, tt := range fastPathRefused {
		f.Add(tt.data)
	}
	var fast, strict, sc wire.RecordScanner
	f.Fuzz(func(t *testing.T, b []byte) {
		kept := bytes.Clone(b)
		errStrict := strict.ScanStrict(b)
		want := recordOf(&strict)
		if ok, err := fast.ScanFast(b); ok {
			if errString(err) != errString(errStrict) {
				t.Fatalf("fast path: %v, strict path: %v", err, errStrict)
			}
			if got := recordOf(&fast); got != want {
				t.Fatalf("fast path %+v, strict path %+v", got, want)
			}
		}
		errScan := sc.Scan(b)
		if errString(errScan) != errString(errStrict) {
			t.Fatalf("Scan: %v, strict path: %v", errScan, errStrict)
		}
		if got := recordOf(&sc); errScan == nil && got != want {
			t.Fatalf("Scan %+v, strict path %+v", got, want)
		}
		if !bytes.Equal(b, kept) {
			t.Fatalf("scanning changed its data %q to %q", kept, b)
		}
	})
}

func ExampleRecordScanner() {
	var sc wire.RecordScanner
	err := sc.Scan([]byte(`{"event_id":"","user_id":"u-42","match_id":"final-2026","emoji_type":"🔥","client_ts":0,"received_at":1795410000456}`))
	fmt.Printf("%s %s %d %v\n", sc.MatchID, sc.EmojiType, sc.ReceivedAt, err)
	// Output:
	// final-2026 🔥 1795410000456 <nil>
}
