package clientip

import (
	"net/netip"
	"strings"
	"testing"
)

func TestOf(t *testing.T) {
	proxies, err := ParsePrefixes("10.0.0.0/8, 192.168.1.1,::1")
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr
	tests := []struct {
		name, peer string
		xff        []string // header lines, in the order received
		proxies    bool
		want       string
	}{
		{"no proxies configured", "10.1.1.1", []string{"1.2.3.4"}, false, "10.1.1.1"},
		{"untrusted peer", "8.8.8.8", []string{"1.2.3.4"}, true, "8.8.8.8"},
		{"trusted peer, no header", "10.1.1.1", nil, true, "10.1.1.1"},
		{"trusted peer, empty header", "10.1.1.1", []string{""}, true, "10.1.1.1"},
		{"one hop", "10.1.1.1", []string{"1.2.3.4"}, true, "1.2.3.4"},
		{"spoofed left part ignored", "10.1.1.1", []string{"6.6.6.6, 1.2.3.4"}, true, "1.2.3.4"},
		{"chain of proxies", "10.1.1.1", []string{"1.2.3.4, 10.2.2.2, 192.168.1.1"}, true, "1.2.3.4"},
		{"all trusted", "10.1.1.1", []string{"10.3.3.3"}, true, "10.3.3.3"},
		{"garbage", "10.1.1.1", []string{"1.2.3.4, nonsense"}, true, "10.1.1.1"},
		{"garbage behind a trusted hop", "10.1.1.1", []string{"nonsense, 10.2.2.2"}, true, "10.2.2.2"},
		{"with port", "::1", []string{"1.2.3.4:5678"}, true, "1.2.3.4"},
		{"IPv6 with port", "::1", []string{"[2001:db8::1]:443"}, true, "2001:db8::1"},
		{"mapped v4 peer", "::ffff:10.1.1.1", []string{"1.2.3.4"}, true, "1.2.3.4"},
		{"a proxy's own line, last", "10.1.1.1", []string{"6.6.6.6", "1.2.3.4"}, true, "1.2.3.4"},
		{"the client's line, then a proxy's", "10.1.1.1", []string{"6.6.6.6, 5.5.5.5", "10.2.2.2"}, true, "5.5.5.5"},
		{"lines of trusted hops", "10.1.1.1", []string{"1.2.3.4, 10.3.3.3", "10.2.2.2, 192.168.1.1"}, true, "1.2.3.4"},
		{"an empty line between", "10.1.1.1", []string{"1.2.3.4", "", "10.2.2.2"}, true, "10.2.2.2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p []netip.Prefix
			if tt.proxies {
				p = proxies
			}
			if got := Of(a(tt.peer), tt.xff, p); got != a(tt.want) {
				t.Errorf("Of(%s, %q) = %v, want %v", tt.peer, tt.xff, got, tt.want)
			}
			lines := make([][]byte, len(tt.xff))
			for i, l := range tt.xff {
				lines[i] = []byte(l)
			}
			if got := Of(a(tt.peer), lines, p); got != a(tt.want) {
				t.Errorf("Of(%s, %q) as bytes = %v, want %v", tt.peer, tt.xff, got, tt.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes(" 10.1.2.3/8, 192.168.1.1 ,, ::ffff:172.16.0.1, 2001:db8::/32")
	want := []string{"10.0.0.0/8", "192.168.1.1/32", "172.16.0.1/32", "2001:db8::/32"}
	if err != nil || len(got) != len(want) {
		t.Fatalf("ParsePrefixes = %v, %v; want %v", got, err, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("prefix %d: %v, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy", "1.2.3.4/x"} {
		if _, err := ParsePrefixes(bad); err == nil || !strings.Contains(err.Error(), "trusted proxy") {
			t.Errorf("ParsePrefixes(%q): %v, want an error naming the trusted proxy", bad, err)
		}
	}
}

// FuzzOf: whatever the X-Forwarded-For lines, the client address is the
// peer, or an address written in them when the peer is trusted.
func FuzzOf(f *testing.F) {
	for _, c := range []struct{ peer, lines string }{
		{"10.1.1.1", "1.2.3.4"}, {"10.1.1.1", ""}, {"10.1.1.1", "\n\n"}, {"8.8.8.8", "1.2.3.4"},
		{"10.1.1.1", "6.6.6.6, 1.2.3.4\n10.2.2.2"}, {"::1", "[2001:db8::1]:443, fe80::1%eth0"},
		{"10.1.1.1", strings.Repeat("10.9.9.9, ", 10_000) + "1.2.3.4"}, {"10.1.1.1", ",,,"},
		{"::ffff:10.1.1.1", "0.0.0.0, 255.255.255.255:65535"},
	} {
		f.Add(c.peer, c.lines)
	}
	proxies, _ := ParsePrefixes("10.0.0.0/8,::1/128")
	f.Fuzz(func(t *testing.T, peer, lines string) {
		p, err := netip.ParseAddr(peer)
		if err != nil {
			return
		}
		xff := strings.Split(lines, "\n")
		got := Of(p, xff, proxies)
		switch {
		case got == p.Unmap():
		case !Trusted(p.Unmap(), proxies):
			t.Fatalf("Of(%s) = %v from an untrusted peer", peer, got)
		case !written(lines, got):
			t.Fatalf("Of(%s, %q) = %v: neither the peer nor in the header", peer, lines, got)
		}
	})
}

// written reports whether a is one of the addresses of lines.
func written(lines string, a netip.Addr) bool {
	for _, hop := range strings.FieldsFunc(lines, func(r rune) bool { return r == ',' || r == '\n' }) {
		if b, ok := parseHop(strings.TrimSpace(hop)); ok && b == a {
			return true
		}
	}
	return false
}
