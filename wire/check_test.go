package wire_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/wire"
)

// CheckMatchID agrees with ValidMatchID and says the one rule.
func TestCheckMatchID(t *testing.T) {
	rule := "want 1 to 64 characters of A-Z a-z 0-9 _ -"
	tests := []struct {
		id   string
		want string // "" for valid
	}{
		{"final-2026", ""},
		{"A_b-9", ""},
		{strings.Repeat("m", 64), ""},
		{"", `"": ` + rule},
		{strings.Repeat("m", 65), fmt.Sprintf("%q: %s", strings.Repeat("m", 65), rule)},
		{"a b", `"a b": ` + rule},
		{"a.b", `"a.b": ` + rule},
		{"münchen", `"münchen": ` + rule},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			err := wire.CheckMatchID(tt.id)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want || (err == nil) != wire.ValidMatchID(tt.id) {
				t.Errorf("CheckMatchID(%q) = %q, want %q (ValidMatchID %v)", tt.id, got, tt.want, wire.ValidMatchID(tt.id))
			}
		})
	}
}

// ValidWindow takes whole milliseconds from 100ms to 1h, as WindowRule says.
func TestValidWindow(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want bool
	}{
		{100 * time.Millisecond, true},
		{2 * time.Second, true},
		{time.Hour, true},
		{0, false},
		{-time.Second, false},
		{99 * time.Millisecond, false},
		{time.Hour + time.Millisecond, false},
		{150*time.Millisecond + 500*time.Microsecond, false},
	}
	for _, tt := range tests {
		if got := wire.ValidWindow(tt.d); got != tt.want {
			t.Errorf("ValidWindow(%v) = %v, want %v (%s)", tt.d, got, tt.want, wire.WindowRule)
		}
	}
}

func ExampleCheckMatchID() {
	fmt.Println(fmt.Errorf("--match %w", wire.CheckMatchID("final 2026")))
	// Output: --match "final 2026": want 1 to 64 characters of A-Z a-z 0-9 _ -
}
