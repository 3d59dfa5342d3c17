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

// CheckWindow agrees with ValidWindow and says the one rule.
func TestCheckWindow(t *testing.T) {
	rule := ": want whole milliseconds from 100ms to 1h"
	tests := []struct {
		d    time.Duration
		want string // "" for valid
	}{
		{100 * time.Millisecond, ""},
		{2 * time.Second, ""},
		{time.Hour, ""},
		{0, "0s" + rule},
		{-time.Second, "-1s" + rule},
		{99 * time.Millisecond, "99ms" + rule},
		{time.Hour + time.Millisecond, "1h0m0.001s" + rule},
		{150*time.Millisecond + 500*time.Microsecond, "150.5ms" + rule},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			err := wire.CheckWindow(tt.d)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want || (err == nil) != wire.ValidWindow(tt.d) {
				t.Errorf("CheckWindow(%v) = %q, want %q (ValidWindow %v)", tt.d, got, tt.want, wire.ValidWindow(tt.d))
			}
		})
	}
}

func ExampleCheckMatchID() {
	fmt.Println(fmt.Errorf("--match %w", wire.CheckMatchID("final 2026")))
	// Output: --match "final 2026": want 1 to 64 characters of A-Z a-z 0-9 _ -
}
