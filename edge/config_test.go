package edge

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/setting"
)

// TestConfigErrorsNameTheSetting: every setting New refuses is named in
// its error, with the value and the reason; the error wraps ErrConfig.
func TestConfigErrorsNameTheSetting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tests := []struct {
		name string
		cfg  func(c *Config)
		want string
	}{
		{"Listener", func(c *Config) { c.Listener = nil }, "Listener: want a bound listener"},
		{"TLSKey", func(c *Config) { c.TLSCert = "cert.pem" }, "TLSKey: want both a certificate and a key, or neither"},
		{"NATSURL", func(c *Config) { c.NATSURL = "" }, `NATSURL "": want the NATS URL of a leaf cluster or the hub`},
		{"MaxConnections", func(c *Config) { c.MaxConnections = -1 }, "MaxConnections -1: want at least 1"},
		{"MaxPerNetwork", func(c *Config) { c.MaxPerNetwork = -1 }, "MaxPerNetwork -1: want at least 0"},
		{"MaxSubscriptions", func(c *Config) { c.MaxSubscriptions = -1 }, "MaxSubscriptions -1: want at least 0"},
		{"MaxControlLine", func(c *Config) { c.MaxControlLine = -1 }, "MaxControlLine -1: want at least 0"},
		{"MaxPayload", func(c *Config) { c.MaxPayload = -1 }, "MaxPayload -1: want at least 0"},
		{"ConnectTimeout", func(c *Config) { c.ConnectTimeout = -time.Second }, "ConnectTimeout -1s: want at least 0s"},
		{"PingInterval", func(c *Config) { c.PingInterval = -time.Second }, "PingInterval -1s: want at least 0s"},
		{"MaxPingsOut", func(c *Config) { c.MaxPingsOut = -1 }, "MaxPingsOut -1: want at least 0"},
		{"WriteTimeout", func(c *Config) { c.WriteTimeout = -time.Second }, "WriteTimeout -1s: want at least 0s"},
		{"MaxPending", func(c *Config) { c.MaxPending = -1 }, "MaxPending -1: want at least 0"},
		{"MaxMatches", func(c *Config) { c.MaxMatches = -1 }, "MaxMatches -1: want at least 0"},
		{"RingSize", func(c *Config) { c.RingSize = -1 }, "RingSize -1: want at least 0"},
		{"MaxUpstreamRequests", func(c *Config) { c.MaxUpstreamRequests = -1 }, "MaxUpstreamRequests -1: want at least 0"},
		{"UpstreamTimeout", func(c *Config) { c.UpstreamTimeout = -time.Second }, "UpstreamTimeout -1s: want at least 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Listener: ln, NATSURL: "nats://127.0.0.1:1"}
			tt.cfg(&cfg)
			_, err := cfg.withDefaults()
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
