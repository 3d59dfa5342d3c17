package fanout

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/wire"
)

// TestConfigErrorsNameTheSetting: every setting NewHub, NewLeaf and
// NewWatcher refuse is named in the error, with the reason (and the
// value, unless it may be a secret); the error wraps ErrConfig.
func TestConfigErrorsNameTheSetting(t *testing.T) {
	hub := func(f func(*HubConfig)) func() error {
		return func() error {
			c := HubConfig{}
			f(&c)
			_, err := c.withDefaults()
			return err
		}
	}
	leaf := func(f func(*LeafConfig)) func() error {
		return func() error {
			c := LeafConfig{Remotes: []string{"nats-leaf://127.0.0.1:1"}}
			f(&c)
			_, err := c.withDefaults()
			return err
		}
	}
	tests := []struct {
		name   string
		err    func() error
		want   string
		secret string // a value the message must not show
	}{
		{"StageUser", hub(func(c *HubConfig) { c.StageUser = "a b" }), "StageUser: want 1-128 of [A-Za-z0-9._~-]", "a b"},
		{"Passwords[bridge]", hub(func(c *HubConfig) { c.Passwords = map[string]string{"bridge": "p w"} }), "Passwords[bridge]: want 1-128", "p w"},
		{"AnonymousAdmin", hub(func(c *HubConfig) { c.AnonymousAdmin = true }), "AnonymousAdmin true: want Passwords beside it", ""},
		{"ClientTLS.Key", hub(func(c *HubConfig) { c.ClientTLS.Cert = "c.pem" }), "ClientTLS.Key: want both a certificate and a key, or neither", ""},
		{"LeafTLS.Cert", hub(func(c *HubConfig) { c.LeafTLS.CA = "ca.pem" }), "LeafTLS.Cert: want a certificate and a key for a listener", ""},
		{"ClientTLS.CA", hub(func(c *HubConfig) { c.ClientTLS = TLSConfig{Cert: "c", Key: "k", Verify: true} }), "ClientTLS.CA: want a CA", ""},
		{"ClientTLS.Cert", hub(func(c *HubConfig) { c.ClientTLS = TLSConfig{Cert: "c\"", Key: "k"} }), `ClientTLS.Cert "c\"": want a file name without quotes`, ""},
		{"LeafUser", hub(func(c *HubConfig) { c.LeafUser = "ü" }), "LeafUser: want 1-128", "ü"},
		{"LeafUser", hub(func(c *HubConfig) { c.StageUser = "leaf" }), `LeafUser "leaf": want a name no user of the client port has`, ""},
		{"LeafUser", hub(func(c *HubConfig) { c.Passwords, c.LeafUser = map[string]string{}, UserAdmin }),
			`LeafUser "admin": want a name no user of the client port has`, ""},
		{"LeafPassword", hub(func(c *HubConfig) { c.LeafPassword = "pass word" }), "LeafPassword: want 1-128", "pass word"},
		{"MaxConnections", hub(func(c *HubConfig) { c.MaxConnections = -1 }), "MaxConnections -1: want at least 0", ""},
		{"MaxSubscriptions", hub(func(c *HubConfig) { c.MaxSubscriptions = -1 }), "MaxSubscriptions -1: want at least 0", ""},
		{"LeafMaxSubscriptions", hub(func(c *HubConfig) { c.LeafMaxSubscriptions = -1 }), "LeafMaxSubscriptions -1: want at least 0", ""},
		{"MaxSubscriptions", hub(func(c *HubConfig) { c.MaxSubscriptions, c.LeafMaxSubscriptions = 100, 99 }),
			"MaxSubscriptions 100: want at most LeafMaxSubscriptions (99)", ""},
		{"MaxPayload", hub(func(c *HubConfig) { c.MaxPayload = -1 }), "MaxPayload -1: want at least 0", ""},
		{"WriteTimeout", hub(func(c *HubConfig) { c.WriteTimeout = -time.Second }), "WriteTimeout -1s: want at least 0s", ""},
		{"Remotes", leaf(func(c *LeafConfig) { c.Remotes = nil }), "Remotes: want at least one", ""},
		{"RemoteTLS.Verify", leaf(func(c *LeafConfig) { c.RemoteTLS.Verify = true }), "RemoteTLS.Verify true: want false", ""},
		{"RemoteTLS.Key", leaf(func(c *LeafConfig) { c.RemoteTLS.Cert = "c" }), "RemoteTLS.Key: want both", ""},
		{"LeafUser", leaf(func(c *LeafConfig) { c.LeafUser = UserEdge }), `LeafUser "edge": want a name other than edge and viewer`, ""},
		{"LeafUser", leaf(func(c *LeafConfig) { c.LeafUser = viewerUser }), `LeafUser "viewer": want a name other than edge and viewer`, ""},
		{"EdgePassword", leaf(func(c *LeafConfig) { c.EdgePassword = "secret!" }), "EdgePassword: want 1-128", "secret!"},
		{"TLSKey", leaf(func(c *LeafConfig) { c.TLSCert = "c" }), "TLSKey: want both a certificate and a key, or neither", ""},
		{"MaxSubscriptions", leaf(func(c *LeafConfig) { c.MaxSubscriptions = -1 }), "MaxSubscriptions -1: want at least 0", ""},
		{"LeafMaxSubscriptions", leaf(func(c *LeafConfig) { c.LeafMaxSubscriptions = 31 }),
			"LeafMaxSubscriptions 31: want at least 32: the link to Remotes carries the hub's interest, about a dozen subjects", ""},
		{"MaxSubscriptions", leaf(func(c *LeafConfig) { c.MaxSubscriptions, c.LeafMaxSubscriptions = 100, 99 }),
			"MaxSubscriptions 100: want at most LeafMaxSubscriptions (99)", ""},
		{"MaxPending", leaf(func(c *LeafConfig) { c.MaxPending = -1 }), "MaxPending -1: want at least 0", ""},
		{"PingInterval", leaf(func(c *LeafConfig) { c.PingInterval = -time.Second }), "PingInterval -1s: want at least 0s", ""},
		{"Match", func() error {
			_, err := NewWatcher(nil, WatchConfig{Match: "a b", OnSwarm: func([]byte, Source) {}})
			return err
		},
			`Match "a b": want 1 to 64 characters`, ""},
		{"OnSwarm", func() error { _, err := NewWatcher(nil, WatchConfig{Match: "m"}); return err }, "OnSwarm: want a func", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			var se *setting.Error
			if !errors.Is(err, ErrConfig) || !errors.As(err, &se) {
				t.Fatalf("got %v, want a setting error wrapping ErrConfig", err)
			}
			if se.Name != tt.name || !strings.HasPrefix(se.Error(), tt.want) {
				t.Errorf("got %q (setting %s), want %q", se.Error(), se.Name, tt.want)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("%q shows the secret %q", err, tt.secret)
			}
		})
	}
}

