package loadgen

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/setting"
)

// TestConfigErrorsNameTheSetting: every setting New refuses is named in
// its error, with the value and the reason; the error wraps ErrConfig.
func TestConfigErrorsNameTheSetting(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(c *Config)
		want string
	}{
		{"Target", func(c *Config) { c.Target = "ftp://x" }, `Target "ftp://x": want http://host:port`},
		{"Rate", func(c *Config) { c.Rate = -1 }, "Rate -1: want at least 0"},
		{"Rate", func(c *Config) { c.Rate = math.Inf(1) }, "Rate +Inf: want a finite number"},
		{"Duration", func(c *Config) { c.Duration = 2 * time.Hour }, "Duration 2h0m0s: want 0s to 1h0m0s"},
		{"Events", func(c *Config) { c.Events = -1 }, "Events -1: want at least 0"},
		{"Users", func(c *Config) { c.Users = -1 }, "Users -1: want at least 1"},
		{"Matches", func(c *Config) { c.Matches = -1 }, "Matches -1: want at least 1"},
		{"Batch", func(c *Config) { c.Batch = MaxBatch + 1 }, "Batch 1001: want 1 to 1000"},
		{"Connections", func(c *Config) { c.Connections = -1 }, "Connections -1: want 1 to 10000"},
		{"Mix", func(c *Config) { c.Mix = Mix{{Emoji: "🔥", Weight: 0}} }, `Mix: loadgen: bad emoji mix: "🔥" has weight 0`},
		{"Timeout", func(c *Config) { c.Timeout = -time.Second }, "Timeout -1s: want at least 0s"},
		{"ProgressInterval", func(c *Config) { c.ProgressInterval = -time.Second }, "ProgressInterval -1s: want at least 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{}
			tt.cfg(&cfg)
			_, err := New(cfg)
			var se *setting.Error
			if !errors.Is(err, ErrConfig) || !errors.As(err, &se) {
				t.Fatalf("got %v, want a setting error wrapping ErrConfig", err)
			}
			if se.Name != tt.name || !strings.HasPrefix(se.Error(), tt.want) {
				t.Errorf("got %q (setting %s), want %q", se.Error(), se.Name, tt.want)
			}
		})
	}
	if _, err := New(Config{Mix: Mix{{Emoji: "", Weight: 1}}}); !errors.Is(err, ErrBadMix) {
		t.Errorf("a bad mix: %v, want ErrBadMix beside ErrConfig", err)
	}
}
