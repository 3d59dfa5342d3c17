package registry

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/setting"
)

// TestConfigErrorsNameTheSetting: every setting Open and Bind refuse is
// named in the error, with the value and the reason; the error wraps
// ErrConfig.
func TestConfigErrorsNameTheSetting(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"Replicas", Config{Replicas: -1}, "Replicas -1: want at least 0"},
		{"MaxMatches", Config{MaxMatches: -1}, "MaxMatches -1: want 0 to 1000000"},
		{"AutoMatches", Config{MaxMatches: 5, AutoMatches: 6}, "AutoMatches 6: want 0 to MaxMatches (5)"},
		{"AutoMatchIdle", Config{AutoMatchIdle: -time.Second, SweepInterval: time.Second}, "AutoMatchIdle -1s: want at least 0s"},
		{"AutoMatchRetention", Config{AutoMatchRetention: -time.Second}, "AutoMatchRetention -1s: want at least 0s"},
		{"SweepInterval", Config{SweepInterval: -time.Second}, "SweepInterval -1s: want more than 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cfg.withDefaults()
			var se *setting.Error
			if !errors.Is(err, ErrConfig) || !errors.As(err, &se) {
				t.Fatalf("got %v, want a setting error wrapping ErrConfig", err)
			}
			if se.Name != tt.name || !strings.HasPrefix(se.Error(), tt.want) {
				t.Errorf("got %q (setting %s), want %q", se.Error(), se.Name, tt.want)
			}
		})
	}
}
