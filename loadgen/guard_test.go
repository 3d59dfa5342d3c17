package loadgen

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

// fakeResolver answers every lookup with its addresses.
type fakeResolver []string

func (f fakeResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range f {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		host  string
		addrs fakeResolver
		ok    bool
	}{
		{host: "127.0.0.1", ok: true},
		{host: "127.255.0.9", ok: true},
		{host: "::1", ok: true},
		{host: "::ffff:127.0.0.1", ok: true},
		{host: "10.0.0.1"},
		{host: "128.0.0.1"},
		{host: "0.0.0.0"},
		{host: "::"},
		{host: "2001:db8::1"},
		{host: "localhost", addrs: fakeResolver{"127.0.0.1", "::1"}, ok: true},
		{host: "sneaky", addrs: fakeResolver{"127.0.0.1", "192.0.2.7"}},
		{host: "nowhere", addrs: fakeResolver{}},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			err := CheckLoopback(context.Background(), tt.addrs, tt.host)
			if tt.ok && err != nil {
				t.Fatalf("CheckLoopback(%q) = %v, want nil", tt.host, err)
			}
			if !tt.ok && !errors.Is(err, ErrRemoteTarget) {
				t.Fatalf("CheckLoopback(%q) = %v, want ErrRemoteTarget", tt.host, err)
			}
		})
	}
}

func TestNewRefusesRemoteTarget(t *testing.T) {
	cfg := Config{Target: "http://example.test:8080", Resolver: fakeResolver{"192.0.2.1"}}
	if _, err := New(cfg); !errors.Is(err, ErrRemoteTarget) {
		t.Fatalf("New(remote) = %v, want ErrRemoteTarget", err)
	}
	cfg.AllowRemote = true
	if _, err := New(cfg); err != nil {
		t.Fatalf("New(remote, AllowRemote) = %v, want nil", err)
	}
	cfg = Config{Target: "http://localhost:8080"}
	if _, err := New(cfg); err != nil {
		t.Fatalf("New(localhost) with the system resolver = %v, want nil", err)
	}
}
