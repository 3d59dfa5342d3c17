package hostcheck_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/emostream/emostream/internal/hostcheck"
)

func TestAllowed(t *testing.T) {
	loop := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9100}
	anyAddr := &net.TCPAddr{IP: net.IPv6unspecified, Port: 9100}
	private := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 9100}
	host, _ := os.Hostname()
	for _, tt := range []struct {
		name  string
		addr  net.Addr
		names []string
		host  string
		want  bool
	}{
		{"its address", loop, nil, "127.0.0.1:9100", true},
		{"its address, another port", loop, nil, "127.0.0.1:80", true},
		{"its address without a port", loop, nil, "127.0.0.1", true},
		{"localhost", loop, nil, "localhost:9100", true},
		{"LOCALHOST.", loop, nil, "LOCALHOST.:9100", true},
		{"the host name", loop, nil, host, true},
		{"no Host", loop, nil, "", true},
		{"a rebinding name", loop, nil, "evil.example:9100", false},
		{"a rebinding name that looks local", loop, nil, "localhost.evil.example", false},
		{"another loopback address", loop, nil, "127.0.0.2:9100", false},
		{"::1 on a v4 listener", loop, nil, "[::1]:9100", false},
		{"a name given", loop, []string{"Metrics.Internal"}, "metrics.internal:9100", true},
		{"an address given", private, []string{"203.0.113.7"}, "203.0.113.7:9100", true},
		{"a private listener's address", private, nil, "10.0.0.5:9100", true},
		{"loopback on a private listener", private, nil, "127.0.0.1:9100", false},
		{"loopback on any address", anyAddr, nil, "127.0.0.1:9100", true},
		{"::1 on any address", anyAddr, nil, "[::1]:9100", true},
		{"a foreign address on any address", anyAddr, nil, "192.0.2.1:9100", false},
		{"a name on any address", anyAddr, nil, "evil.example", false},
		{"junk", loop, nil, "[[::1]]:x", false},
		{"a huge Host", loop, nil, strings.Repeat("a", 100_000), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := hostcheck.New(tt.addr, tt.names).Allowed(tt.host); got != tt.want {
				t.Errorf("Allowed(%q) = %v, want %v", tt.host, got, tt.want)
			}
		})
	}
}

// A machine's own interface address is allowed on a listener on every
// address.
func TestInterfaceAddressOnAnyAddress(t *testing.T) {
	addrs, err := net.InterfaceAddrs()
	if err != nil || len(addrs) == 0 {
		t.Skip("no interface addresses")
	}
	c := hostcheck.New(&net.TCPAddr{IP: net.IPv4zero, Port: 9100}, nil)
	ip := addrs[len(addrs)-1].(*net.IPNet).IP
	if h := net.JoinHostPort(ip.String(), "9100"); !c.Allowed(h) {
		t.Errorf("Allowed(%q) = false for an interface address", h)
	}
}

func TestParseNames(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
		bad  bool
	}{
		{"", "", false},
		{"a.example, 10.0.0.5 ,,::1", "a.example|10.0.0.5|::1", false},
		{"a.example:9100", "", true},
		{"http://a.example", "", true},
		{"a example", "", true},
		{strings.Repeat("a", 254), "", true},
	} {
		got, err := hostcheck.ParseNames(tt.in)
		if (err != nil) != tt.bad || strings.Join(got, "|") != tt.want {
			t.Errorf("ParseNames(%q) = %q, %v", tt.in, got, err)
		}
	}
}

// Through a real listener: Prometheus's IP:port scrape passes, a
// rebinding page's Host gets 403.
func TestHandler(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := hostcheck.New(ln.Addr(), nil)
	srv := &http.Server{Handler: c.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("metrics")) }))}
	go srv.Serve(ln)
	defer srv.Close()
	get := func(host string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/metrics", nil)
		req.Host = host
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get(ln.Addr().String()); code != 200 || body != "metrics" {
		t.Errorf("own address: %d %q", code, body)
	}
	if code, body := get("rebind.evil.example:" + strings.Split(ln.Addr().String(), ":")[1]); code != 403 || !strings.Contains(body, `"forbidden"`) {
		t.Errorf("rebinding Host: %d %q, want 403 forbidden", code, body)
	}
}
