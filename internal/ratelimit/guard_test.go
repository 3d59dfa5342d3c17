package ratelimit

import (
	"errors"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/setting"
)

// A client past its burst is refused and others are not; past the
// listener's burst everyone is, and that refusal costs the client
// nothing; an IPv6 client is its /64.
func TestGuardAllow(t *testing.T) {
	now := time.Unix(1000, 0)
	g, err := NewGuard(GuardConfig{Rate: 1, Burst: 2, ListenerRate: 1, ListenerBurst: 5, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	v6a, v6b := netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
	for i, tt := range []struct {
		from      netip.Addr
		wantScope string // "": passes
		wantWait  time.Duration
	}{
		{a, "", 0}, {a, "", 0}, {a, ScopeClient, time.Second}, // a's burst
		{v6a, "", 0}, {v6b, "", 0}, {v6a, ScopeClient, time.Second}, // one /64
		{b, "", 0},                      // the listener's fifth
		{b, ScopeListener, time.Second}, // the listener's burst spent
		{v6b, ScopeClient, time.Second}, // still the /64's
	} {
		scope, wait := g.Allow(tt.from, "/metrics")
		if scope != tt.wantScope || wait != tt.wantWait {
			t.Errorf("request %d from %s: scope %q wait %v, want %q %v", i, tt.from, scope, wait, tt.wantScope, tt.wantWait)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if scope, wait := g.Allow(a, path); scope != "" || wait != 0 {
			t.Errorf("a probe of %s from a client past its burst and the listener's: refused by %s, wait %v", path, scope, wait)
		}
	}
	if ok, _ := g.clients.Take(client(b), 1, now); !ok {
		t.Error("b's bucket is empty: the listener's refusal cost it a token")
	}
	if secs, msg := Refusal(v6a, ScopeClient, 1500*time.Millisecond); secs != 2 || !strings.Contains(msg, "from 2001:db8::/64:") || strings.Contains(msg, "\n") {
		t.Errorf("Refusal: %d %q, want 2 s, the client's /64, one line", secs, msg)
	}
	if _, msg := Refusal(b, ScopeListener, time.Second); !strings.Contains(msg, "all its clients together, not from 10.0.0.2/32 alone") {
		t.Errorf("Refusal by the listener's limit: %q, want it to say so, not blame the client", msg)
	}
}

// A GuardConfig's rules name the setting that is wrong.
func TestGuardConfigRules(t *testing.T) {
	for _, tt := range []struct {
		cfg  GuardConfig
		want string // the setting named; "" for none
	}{
		{GuardConfig{}, ""},
		{GuardConfig{MaxConnections: 8}, ""}, // its per-client default follows
		{GuardConfig{MaxConnections: 4, MaxPerNetwork: 8}, "Ops.MaxPerNetwork"},
		{GuardConfig{MaxConnections: -1}, "Ops.MaxConnections"},
		{GuardConfig{Rate: math.Inf(1)}, "Ops.Rate"},
		{GuardConfig{ListenerBurst: -1}, "Ops.ListenerBurst"},
		{GuardConfig{Rate: -1, ListenerRate: -1}, ""}, // no rate limits
	} {
		err := setting.First(errors.New("test"), tt.cfg.Rules("Ops")...)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want+" ")) {
			t.Errorf("%+v: %v, want an error naming %q", tt.cfg, err, tt.want)
		}
		if _, err := NewGuard(tt.cfg); (err != nil) != (tt.want != "") || err != nil && !errors.Is(err, ErrConfig) {
			t.Errorf("NewGuard(%+v): %v, want an ErrConfig for a wrong setting", tt.cfg, err)
		}
	}
}
