package registry_test

import (
	"testing"
	"time"

	"github.com/emostream/emostream/registry"
)

func TestPositionOrder(t *testing.T) {
	at := func(h int) *time.Time { x := time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC); return &x }
	// In listing order.
	ms := []registry.Match{
		{ID: "b", State: registry.Live},
		{ID: "a", State: registry.Live, PlannedStart: at(1)},
		{ID: "c", State: registry.Live, PlannedStart: at(2)},
		{ID: "a", State: registry.Scheduled},
		{ID: "a", State: registry.Ended},
		{ID: "a", State: registry.Live, Auto: true},
		{ID: "z", State: registry.Live, Auto: true, PlannedStart: at(0)},
		{ID: "a", State: registry.Scheduled, Auto: true},
		{ID: "a", State: registry.Ended, Auto: true},
	}
	for i := range ms {
		for j := range ms {
			got := ms[i].Position().Compare(ms[j].Position())
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("%+v vs %+v: %d, want %d", ms[i], ms[j], got, want)
			}
		}
	}
	zero := registry.Position{Planned: time.Unix(-62135596800, 0)} // time.Time{} by another name
	if zero.Compare(registry.Position{}) != 0 {
		t.Error("the zero planned start is not equal to itself")
	}
}
