package processor

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
		{"Partitions", func(c *Config) { c.Partitions = -1 }, "Partitions -1: want at least 0"},
		{"Partitions", func(c *Config) { c.Partitions, c.KafkaBrokers = 0, nil }, "Partitions 0: want a partition count, or KafkaBrokers to ask"},
		{"PartitionRefresh", func(c *Config) { c.PartitionRefresh = -time.Second }, "PartitionRefresh -1s: want at least 0s"},
		{"Window", func(c *Config) { c.Window = time.Millisecond }, "Window 1ms: want whole milliseconds from 100ms to 1h"},
		{"PartitionWait", func(c *Config) { c.PartitionWait = -time.Second }, "PartitionWait -1s: want 0s to 1h0m0s"},
		{"SwarmThreshold", func(c *Config) { c.SwarmThreshold = -1 }, "SwarmThreshold -1: want at least 1"},
		{"PinnedTTL", func(c *Config) { c.PinnedTTL = time.Second }, "PinnedTTL 1s: want at least 2s"},
		{"AckWait", func(c *Config) { c.AckWait = time.Millisecond }, "AckWait 1ms: want at least 1s"},
		{"MaxOpenWindows", func(c *Config) { c.MaxOpenWindows = -1 }, "MaxOpenWindows -1: want at least 1"},
		{"MaxMatchStates", func(c *Config) { c.MaxMatchStates = -1 }, "MaxMatchStates -1: want at least 1"},
		{"MaxSwarmBytes", func(c *Config) { c.MaxSwarmBytes = 100 }, "MaxSwarmBytes 100: want at least 4096"},
		{"Moments.Factor", func(c *Config) { c.Moments.Factor = math.Inf(1) }, "Moments.Factor +Inf: want at least 1, finite"},
		{"Moments.Floor", func(c *Config) { c.Moments.Floor = -1 }, "Moments.Floor -1: want at least 1"},
		{"Moments.Baseline", func(c *Config) { c.Moments.Baseline = time.Second }, "Moments.Baseline 1s: want 3 to 1800 windows of 2s"},
		{"Moments.Cooldown", func(c *Config) { c.Moments.Cooldown = -time.Second }, "Moments.Cooldown -1s: want at least 0s"},
		{"Moments.Share", func(c *Config) { c.Moments.Share = math.NaN() }, "Moments.Share NaN: want at least 0, finite"},
		{"Moments.Share", func(c *Config) { c.Moments.Share = math.Inf(1) }, "Moments.Share +Inf: want at least 0, finite"},
		{"MaxEdges", func(c *Config) { c.MaxEdges = -1 }, "MaxEdges -1: want at least 1"},
		{"MaxOccupancy", func(c *Config) { c.MaxOccupancy = -1 }, "MaxOccupancy -1: want at least 1"},
		{"MaxEdgeViewers", func(c *Config) { c.MaxEdges, c.MaxEdgeViewers = 4, 1<<61 }, "MaxEdgeViewers 2305843009213693952: want 1 to 2^62 / MaxEdges (4)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Partitions: 2}
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
	if err := (Config{}).withDefaults().validate(); !errors.Is(err, ErrNoPartitions) {
		t.Errorf("no partition count: %v, want ErrNoPartitions", err)
	}
}
