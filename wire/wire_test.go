package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/emostream/emostream/wire"
)

func TestWindowStart(t *testing.T) {
	tests := []struct{ t, w, want int64 }{
		{0, 2000, 0}, {1999, 2000, 0}, {2000, 2000, 2000}, {2001, 2000, 2000},
		{-1, 2000, -2000}, {1795410001999, 2000, 1795410000000}, {1795410002000, 2000, 1795410002000},
		// the int64 limits: the first whole window starts 1808 ms after
		// MinInt64; before it, the window would start before MinInt64
		{math.MinInt64, 2000, math.MinInt64}, {math.MinInt64 + 1807, 2000, math.MinInt64},
		{math.MinInt64 + 1808, 2000, math.MinInt64 + 1808}, {math.MinInt64 + 1809, 2000, math.MinInt64 + 1808},
		{math.MaxInt64, 2000, math.MaxInt64 - 1807}, {math.MaxInt64, 1, math.MaxInt64}, {math.MinInt64, 1, math.MinInt64},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.t), func(t *testing.T) {
			if got := wire.WindowStart(tt.t, tt.w); got != tt.want || got > tt.t {
				t.Fatalf("WindowStart(%d, %d) = %d, want %d", tt.t, tt.w, got, tt.want)
			}
		})
	}
	at := time.UnixMilli(1795410001500)
	if got, want := wire.NextBoundary(at, 2*time.Second), time.UnixMilli(1795410002000); !got.Equal(want) {
		t.Fatalf("NextBoundary = %v, want %v", got, want)
	}
}

// WindowEnd saturates at the int64 limit; WindowInRange takes exactly
// the windows whose start and end a JSON time can encode.
func TestWindowEndAndRange(t *testing.T) {
	ends := []struct{ start, w, want int64 }{
		{0, 2000, 2000}, {-2000, 2000, 0}, {math.MaxInt64 - 1807, 2000, math.MaxInt64},
		{math.MaxInt64 - 2000, 2000, math.MaxInt64}, {math.MaxInt64 - 2001, 2000, math.MaxInt64 - 1},
		{math.MinInt64, 2000, math.MinInt64 + 2000}, {math.MaxInt64, 0, math.MaxInt64},
	}
	for _, tt := range ends {
		if got := wire.WindowEnd(tt.start, tt.w); got != tt.want {
			t.Errorf("WindowEnd(%d, %d) = %d, want %d", tt.start, tt.w, got, tt.want)
		}
	}
	lastOf9999 := wire.WindowStart(wire.MaxTimeMs, 2000) // ends at 10000-01-01
	ranges := []struct {
		start, w int64
		want     bool
	}{
		{wire.MinTimeMs, 2000, true}, {wire.MinTimeMs - 2000, 2000, false},
		{lastOf9999 - 2000, 2000, true}, {lastOf9999, 2000, false},
		{0, 2000, true}, {math.MaxInt64 - 1807, 2000, false}, {math.MinInt64, 2000, false},
		{0, 0, false}, {0, -2000, false}, {0, math.MaxInt64, false},
	}
	for _, tt := range ranges {
		got := wire.WindowInRange(tt.start, tt.w)
		if got != tt.want {
			t.Errorf("WindowInRange(%d, %d) = %v, want %v", tt.start, tt.w, got, tt.want)
		}
		if !got {
			continue
		}
		for _, ms := range []int64{tt.start, tt.start + tt.w} {
			if _, err := time.UnixMilli(ms).UTC().MarshalJSON(); err != nil {
				t.Errorf("WindowInRange(%d, %d), but its instant %d does not encode: %v", tt.start, tt.w, ms, err)
			}
		}
	}
}

func TestCompress(t *testing.T) {
	tests := []struct {
		name              string
		counts, carry     map[string]int64
		wantUnits, wantRe map[string]int64
	}{
		{"under threshold carries", map[string]int64{"🔥": 700}, nil, map[string]int64{}, map[string]int64{"🔥": 700}},
		{"units and rest", map[string]int64{"🔥": 2500}, nil, map[string]int64{"🔥": 2}, map[string]int64{"🔥": 500}},
		{"carry completes a unit", map[string]int64{"🔥": 700}, map[string]int64{"🔥": 500}, map[string]int64{"🔥": 1}, map[string]int64{"🔥": 200}},
		{"exact leaves no rest", map[string]int64{"👏": 1000}, nil, map[string]int64{"👏": 1}, map[string]int64{}},
		{"carry of an idle emoji stays", map[string]int64{"👏": 1}, map[string]int64{"🔥": 999}, map[string]int64{}, map[string]int64{"🔥": 999, "👏": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			units, rest := wire.Compress(tt.counts, tt.carry, 1000)
			if !reflect.DeepEqual(units, tt.wantUnits) || !reflect.DeepEqual(rest, tt.wantRe) {
				t.Fatalf("got units %v rest %v, want %v %v", units, rest, tt.wantUnits, tt.wantRe)
			}
		})
	}
}

