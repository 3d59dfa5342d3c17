package ingest_test

import (
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// The ops listener answers only Hosts that name it: its address (what
// Prometheus scrapes), localhost, the host name and OpsHosts. A DNS
// rebinding page's Host is refused 403 forbidden, also on the admin API
// with the right token; the public API is not concerned.
func TestOpsHost(t *testing.T) {
	st := startIngest(t, testenv.StartKafka(t, 1).Target(), ingest.Config{OpsHosts: []string{"metrics.internal"}})
	u, _ := url.Parse(st.ops)
	port := u.Port()
	for _, tt := range []struct {
		base, host string
		want       int
	}{
		{st.ops, u.Host, 200},
		{st.ops, "localhost:" + port, 200},
		{st.ops, "metrics.internal:" + port, 200},
		{st.ops, "METRICS.internal", 200},
		{st.ops, "rebind.evil.example:" + port, 403},
		{st.ops, "127.0.0.1.nip.io:" + port, 403},
		{st.ops, "[::1]:" + port, 403},
		{st.url, "rebind.evil.example", 200},
	} {
		req, _ := http.NewRequest(http.MethodGet, tt.base+"/healthz", nil)
		req.Host = tt.host
		r := st.send(t, req)
		if r.status != tt.want {
			t.Errorf("%s with Host %q: %d %s, want %d", tt.base, tt.host, r.status, r.body, tt.want)
		}
		if tt.want == 403 {
			if e := decodeJSON[apiError](t, r.body); e.Error.Code != wire.CodeForbidden || !strings.Contains(e.Error.Message, "Host") {
				t.Errorf("403 body %s", r.body)
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := ingest.New(ingest.Config{Listener: ln, OpsHosts: []string{"http://metrics.internal"}}); !errors.Is(err, ingest.ErrConfig) {
		t.Errorf("New with an ops host with a scheme: %v, want ErrConfig", err)
	}
}
