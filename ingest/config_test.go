package ingest_test

import (
	"errors"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/setting"
)

// TestConfigErrorsNameTheSetting: every setting New refuses is named in
// its error, with the value and the reason, so that an operator can tell
// which one is wrong; the error wraps ErrConfig.
func TestConfigErrorsNameTheSetting(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(c *ingest.Config)
		want string // the *setting.Error's message
	}{
		{"Ack", func(c *ingest.Config) { c.Ack = "maybe" }, `Ack "maybe": want all or buffered`},
		{"FlushInterval", func(c *ingest.Config) { c.FlushInterval = -time.Second }, "FlushInterval -1s: want at least 0s"},
		{"Window", func(c *ingest.Config) { c.Window = 150*time.Millisecond + time.Microsecond }, "Window 150.001ms: want whole milliseconds from 100ms to 1h"},
		{"SwarmThreshold", func(c *ingest.Config) { c.SwarmThreshold = -1 }, "SwarmThreshold -1: want at least 0"},
		{"UserRate", func(c *ingest.Config) { c.UserRate = math.Inf(1) }, "UserRate +Inf: want a finite number"},
		{"UserBurst", func(c *ingest.Config) { c.UserBurst = -1 }, "UserBurst -1: want at least 0"},
		{"IPRate", func(c *ingest.Config) { c.IPRate = math.NaN() }, "IPRate NaN: want a finite number"},
		{"IPBurst", func(c *ingest.Config) { c.IPBurst = -1 }, "IPBurst -1: want at least 0"},
		{"MaxBuckets", func(c *ingest.Config) { c.MaxBuckets = -1 }, "MaxBuckets -1: want at least 0"},
		{"BodyLimit", func(c *ingest.Config) { c.BodyLimit = -1 }, "BodyLimit -1: want at least 0"},
		{"IPPrefixV4", func(c *ingest.Config) { c.IPPrefixV4 = 33 }, "IPPrefixV4 33: want 1 to 32"},
		{"IPPrefixV6", func(c *ingest.Config) { c.IPPrefixV6 = 129 }, "IPPrefixV6 129: want 1 to 128"},
		{"MaxConnections", func(c *ingest.Config) { c.MaxConnections = -1 }, "MaxConnections -1: want at least 1"},
		{"MaxPerNetwork", func(c *ingest.Config) { c.MaxConnections, c.MaxPerNetwork = 10, 11 }, "MaxPerNetwork 11: want at most MaxConnections (10)"},
		{"FDReserve", func(c *ingest.Config) { c.FDReserve = -1 }, "FDReserve -1: want at least 0"},
		{"ReadTimeout", func(c *ingest.Config) { c.ReadTimeout = -1 }, "ReadTimeout -1ns: want at least 0s"},
		{"WriteTimeout", func(c *ingest.Config) { c.WriteTimeout = -1 }, "WriteTimeout -1ns: want at least 0s"},
		{"IdleTimeout", func(c *ingest.Config) { c.IdleTimeout = -1 }, "IdleTimeout -1ns: want at least 0s"},
		{"ProduceTimeout", func(c *ingest.Config) { c.ProduceTimeout = -1 }, "ProduceTimeout -1ns: want at least 0s"},
		{"ShutdownTimeout", func(c *ingest.Config) { c.ShutdownTimeout = -1 }, "ShutdownTimeout -1ns: want at least 0s"},
		{"MaxBatchBytes", func(c *ingest.Config) { c.MaxBatchBytes = -1 }, "MaxBatchBytes -1: want at least 0"},
		{"MaxInFlight", func(c *ingest.Config) { c.MaxInFlight = -1 }, "MaxInFlight -1: want at least 0"},
		{"Compression", func(c *ingest.Config) { c.Compression = 9 }, "Compression 9: want none, gzip, snappy, lz4 or zstd"},
		{"MaxBuffered", func(c *ingest.Config) { c.MaxBuffered = 10 }, "MaxBuffered 10: want at least one full request (1000)"},
		{"TimelineRate", func(c *ingest.Config) { c.TimelineRate = math.Inf(-1) }, "TimelineRate -Inf: want a finite number"},
		{"MatchesRate", func(c *ingest.Config) { c.MatchesRate = math.NaN() }, "MatchesRate NaN: want a finite number"},
		// A page costs up to 9 tokens: a smaller burst could never serve it.
		{"MatchesBurst", func(c *ingest.Config) { c.MatchesBurst = ingest.MinMatchesBurst - 1 }, "MatchesBurst 8: want at least 9, what the largest page costs"},
		{"AdminToken", func(c *ingest.Config) { c.AdminToken = "short" }, "AdminToken (5 bytes): want at least 16 bytes, or none"},
		{"Matches", func(c *ingest.Config) { c.AdminToken = strings.Repeat("t", 32) }, "Matches: want a match registry for the admin API (AdminToken)"},
		{"AdminGuessRate", func(c *ingest.Config) { c.AdminGuessRate = math.Inf(1) }, "AdminGuessRate +Inf: want a finite number"},
		{"AdminGuessBurst", func(c *ingest.Config) { c.AdminGuessBurst = -1 }, "AdminGuessBurst -1: want at least 0"},
		{"OpsGuard.MaxPerNetwork", func(c *ingest.Config) { c.OpsGuard.MaxConnections, c.OpsGuard.MaxPerNetwork = 4, 8 }, "OpsGuard.MaxPerNetwork 8: want at most MaxConnections (4): one network could hold every connection"},
		{"KafkaBrokers", func(c *ingest.Config) { c.KafkaBrokers = []string{"noport"} }, `KafkaBrokers "noport": address noport: missing port in address`},
		{"Emojis", func(c *ingest.Config) { c.Emojis = []string{""} }, "Emojis: "},
		{"CORSOrigins", func(c *ingest.Config) { c.CORSOrigins = []string{"ftp://x"} }, `CORSOrigins "ftp://x": want scheme://host[:port] or *`},
		{"WebSocketURLs", func(c *ingest.Config) { c.WebSocketURLs = []string{"http://x"} }, `WebSocketURLs "http://x": want ws:// or wss://host[:port][/path]`},
		{"OpsHosts", func(c *ingest.Config) { c.OpsHosts = []string{"http://x"} }, "OpsHosts http://x: "},
		{"Auth.Mode", func(c *ingest.Config) { c.Auth.Mode = "basic" }, `Auth.Mode "basic": want none or jwt`},
		{"Auth.HMACSecret", func(c *ingest.Config) { c.Auth = ingest.AuthConfig{Mode: ingest.AuthJWT, HMACSecret: []byte("short")} }, "Auth.HMACSecret (5 bytes): want at least 32 bytes"},
		{"Auth.MaxTokenBytes", func(c *ingest.Config) { c.Auth = ingest.AuthConfig{Mode: ingest.AuthJWT, MaxTokenBytes: -1} }, "Auth.MaxTokenBytes -1: want at least 0"},
		{"Session.TTL", func(c *ingest.Config) {
			c.Auth.Mode, c.Session = ingest.AuthJWT, ingest.SessionConfig{Enabled: true, TTL: 2 * time.Hour}
		}, "Session.TTL 2h0m0s: want 0s to 1h0m0s"},
		{"Session.Rate", func(c *ingest.Config) {
			c.Auth.Mode, c.Session = ingest.AuthJWT, ingest.SessionConfig{Enabled: true, Rate: math.Inf(1)}
		}, "Session.Rate +Inf: want a finite number"},
		{"Session.Enabled", func(c *ingest.Config) { c.Auth.Mode, c.Session.Enabled = ingest.AuthNone, true }, "Session.Enabled true: want Auth.Mode jwt: sessions issue tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cfg := ingest.Config{Listener: ln, KafkaBrokers: []string{"127.0.0.1:1"}}
			tt.cfg(&cfg)
			_, err = ingest.New(cfg)
			var se *setting.Error
			if !errors.Is(err, ingest.ErrConfig) || !errors.As(err, &se) {
				t.Fatalf("got %v, want a setting error wrapping ErrConfig", err)
			}
			if se.Name != tt.name || !strings.HasPrefix(se.Error(), tt.want) {
				t.Errorf("got %q (setting %s), want %q", se.Error(), se.Name, tt.want)
			}
		})
	}
}
