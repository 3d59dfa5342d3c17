package bridge

import (
	"errors"
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
		{"KafkaBrokers", func(c *Config) { c.KafkaBrokers = nil }, "KafkaBrokers []: want at least one"},
		{"Window", func(c *Config) { c.Window = 150*time.Millisecond + time.Microsecond }, "Window 150.001ms: want whole milliseconds from 100ms to 1h"},
		{"CloseDelay", func(c *Config) { c.CloseDelay = 2 * time.Second }, "CloseDelay 2s: want 0 to less than Window (2s)"},
		{"DedupHorizon", func(c *Config) { c.DedupHorizon = time.Millisecond }, "DedupHorizon 1ms: want at least 1s, or negative for off"},
		{"DedupMemory", func(c *Config) { c.DedupMemory = 1 }, "DedupMemory 1: want 1048576 to 17179869184"},
		{"DedupPerUser", func(c *Config) { c.DedupPerUser = MaxDedupPerUser + 1 }, "DedupPerUser 65536: want at most 65535"},
		{"MaxPartialBytes", func(c *Config) { c.MaxPartialBytes = 1 }, "MaxPartialBytes 1: want "},
		{"Heartbeat", func(c *Config) { c.Heartbeat = -time.Second }, "Heartbeat -1s: want more than 0s"},
		{"PartitionWatch", func(c *Config) { c.PartitionWatch = -time.Second }, "PartitionWatch -1s: want more than 0s"},
		{"SessionTimeout", func(c *Config) { c.SessionTimeout = time.Second }, "SessionTimeout 1s: want at least twice Heartbeat (1s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{KafkaBrokers: []string{"127.0.0.1:1"}}
			tt.cfg(&cfg)
			err := cfg.withDefaults().validate()
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
