package bench

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
)

func TestMergeViewerReports(t *testing.T) {
	a := ViewerReport{Viewers: 2, MinTotals: map[string]int64{"m": 10}, MaxTotals: map[string]int64{"m": 12},
		LagsNs: []int64{1, 2}, Windows: []WindowReceipt{{Match: "m", WindowStartMs: 0, FirstNs: 5, LastNs: 9, Viewers: 2}}}
	b := ViewerReport{Viewers: 1, MinTotals: map[string]int64{"m": 11, "n": 3}, MaxTotals: map[string]int64{"m": 11, "n": 3},
		Duplicates: 1, LagsNs: []int64{3}, Windows: []WindowReceipt{{Match: "m", WindowStartMs: 0, FirstNs: 4, LastNs: 7, Viewers: 1},
			{Match: "n", WindowStartMs: 0, FirstNs: 6, LastNs: 6, Viewers: 1}}}
	m := a.merge(b)
	if m.Viewers != 3 || m.Duplicates != 1 || len(m.LagsNs) != 3 {
		t.Errorf("merged viewers %d, duplicates %d, lags %v", m.Viewers, m.Duplicates, m.LagsNs)
	}
	if want := map[string]int64{"m": 10, "n": 0}; !maps.Equal(m.MinTotals, want) {
		t.Errorf("min totals %v, want %v (a's viewers never saw n)", m.MinTotals, want)
	}
	if want := map[string]int64{"m": 12, "n": 3}; !maps.Equal(m.MaxTotals, want) {
		t.Errorf("max totals %v, want %v", m.MaxTotals, want)
	}
	want := []WindowReceipt{{Match: "m", FirstNs: 4, LastNs: 9, Viewers: 3}, {Match: "n", FirstNs: 6, LastNs: 6, Viewers: 1}}
	if len(m.Windows) != 2 || m.Windows[0] != want[0] || m.Windows[1] != want[1] {
		t.Errorf("windows %+v, want %+v", m.Windows, want)
	}
	if got := (ViewerReport{}).merge(b); got.Viewers != 1 {
		t.Errorf("merge into empty: %d viewers", got.Viewers)
	}
}

func TestCorrectness(t *testing.T) {
	full := ViewerReport{Viewers: 2, MinTotals: map[string]int64{"m": 5}, MaxTotals: map[string]int64{"m": 5},
		Windows: []WindowReceipt{{Match: "m", Viewers: 2}}}
	tests := []struct {
		name     string
		accepted map[string]int64
		views    func(ViewerReport) ViewerReport
		missing  int64
		want     bool
	}{
		{"exact", map[string]int64{"m": 5}, nil, 0, true},
		{"nothing accepted", map[string]int64{}, func(v ViewerReport) ViewerReport {
			return ViewerReport{Viewers: 2, MinTotals: map[string]int64{}, MaxTotals: map[string]int64{}}
		}, 0, false},
		{"a viewer short", map[string]int64{"m": 5}, func(v ViewerReport) ViewerReport {
			v.MinTotals = map[string]int64{"m": 4}
			return v
		}, 0, false},
		{"counted twice", map[string]int64{"m": 4}, nil, 0, false},
		{"duplicate window", map[string]int64{"m": 5}, func(v ViewerReport) ViewerReport { v.Duplicates = 1; return v }, 0, false},
		{"window missing at one viewer", map[string]int64{"m": 5}, func(v ViewerReport) ViewerReport {
			v.Windows = []WindowReceipt{{Match: "m", Viewers: 1}}
			return v
		}, 0, false},
		{"unmatched events", map[string]int64{"m": 5}, nil, 2, false},
		{"an unknown match", map[string]int64{"m": 5}, func(v ViewerReport) ViewerReport {
			v.MaxTotals = map[string]int64{"m": 5, "x": 1}
			return v
		}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := full
			if tt.views != nil {
				v = tt.views(v)
			}
			if got := correctness(tt.accepted, v, tt.missing).OK; got != tt.want {
				t.Errorf("OK = %v, want %v", got, tt.want)
			}
		})
	}
}

// A receipt says window_start_ms; one of an older viewer process, whose
// window_ms held the window's start, decodes the same.
func TestWindowReceiptJSON(t *testing.T) {
	want := WindowReceipt{Match: "m", WindowStartMs: 1795410000000, FirstNs: 1, LastNs: 2, Viewers: 3, Total: 4}
	b, err := json.Marshal(want)
	if err != nil || !strings.Contains(string(b), `"window_start_ms":1795410000000`) || strings.Contains(string(b), `"window_ms"`) {
		t.Fatalf("encoded %s, %v", b, err)
	}
	for _, in := range []string{string(b), strings.Replace(string(b), "window_start_ms", "window_ms", 1)} {
		var got WindowReceipt
		if err := json.Unmarshal([]byte(in), &got); err != nil || got != want {
			t.Errorf("%s: decoded %+v, %v; want %+v", in, got, err, want)
		}
	}
}
