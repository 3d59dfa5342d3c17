package wire_test

import (
	"fmt"
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
