package bench

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
		cfg  Config
		want string
	}{
		{"Against", Config{Against: "nohost", WebSocketURLs: []string{"ws://x"}}, `Against "nohost": want the base URL`},
		{"WebSocketURLs", Config{Against: "http://127.0.0.1:8080"}, "WebSocketURLs []: want the WebSocket URLs"},
		{"Partitions", Config{Partitions: -1}, "Partitions -1: want at least 0"},
		{"KafkaBrokers", Config{Against: "http://127.0.0.1:8080", WebSocketURLs: []string{"ws://x"}, KafkaBrokers: []string{"127.0.0.1:9092"}}, "KafkaBrokers [127.0.0.1:9092]: want none with Against"},
		{"Window", Config{Window: 50 * time.Millisecond}, "Window 50ms: want whole milliseconds from 100ms to 1h"},
		{"Duration", Config{Duration: time.Hour}, "Duration 1h0m0s: want 0s to 10m0s"},
		{"Rate", Config{Rate: -1}, "Rate -1: want at least 0"},
		{"Rate", Config{Rate: math.NaN()}, "Rate NaN: want a finite number"},
		{"Batch", Config{Batch: 1001}, "Batch 1001: want 1 to 1000"},
		{"Viewers", Config{Viewers: MaxViewers + 1}, "Viewers 20001: want 1 to 20000"},
		{"ViewersPerProcess", Config{ViewersPerProcess: -1}, "ViewersPerProcess -1: want at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
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
