package wire_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/wire"
)

// partialJSON is a valid partial of window 4000 with late counts lc.
func partialJSON(lc string) string {
	return `{"topic":"t","partition":0,"window_start_ms":4000,"window_ms":2000,"first_offset":0,"last_offset":9,` +
		`"counts":{"m":{"🔥":5,"👏":2}},"late":3` + lc + `}`
}

func TestDecodePartialLateCounts(t *testing.T) {
	tests := []struct {
		name, lc string
		ok       bool
	}{
		{"none", ``, true},
		{"two earlier windows", `,"late_counts":{"2000":{"m":{"🔥":2}},"0":{"m":{"🔥":1,"👏":2}}}`, true},
		{"all of a count late", `,"late_counts":{"2000":{"m":{"🔥":5}}}`, true},
		{"the partial's own window", `,"late_counts":{"4000":{"m":{"🔥":1}}}`, false},
		{"a later window", `,"late_counts":{"6000":{"m":{"🔥":1}}}`, false},
		{"not aligned", `,"late_counts":{"1000":{"m":{"🔥":1}}}`, false},
		{"more late than counted", `,"late_counts":{"2000":{"m":{"🔥":3}},"0":{"m":{"🔥":3}}}`, false},
		{"late of an uncounted emoji", `,"late_counts":{"2000":{"m":{"😂":1}}}`, false},
		{"late of an uncounted match", `,"late_counts":{"2000":{"x":{"🔥":1}}}`, false},
		{"zero", `,"late_counts":{"2000":{"m":{"🔥":0}}}`, false},
		{"negative", `,"late_counts":{"2000":{"m":{"🔥":-1}}}`, false},
		{"sums overflowing", `,"late_counts":{"2000":{"m":{"🔥":9223372036854775807}},"0":{"m":{"🔥":9223372036854775807}}}`, false},
		{"not a number", `,"late_counts":{"x":{"m":{"🔥":1}}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := wire.DecodePartial([]byte(partialJSON(tt.lc)))
			if (err == nil) != tt.ok {
				t.Fatalf("DecodePartial: %v, want ok %v (%+v)", err, tt.ok, p)
			}
		})
	}
}

func TestDecodeSwarmLateWindows(t *testing.T) {
	sw := func(lw string) string {
		return `{"match_id":"m","window_start":"1970-01-01T00:00:04Z","window_end":"1970-01-01T00:00:06Z",` +
			`"counts":{"🔥":5},"swarm":{},"total":5,"late":3` + lw + `}`
	}
	tests := []struct {
		name, lw string
		ok       bool
	}{
		{"none", ``, true},
		{"two earlier windows", `,"late_windows":{"2000":{"🔥":2},"0":{"🔥":1}}`, true},
		{"its own window", `,"late_windows":{"4000":{"🔥":1}}`, false},
		{"more late than counted", `,"late_windows":{"2000":{"🔥":4},"0":{"🔥":2}}`, false},
		{"an uncounted emoji", `,"late_windows":{"2000":{"👏":1}}`, false},
		{"zero", `,"late_windows":{"2000":{"🔥":0}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := wire.DecodeSwarm([]byte(sw(tt.lw)))
			if (err == nil) != tt.ok {
				t.Fatalf("DecodeSwarm: %v, want ok %v (%+v)", err, tt.ok, s)
			}
		})
	}
}

