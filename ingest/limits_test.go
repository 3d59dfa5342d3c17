package ingest

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/valyala/fasthttp"
)

func TestContentCoding(t *testing.T) {
	tests := []struct {
		name   string
		lines  []string
		gzip   bool
		refuse bool
	}{
		{"absent", nil, false, false},
		{"empty", []string{""}, false, false},
		{"identity", []string{"identity"}, false, false},
		{"gzip", []string{"gzip"}, true, false},
		{"GZIP", []string{" GZIP "}, true, false},
		{"x-gzip", []string{"x-gzip"}, true, false},
		{"gzip and identity", []string{"identity, gzip"}, true, false},
		{"gzip twice", []string{"gzip, gzip"}, false, true},
		{"gzip in two lines", []string{"gzip", "gzip"}, false, true},
		{"br", []string{"br"}, false, true},
		{"deflate", []string{"deflate"}, false, true},
		{"gzip, br", []string{"gzip, br"}, false, true},
		{"unknown", []string{"x-" + strings.Repeat("z", 100)}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h fasthttp.RequestHeader
			for _, l := range tt.lines {
				h.Add("Content-Encoding", l)
			}
			gz, err := contentCoding(&h)
			if gz != tt.gzip || (err != nil) != tt.refuse {
				t.Errorf("gzip %v, err %v; want %v, refused %v", gz, err, tt.gzip, tt.refuse)
			}
		})
	}
}

func TestReadAtMost(t *testing.T) {
	for _, tt := range []struct {
		n, limit int
		tooBig   bool
	}{{0, 10, false}, {10, 10, false}, {11, 10, true}, {1 << 20, 1 << 20, false}, {1<<20 + 1, 1 << 20, true}, {5 << 20, 1 << 20, true}} {
		got, err := readAtMost(io.LimitReader(zeroReader{}, int64(tt.n)), nil, tt.limit)
		if errors.Is(err, errTooLarge) != tt.tooBig || (!tt.tooBig && len(got) != tt.n) {
			t.Errorf("%d bytes, limit %d: %d bytes, %v", tt.n, tt.limit, len(got), err)
		}
		if cap(got) > tt.limit+1 {
			t.Errorf("%d bytes, limit %d: buffer grew to %d", tt.n, tt.limit, cap(got))
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestExhausted(t *testing.T) {
	wrap := func(e syscall.Errno) error { return &net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", e)} }
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{wrap(syscall.EMFILE), true}, {wrap(syscall.ENFILE), true}, {wrap(syscall.ENOBUFS), true},
		{wrap(syscall.ENOMEM), true}, {net.ErrClosed, false}, {wrap(syscall.EINVAL), false},
	} {
		if got := exhausted(tt.err); got != tt.want {
			t.Errorf("exhausted(%v) = %v", tt.err, got)
		}
	}
}

func TestNetwork(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"127.0.0.2", "127.0.0.0/24"}, {"127.0.0.40", "127.0.0.0/24"}, {"10.1.2.3", "10.1.2.0/24"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"}, {"::1", "::/64"},
	} {
		if got := network(netip.MustParseAddr(tt.addr), 24, 64); got.String() != tt.want {
			t.Errorf("network(%s) = %s, want %s", tt.addr, got, tt.want)
		}
	}
}
