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
		from     netip.Addr
		want     bool
		wantWait time.Duration
	}{
		{a, true, 0}, {a, true, 0}, {a, false, time.Second}, // a's burst
		{v6a, true, 0}, {v6b, true, 0}, {v6a, false, time.Second}, // one /64
		{b, true, 0},              // the listener's fifth
		{b, false, time.Second},   // the listener's burst spent
		{v6b, false, time.Second}, // still the /64's
	} {
		wait, ok := g.Allow(tt.from, "/metrics")
		if ok != tt.want || wait != tt.wantWait {
			t.Errorf("request %d from %s: ok %v wait %v, want %v %v", i, tt.from, ok, wait, tt.want, tt.wantWait)
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if wait, ok := g.Allow(a, path); !ok || wait != 0 {
			t.Errorf("a probe of %s from a client past its burst and the listener's: wait %v, refused", path, wait)
		}
	}
	if ok, _ := g.clients.Take(client(b), 1, now); !ok {
		t.Error("b's bucket is empty: the listener's refusal cost it a token")
	}
	if secs, msg := Refusal(v6a, 1500*time.Millisecond); secs != 2 || !strings.Contains(msg, "2001:db8::/64") || strings.Contains(msg, "\n") {
		t.Errorf("Refusal: %d %q, want 2 s, the client's /64, one line", secs, msg)
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