func TestRecordRoundTrip(t *testing.T) {
	recs := []wire.Record{
		{UserID: "u-42", MatchID: "final-2026", EmojiType: "🔥", ReceivedAt: 1795410000456},
		{EventID: "e\"1\\", UserID: "é\n\x01", MatchID: "m", EmojiType: "❤️", ClientTS: 1, ReceivedAt: 2},
	}
	for _, r := range recs {
		b := r.AppendJSON(nil)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON %s", b)
		}
		var got wire.Record
		if err := wire.DecodeRecord(b, &got); err != nil || got != r {
			t.Fatalf("round trip of %+v: got %+v, %v", r, got, err)
		}
		var std map[string]any
		if err := json.Unmarshal(b, &std); err != nil || std["user_id"] != r.UserID {
			t.Fatalf("encoding/json reads %v, %v", std, err)
		}
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	for _, s := range []string{``, `{}`, `{"match_id":"a.b","emoji_type":"🔥"}`, `{"match_id":"m"}`, `{"match_id":"m","emoji_type":"🔥","received_at":"x"}`, `[]`} {
		var r wire.Record
		if err := wire.DecodeRecord([]byte(s), &r); err == nil {
			t.Errorf("DecodeRecord(%q) accepted", s)
		}
	}
	var r wire.Record
	if err := wire.DecodeRecord([]byte(`{"match_id":"m","emoji_type":"🔥","future":{"x":[1,2.5e3,true,null]}}`), &r); err != nil {
		t.Errorf("unknown fields must be skipped: %v", err)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"event_id":"","user_id":"u-42","match_id":"final-2026","emoji_type":"🔥","client_ts":0,"received_at":1795410000456}`))
	f.Add([]byte(`{"match_id":"m","emoji_type":"x","z":[{"a":[]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r wire.Record
		if err := wire.DecodeRecord(b, &r); err != nil {
			return
		}
		var again wire.Record
		if err := wire.DecodeRecord(r.AppendJSON(nil), &again); err != nil || again != r {
			t.Fatalf("re-encoding %+v gives %+v, %v", r, again, err)
		}
	})
}

// A partial's window is in years 0000 to 9999, so that its swarm can be
// encoded; one that is otherwise valid is refused with ErrWindowRange. The
// late and video windows it names are integer keys and may lie outside (an
// older bridge's record with a negative received_at, counted late).
func TestDecodePartialWindowRange(t *testing.T) {
	lastOf9999 := wire.WindowStart(wire.MaxTimeMs, 2000) // ends at 10000-01-01
	partial := func(start int64, more string) []byte {
		return fmt.Appendf(nil, `{"topic":"t","partition":0,"window_start_ms":%d,"window_ms":2000,"first_offset":0,`+
			`"last_offset":1,"counts":{"m":{"🔥":2}}%s}`, start, more)
	}
	tests := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"the first window of year 0", partial(wire.MinTimeMs, ""), true},
		{"the last window ending in year 9999", partial(lastOf9999-2000, ""), true},
		{"before year 0", partial(wire.MinTimeMs-2000, ""), false},
		{"ending in year 10000", partial(lastOf9999, ""), false},
		{"the window of MaxInt64", partial(math.MaxInt64-1807, ""), false},
		{"the window of MinInt64", partial(math.MinInt64+1808, ""), false},
		{"a late window before year 0", partial(0, fmt.Sprintf(`,"late":1,"late_counts":{"%d":{"m":{"🔥":1}}}`, wire.MinTimeMs-2000)), true},
		{"a video window after year 9999", partial(0, fmt.Sprintf(`,"video_counts":{"%d":{"m":{"🔥":1}}}`, lastOf9999)), true},
		{"a video window in year 9999", partial(0, fmt.Sprintf(`,"video_counts":{"%d":{"m":{"🔥":1}}}`, lastOf9999-2000)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wire.DecodePartial(tt.data)
			if (err == nil) != tt.ok || !tt.ok && !errors.Is(err, wire.ErrWindowRange) {
				t.Fatalf("DecodePartial: %v, want ok %v or ErrWindowRange", err, tt.ok)
			}
		})
	}
}