// TestConfigQuotesValues: names and paths reach the servers as given, with
// quotes, backslashes, braces, control characters and bytes outside ASCII,
// which the rendered configuration carries as nats-server's escapes.
func TestConfigQuotesValues(t *testing.T) {
	odd := "x\"}\n{\\\a\u00a0é\xff"
	dir := filepath.Join(t.TempDir(), odd)
	h := startHubConfig(t, HubConfig{Name: "hub" + odd, DataDir: dir, ClientListen: "127.0.0.1:0",
		LeafListen: "127.0.0.1:0", Logger: testLogger()})
	if got := h.Server().Name(); got != "hub"+odd {
		t.Errorf("hub name %q, want %q", got, "hub"+odd)
	}
	stageJS(t, h) // a stream in the store
	if _, err := os.Stat(filepath.Join(dir, "jetstream", "STAGES", "streams", wire.SwarmsStream)); err != nil {
		t.Errorf("the store is not in DataDir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, StoreLockFile)); err != nil {
		t.Errorf("the store's lock is not in DataDir: %v", err)
	}
	l := startLeaf(t, LeafConfig{Name: "leaf" + odd, Remotes: []string{h.LeafRemote()}, WebSocketListen: "127.0.0.1:0",
		AllowedOrigins: []string{"https://é.example"}, Logger: testLogger()})
	waitLeafs(t, l.embedded, 1)
	if got := l.Server().Name(); got != "leaf"+odd {
		t.Errorf("leaf name %q, want %q", got, "leaf"+odd)
	}
	if got := l.opts.Websocket.AllowedOrigins; len(got) != 1 || got[0] != "https://é.example" {
		t.Errorf("allowed origins %q", got)
	}
}
