package client_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/client"
	"github.com/emostream/emostream/internal/setting"
)

// TestConfigErrorsNameTheSetting: every setting New refuses is named in
// its error, with the value and the reason; the error wraps ErrConfig.
func TestConfigErrorsNameTheSetting(t *testing.T) {
	const target = "http://127.0.0.1:8080"
	tests := []struct {
		name string
		cfg  client.Config
		want string
	}{
		{"Target", client.Config{Target: "ws://x"}, `Target "ws://x": want http:// or https://host[:port]`},
		{"MaxRetries", client.Config{Target: target, MaxRetries: -1}, "MaxRetries -1: want at least 0"},
		{"MaxRetryWait", client.Config{Target: target, MaxRetryWait: -time.Second}, "MaxRetryWait -1s: want at least 0s"},
		{"TimelineTimeout", client.Config{Target: target, TimelineTimeout: -time.Second}, "TimelineTimeout -1s: want at least 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.New(tt.cfg)
			var se *setting.Error
			if !errors.Is(err, client.ErrConfig) || !errors.As(err, &se) {
				t.Fatalf("got %v, want a setting error wrapping ErrConfig", err)
			}
			if se.Name != tt.name || !strings.HasPrefix(se.Error(), tt.want) {
				t.Errorf("got %q (setting %s), want %q", se.Error(), se.Name, tt.want)
			}
		})
	}
}
