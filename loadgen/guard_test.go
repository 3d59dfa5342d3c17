package loadgen

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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

// rebindResolver answers its first lookup with a loopback address and every
// later one with a remote address, as a DNS name rebound after the check.
type rebindResolver struct{ lookups atomic.Int32 }

func (r *rebindResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	if r.lookups.Add(1) == 1 {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	return []netip.Addr{netip.MustParseAddr("192.0.2.1")}, nil
}

// The run connects to the addresses the loopback guard checked, looked up
// with the same Resolver at every dial: a name reaches the loopback
// address it resolves to, and one that resolves elsewhere after New is
// never dialled.
func TestDialsOnlyLoopback(t *testing.T) {
	_, target := serveCeiling(t)
	port := target[strings.LastIndex(target, ":")+1:]
	g, err := New(Config{Target: "http://ceiling.invalid:" + port, Resolver: fakeResolver{"127.0.0.1"},
		Events: 10, Connections: 2, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	s, err := g.Run(t.Context())
	if err != nil || s.Accepted != 10 {
		t.Fatalf("Run = %+v, %v; want 10 events accepted at the resolved 127.0.0.1", s.Counts, err)
	}

	var remote atomic.Int32
	g, err = New(Config{Target: "http://rebound.invalid:" + port, Resolver: &rebindResolver{},
		Events: 10, Connections: 2, Duration: time.Minute, OnResult: func(r Result) {
			if !errors.Is(r.Err, ErrRemoteTarget) {
				t.Errorf("request answered %d, %v; want ErrRemoteTarget", r.Status, r.Err)
			}
			remote.Add(1)
		}})
	if err != nil {
		t.Fatal(err)
	}
	if s, err = g.Run(t.Context()); err != nil || s.Accepted != 0 || remote.Load() != 10 {
		t.Fatalf("Run = %+v, %v; want 10 requests refused as remote", s.Counts, err)
	}
}
