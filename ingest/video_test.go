package ingest_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// withVideo is a valid event with "video_ts": v (v as written in JSON).
func withVideo(v string) string {
	return `{"user_id":"u","match_id":"m","emoji_type":"🔥","video_ts":` + v + `}`
}

// TestVideoTS posts reactions with a video_ts over real HTTP to a server
// whose clock stands still: within [now-60s, now+2s] it is accepted and
// stored in the record; a program time in the future, too far behind,
// negative, zero, of year 9999 or not a whole number is 400 bad_video_ts
// (a string is bad_field, as for any field of the wrong type), and
// nothing of the request reaches Kafka, also when only one event of an
// array is bad.
func TestVideoTS(t *testing.T) {
	now := time.UnixMilli(1795410000000)
	k := testenv.StartKafka(t, 2).Target()
	st := startIngest(t, k, ingest.Config{UserRate: -1, IPRate: -1, Now: func() time.Time { return now }})
	ms := now.UnixMilli()
	at := func(d time.Duration) string { return fmt.Sprint(ms + d.Milliseconds()) }
	tests := []struct {
		name, body string
		code       string
		index      int
	}{
		{"3 s ahead", withVideo(at(3 * time.Second)), wire.CodeBadVideoTS, 0},
		{"2.001 s ahead", withVideo(at(2*time.Second + time.Millisecond)), wire.CodeBadVideoTS, 0},
		{"60.001 s behind", withVideo(at(-60*time.Second - time.Millisecond)), wire.CodeBadVideoTS, 0},
		{"an hour behind", withVideo(at(-time.Hour)), wire.CodeBadVideoTS, 0},
		{"year 9999", withVideo("253402300799999"), wire.CodeBadVideoTS, 0},
		{"past year 9999", withVideo("253402300800000"), wire.CodeBadVideoTS, 0},
		{"int64 max", withVideo("9223372036854775807"), wire.CodeBadVideoTS, 0},
		{"past int64", withVideo("9223372036854775808"), wire.CodeBadVideoTS, 0},
		{"negative", withVideo("-1"), wire.CodeBadVideoTS, 0},
		{"int64 min", withVideo("-9223372036854775808"), wire.CodeBadVideoTS, 0},
		{"zero", withVideo("0"), wire.CodeBadVideoTS, 0},
		{"a fraction", withVideo(at(0) + ".5"), wire.CodeBadVideoTS, 0},
		{"an exponent", withVideo("1.79541e12"), wire.CodeBadVideoTS, 0},
		{"a string", withVideo(`"` + at(0) + `"`), wire.CodeBadField, 0},
		{"an RFC 3339 string", withVideo(`"2026-11-23T05:00:00Z"`), wire.CodeBadField, 0},
		{"an object", withVideo(`{}`), wire.CodeBadField, 0},
		{"given twice", `{"user_id":"u","match_id":"m","emoji_type":"🔥","video_ts":` + at(0) + `,"video_ts":` + at(0) + `}`, wire.CodeBadField, 0},
		{"the second of an array", "[" + withVideo(at(-time.Second)) + "," + withVideo(at(time.Hour)) + "," + withVideo(at(0)) + "]", wire.CodeBadVideoTS, 1},
	}
	before := k.EndOffsets(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := st.post(t, tt.body)
			checkError(t, r, http.StatusBadRequest, tt.code, tt.index)
			if e := decodeJSON[apiError](t, r.body); !strings.Contains(e.Error.Message, "video_ts") {
				t.Errorf("message %q does not name video_ts", e.Error.Message)
			}
		})
	}
	if after := k.EndOffsets(t); !slices.Equal(before, after) {
		t.Fatalf("kafka end offsets moved from %v to %v", before, after)
	}
	// The bounds themselves, null and no video_ts are accepted; the
	// records carry video_ts when it was given.
	good := []string{at(2 * time.Second), at(-60 * time.Second), at(-20 * time.Second), "null"}
	for _, v := range good {
		if r := st.post(t, withVideo(v)); r.status != http.StatusAccepted {
			t.Fatalf("video_ts %s: %d %s", v, r.status, r.body)
		}
	}
	after := k.EndOffsets(t)
	var got []int64
	for _, m := range readRange(t, k, before, after) {
		var rec wire.Record
		if err := wire.DecodeRecord(m.Value, &rec); err != nil {
			t.Fatal(err)
		}
		got = append(got, rec.VideoTS)
	}
	slices.Sort(got)
	want := []int64{0, ms - 60_000, ms - 20_000, ms + 2000}
	if !slices.Equal(got, want) {
		t.Errorf("records' video_ts %v, want %v", got, want)
	}
}