// The bound the bridge keeps holds with late counts from the most windows
// a partial may name, for the widest numbers and the worst strings.
func TestPartialBytesBoundWithLateCounts(t *testing.T) {
	emojis := []string{strings.Repeat("<", wire.MaxEmojiBytes), "\xff\xfe", "\u2028", `"\`, "🔥"}
	p := wire.Partial{Topic: "emostream.events", Partition: math.MaxInt32, WindowStartMs: math.MaxInt64 - 1,
		WindowMs: math.MinInt64, FirstOffset: math.MinInt64, LastOffset: math.MinInt64, Counts: wire.Counts{},
		Late: math.MinInt64, Duplicates: math.MinInt64, Bad: math.MinInt64, More: true, LateCounts: map[int64]wire.Counts{}}
	bound := wire.PartialBaseBytes(p.Topic)
	for i := range 20 {
		match := strings.Repeat("m", wire.MaxMatchID-2) + fmt.Sprintf("%02d", i)
		for j, e := range emojis {
			bound += wire.CountKeyBytes(match, e, j == 0)
			p.Counts.Add(match, e, math.MinInt64)
			for w := range wire.MaxPartialLateWindows {
				origin := math.MinInt64 + int64(w)
				if p.LateCounts[origin] == nil {
					p.LateCounts[origin] = wire.Counts{}
				}
				_, hasMatch := p.LateCounts[origin][match]
				bound += wire.LateKeyBytes(match, e, i == 0 && j == 0, !hasMatch)
				p.LateCounts[origin].Add(match, e, math.MinInt64)
			}
		}
	}
	data, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > bound {
		t.Fatalf("encoding is %d bytes, above the bound %d", len(data), bound)
	}
	t.Logf("encoding %d bytes, bound %d", len(data), bound)
}

// SwarmBaseBytes and its parts bound a swarm's encoding: every emoji in
// counts, swarm and carry, every partition, late windows and moments.
func TestSwarmBytesBound(t *testing.T) {
	match := strings.Repeat("m", wire.MaxMatchID)
	start := time.UnixMilli(math.MaxInt32 * 1000)
	sw := &wire.Swarm{MatchID: match, WindowStart: start, WindowEnd: start.Add(2 * time.Second),
		Counts: map[string]int64{}, Swarm: map[string]int64{}, Carry: map[string]int64{}, Total: math.MinInt64,
		Partitions: math.MinInt, ClosedBy: wire.ClosedByDeadline, PublishedAt: start, Late: math.MinInt64,
		Viewers: math.MinInt64, Offsets: map[int32]int64{}, Partials: map[int32]uint64{},
		LateWindows: map[int64]map[string]int64{}}
	bound := wire.SwarmBaseBytes(match)
	for i := range 10 {
		e := strings.Repeat("<", wire.MaxEmojiBytes-2) + fmt.Sprintf("%02d", i)
		sw.Counts[e], sw.Swarm[e], sw.Carry[e] = math.MinInt64, math.MinInt64, math.MinInt64
		bound += wire.SwarmEmojiBytes(e)
		for w := range 3 {
			origin := math.MinInt64 + int64(w)
			if sw.LateWindows[origin] == nil {
				sw.LateWindows[origin] = map[string]int64{}
				bound += wire.LateWindowBytes
			}
			sw.LateWindows[origin][e] = math.MinInt64
			bound += wire.EmojiMemberBytes(e)
		}
	}
	for p := range int32(5) {
		sw.Offsets[math.MinInt32+p], sw.Partials[math.MinInt32+p] = math.MinInt64, math.MaxUint64
		bound += wire.SwarmPartitionBytes
	}
	for _, rule := range []string{"total", "share"} {
		sw.Moments = append(sw.Moments, wire.Moment{MatchID: match, WindowStart: start, WindowEnd: start,
			Emoji: strings.Repeat("<", wire.MaxEmojiBytes), Size: math.MinInt64, Ratio: -0.0000012345678901234567, Rule: rule})
		bound += wire.MomentBytes(match)
	}
	data, err := sw.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > bound {
		t.Fatalf("encoding is %d bytes, above the bound %d", len(data), bound)
	}
}

func TestScanLateRecord(t *testing.T) {
	for _, in := range []string{
		`{"s":1795410002000,"q":4711,"w":{"1795410000000":{"🔥":2,"👏":1},"1795409998000":{"🔥":1}}}`,
		`{"w":{},"s":-2000,"q":0,"future":[1,{"x":null}]}`,
		` {"w":{"-4000":{"\u00e9":1}},"s":0} `,
	} {
		want, err := wire.DecodeLateRecord([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]map[string]int64{}
		r, err := wire.ScanLateRecord([]byte(in), func(o int64, e []byte, n int64) {
			if got[o] == nil {
				got[o] = map[string]int64{}
			}
			got[o][string(e)] += n
		})
		if err != nil || r.Start != want.Start || r.Swarm != want.Swarm || !maps.EqualFunc(got, want.Windows, maps.Equal) {
			t.Errorf("%s: got %+v %v, %v; want %+v", in, r, got, err, want)
		}
	}
	for _, in := range []string{`{"s":1`, `{"w":{"x":{}}}`, `{"w":{"1":{"🔥":1.5}}}`, `{"q":-1}`, `{"w":{"1":[]}}`, `{} x`, `[]`} {
		if _, err := wire.ScanLateRecord([]byte(in), func(int64, []byte, int64) {}); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

// ScanLateRecord agrees with DecodeLateRecord on every input both accept.
func FuzzScanLateRecord(f *testing.F) {
	f.Add([]byte(`{"s":1795410002000,"q":4711,"w":{"1795410000000":{"🔥":2,"👏":1},"1795409998000":{"🔥":1}}}`))
	f.Add([]byte(`{"s":253402300798000,"q":18446744073709551615,"w":{"-9223372036854775808":{"🔥":9223372036854775807}}}`))
	f.Add([]byte(`{"s":0,"q":0,"w":{"+1":{"x":1},"01":{"y":-1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := map[int64]map[string]int64{}
		r, err := wire.ScanLateRecord(data, func(o int64, e []byte, n int64) {
			if got[o] == nil {
				got[o] = map[string]int64{}
			}
			got[o][string(e)] = n
		})
		if err != nil {
			return
		}
		want, jerr := wire.DecodeLateRecord(data)
		if jerr != nil {
			return // the scanner is laxer on some escapes; it never crashes
		}
		if r.Start != want.Start || r.Swarm != want.Swarm || len(got) > len(want.Windows) {
			t.Errorf("%q: scanned %+v %v, decoded %+v", data, r, got, want)
		}
	})
}

func ExampleLateRecord() {
	b, _ := json.Marshal(wire.LateRecord{Start: 1795410002000, Swarm: 4711,
		Windows: map[int64]map[string]int64{1795410000000: {"🔥": 2}}})
	fmt.Println(string(b))
	// Output:
	// {"s":1795410002000,"q":4711,"w":{"1795410000000":{"🔥":2}}}
}
