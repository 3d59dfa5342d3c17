package ingest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/timeline"
)

// appendStep writes what encoding/json writes.
func TestAppendStep(t *testing.T) {
	for _, counts := range []map[string]int64{
		{"🔥": 12, "👏": 3, "❤️": 0},
		{},
		{"a\"b\\c\x01": 1, "é": -1},
	} {
		st := timeline.Step{Start: 1795410000000, Counts: counts, Total: 15}
		got, _ := appendStep(nil, nil, st, 60_000)
		want, _ := json.Marshal(struct {
			Start  time.Time        `json:"start"`
			End    time.Time        `json:"end"`
			Counts map[string]int64 `json:"counts"`
			Total  int64            `json:"total"`
		}{utc(st.Start), utc(st.Start + 60_000), counts, 15})
		if string(got) != string(want) {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	}
}
