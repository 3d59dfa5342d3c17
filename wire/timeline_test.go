package wire_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/emostream/emostream/wire"
)

func TestScanTimelineRecord(t *testing.T) {
	for _, in := range []string{
		`{"s":1795410000000,"c":{"🔥":12,"👏":3},"t":15,"q":4711}`,
		`{"s":60000,"c":{},"t":0,"a":1,"z":30,"future":[1,{"x":null}]}`,
		` {"c":{"\\u00e9":1},"s":-2000,"t":1} `,
	} {
		want, err := wire.DecodeTimelineRecord([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		r, err := wire.ScanTimelineRecord([]byte(in), func(e []byte, n int64) { got[string(e)] += n })
		if err != nil || r.Start != want.Start || r.Total != want.Total || r.Swarm != want.Swarm ||
			r.First != want.First || r.Last != want.Last || fmt.Sprint(got) != fmt.Sprint(want.Counts) {
			t.Errorf("%s: got %+v %v, %v; want %+v", in, r, got, err, want)
		}
	}
	for _, in := range []string{`{"s":1`, `{"s":"x"}`, `{"c":{"🔥":1.5}}`, `{"z":-1}`, `{} x`, `[]`} {
		if _, err := wire.ScanTimelineRecord([]byte(in), func([]byte, int64) {}); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func FuzzScanTimelineRecord(f *testing.F) {
	f.Add([]byte(`{"s":1795410000000,"c":{"🔥":12,"👏":3},"t":15,"q":4711}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got := map[string]int64{}
		r, err := wire.ScanTimelineRecord(data, func(e []byte, n int64) { got[string(e)] = n })
		if err != nil {
			return
		}
		want, jerr := wire.DecodeTimelineRecord(data)
		if jerr == nil && (r.Start != want.Start || r.Total != want.Total) {
			t.Errorf("%q: scanned %+v, decoded %+v", data, r, want)
		}
	})
}

// The answer of GET /v1/matches/{id}/timeline as docs/api.md shows it,
// decoded.
func ExampleTimelineAnswer() {
	body := `{"match_id":"final-2026","step":"1m","by":"named","from":"2026-11-23T05:00:00Z","to":"2026-11-23T05:03:00Z",
 "steps":[{"start":"2026-11-23T05:00:00Z","end":"2026-11-23T05:01:00Z","counts":{"🔥":1200,"👏":300},"total":1500},
          {"start":"2026-11-23T05:02:00Z","end":"2026-11-23T05:03:00Z","counts":{"🔥":9000},"total":9000}],
 "totals":{"🔥":10200,"👏":300},"total":10500,
 "moments":[{"match_id":"final-2026","window_start":"2026-11-23T05:02:14Z","window_end":"2026-11-23T05:02:16Z","size":4200,"ratio":8.4,"rule":"total"}]}`
	var a wire.TimelineAnswer
	d := json.NewDecoder(strings.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(&a); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range a.Steps {
		fmt.Println(s.Start.Format("15:04"), s.Total, s.Counts["🔥"])
	}
	fmt.Println(a.Total, a.Moments[0].WindowStart.Format("15:04:05"), a.Moments[0].Rule)
	// Output:
	// 05:00 1500 1200
	// 05:02 9000 9000
	// 10500 05:02:14 total
}