func FuzzDecodePartial(f *testing.F) {
	f.Add([]byte(`{"topic":"emostream.events","partition":1,"window_start_ms":2000,"window_ms":2000,"first_offset":5,"last_offset":9,"counts":{"m":{"🔥":5}},"late":0}`))
	f.Add([]byte(`{"topic":"t","partition":0,"window_start_ms":4000,"window_ms":2000,"first_offset":0,"last_offset":9,"counts":{"m":{"🔥":5,"👏":2}},"late":3,"late_counts":{"2000":{"m":{"🔥":2}},"0":{"m":{"🔥":1,"👏":2}}}}`))
	f.Add([]byte(`{"topic":"t","partition":0,"window_start_ms":9223372036854774000,"window_ms":2000,"first_offset":0,"last_offset":0,"counts":{"m":{"🔥":9223372036854775807}},"late_counts":{"-9223372036854774000":{"m":{"🔥":9223372036854775807}}}}`))
	f.Add([]byte(`{"topic":"t","partition":0,"window_start_ms":4000,"window_ms":2000,"first_offset":0,"last_offset":0,"counts":{"m":{"🔥":1}},"late_counts":{"+2000":{"m":{"🔥":1}},"2000":null}}`))
	f.Add([]byte(`{"topic":"t","partition":0,"window_start_ms":253402300796000,"window_ms":2000,"first_offset":0,"last_offset":0,"counts":{"m":{"🔥":1}},"video_counts":{"253402300798000":{"m":{"🔥":1}}}}`))
	f.Add([]byte(`{"topic":"t","partition":0,"window_start_ms":-62167219200000,"window_ms":2000,"first_offset":0,"last_offset":0,"counts":{"m":{"🔥":1}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := wire.DecodePartial(b)
		if err != nil {
			return
		}
		if p.NextOffset() < p.FirstOffset || p.Counts.Total() < 0 {
			t.Fatalf("accepted %+v", p)
		}
		for _, ms := range []int64{p.WindowStartMs, p.WindowStartMs + p.WindowMs} { // a swarm's window_start and window_end
			if _, err := time.UnixMilli(ms).UTC().MarshalJSON(); err != nil {
				t.Fatalf("accepted window %d+%dms: %v", p.WindowStartMs, p.WindowMs, err)
			}
		}
		late := wire.Counts{}
		for origin, c := range p.LateCounts {
			if origin >= p.WindowStartMs {
				t.Fatalf("accepted late window %d of window %d", origin, p.WindowStartMs)
			}
			late.Merge(c)
		}
		for m, es := range late {
			for e, n := range es {
				if n <= 0 || n > p.Counts[m][e] {
					t.Fatalf("accepted %d late of %d counted %s/%s", n, p.Counts[m][e], m, e)
				}
			}
		}
	})
}

func FuzzDecodeSwarm(f *testing.F) {
	f.Add([]byte(`{"match_id":"m","window_start":"2026-11-23T05:00:00Z","window_end":"2026-11-23T05:00:02Z","counts":{"🔥":1},"swarm":{},"total":1}`))
	f.Add([]byte(`{"match_id":"m","window_start":"2026-11-23T05:00:04Z","window_end":"2026-11-23T05:00:06Z","counts":{"🔥":5,"👏":1},"swarm":{},"total":6,"late":3,"late_windows":{"1795410002000":{"🔥":2},"1795410000000":{"🔥":1}}}`))
	f.Add([]byte(`{"match_id":"m","window_start":"9999-12-31T23:59:58Z","window_end":"9999-12-31T23:59:60Z","counts":{"🔥":9223372036854775807},"late_windows":{"-9223372036854775808":{"🔥":9223372036854775807},"0":{"🔥":1}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := wire.DecodeSwarm(b)
		if err != nil {
			return
		}
		if !wire.ValidMatchID(s.MatchID) {
			t.Fatalf("accepted match %q", s.MatchID)
		}
		late := map[string]int64{}
		for origin, c := range s.LateWindows {
			if origin >= s.WindowStart.UnixMilli() {
				t.Fatalf("accepted late window %d of a swarm of %v", origin, s.WindowStart)
			}
			for e, n := range c {
				if late[e] += n; n <= 0 || late[e] > s.Counts[e] || late[e] < 0 {
					t.Fatalf("accepted %d late of %d counted %s", late[e], s.Counts[e], e)
				}
			}
		}
	})
}

func ExampleDecoder_Decode() {
	d := wire.NewDecoder(nil)
	evs, err := d.Decode(nil, []byte(`[{"user_id":"u-42","match_id":"final-2026","emoji_type":"❤"}]`))
	fmt.Println(evs[0].EmojiType, err)
	_, err = d.Decode(nil, []byte(`{"user_id":"u-42","match_id":"final 2026","emoji_type":"🔥"}`))
	fmt.Println(err)
	// Output:
	// ❤️ <nil>
	// bad_field: event 0: field "match_id": want 1 to 64 characters of A-Z a-z 0-9 _ -
}

func ExampleRecord_AppendJSON() {
	r := wire.Record{UserID: "u-42", MatchID: "final-2026", EmojiType: "🔥", ClientTS: 1795410000123, ReceivedAt: 1795410000456}
	fmt.Println(string(r.AppendJSON(nil)))
	// Output:
	// {"event_id":"","user_id":"u-42","match_id":"final-2026","emoji_type":"🔥","client_ts":1795410000123,"received_at":1795410000456}
}

func ExampleSwarm_Encode() {
	units, carry := wire.Compress(map[string]int64{"🔥": 2500}, map[string]int64{"🔥": 700}, 1000)
	s := wire.Swarm{MatchID: "final-2026", WindowStart: time.UnixMilli(1795410000000), WindowEnd: time.UnixMilli(1795410002000),
		Counts: map[string]int64{"🔥": 2500}, Swarm: units, Carry: carry, Total: 2500, Partitions: 8,
		ClosedBy: wire.ClosedByAllPartitions, PublishedAt: time.UnixMilli(1795410002041)}
	b, _ := s.Encode()
	fmt.Println(string(b))
	// Output:
	// {"match_id":"final-2026","window_start":"2026-11-23T05:00:00Z","window_end":"2026-11-23T05:00:02Z","counts":{"🔥":2500},"swarm":{"🔥":3},"carry":{"🔥":200},"total":2500,"partitions":8,"closed_by":"all_partitions","published_at":"2026-11-23T05:00:02.041Z"}
}

// RecordScanner agrees with DecodeRecord on every input.
func FuzzRecordScanner(f *testing.F) {
	f.Add([]byte(`{"event_id":"e","user_id":"u-42","match_id":"final-2026","emoji_type":"🔥","client_ts":1,"received_at":2}`))
	f.Add([]byte(`{"user_id":"\u00e9\"","match_id":"m","emoji_type":"\ud83d\udd25","x":[1,{"y":null}]}`))
	f.Add([]byte(`{"match_id":"a.b","emoji_type":"x"}`))
	var sc wire.RecordScanner
	f.Fuzz(func(t *testing.T, b []byte) {
		var r wire.Record
		errD := wire.DecodeRecord(b, &r)
		errS := sc.Scan(b)
		if (errD == nil) != (errS == nil) {
			t.Fatalf("DecodeRecord: %v, Scan: %v", errD, errS)
		}
		if errD != nil {
			return
		}
		got := wire.Record{EventID: string(sc.EventID), UserID: string(sc.UserID), MatchID: string(sc.MatchID),
			EmojiType: string(sc.EmojiType), ClientTS: sc.ClientTS, ReceivedAt: sc.ReceivedAt, VideoTS: sc.VideoTS}
		if got != r {
			t.Fatalf("Scan %+v, DecodeRecord %+v", got, r)
		}
	})
}

func BenchmarkRecordScanner(b *testing.B) {
	benchScan(b, wire.Record{EventID: "ev-123456", UserID: "user-123456", MatchID: "final-2026", EmojiType: "🔥", ReceivedAt: 1795410000456})
}

// A record with every field: video_ts and a multi-byte emoji.
func BenchmarkRecordScannerVideo(b *testing.B) {
	benchScan(b, wire.Record{EventID: "ev-123456", UserID: "user-123456", MatchID: "final-2026", EmojiType: "❤️",
		ClientTS: 1795410000123, ReceivedAt: 1795410000456, VideoTS: 1795409980123})
}

// benchScan times RecordScanner.Scan of r's encoding.
func benchScan(b *testing.B, r wire.Record) {
	data := r.AppendJSON(nil)
	var sc wire.RecordScanner
	b.ReportAllocs()
	for b.Loop() {
		if err := sc.Scan(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	r := wire.Record{EventID: "ev-123456", UserID: "user-123456", MatchID: "final-2026", EmojiType: "🔥", ReceivedAt: 1795410000456}
	data := r.AppendJSON(nil)
	var got wire.Record
	b.ReportAllocs()
	for b.Loop() {
		if err := wire.DecodeRecord(data, &got); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzAppendString: appendString's copy-whole path gives the bytes its
// escaping path gives, for any string.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "u-42", "🔥", "❤️", "e\"1\\", "é\n\x01", "\xff", "a\xed\xa0\x80b", "\x7f", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := wire.AppendString(nil, s), wire.AppendEscaped(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, the escaping path gives %s", s, got, want)
		}
	})
}
