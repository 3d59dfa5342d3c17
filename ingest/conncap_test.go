package ingest_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
)

// clientAt is an HTTP client whose connections come from local, so that
// tests can play clients of many networks on loopback (127.0.0.0/8).
func clientAt(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// TestOneNetworkCannotTakeEverySlot: one /24 opens as many idle
// connections as it can; past the high-water mark (three quarters of
// MaxConnections) it is refused, 503 network_share, and clients of 12 other
// networks still connect and post while it holds its connections.
func TestOneNetworkCannotTakeEverySlot(t *testing.T) {
	k := testenv.StartKafka(t, 1).Target()
	const total, highWater, flood = 64, 48, 80
	st := startIngest(t, k, ingest.Config{MaxConnections: total, UserRate: -1, IPRate: -1, ReadTimeout: time.Minute})
	addr := strings.TrimPrefix(st.url, "http://")
	var conns []net.Conn
	for i := range flood {
		conns = append(conns, dialFrom(t, fmt.Sprintf("127.0.5.%d", 1+i), addr))
	}
	probe := &http.Client{}
	defer probe.CloseIdleConnections()
	refused := func(reason string) float64 {
		return metric(t, probe, st, `emostream_ingest_connections_refused_total{reason="`+reason+`"}`)
	}
	testenv.WaitFor(t, 10*time.Second, "every connection of the flood admitted or refused", func() bool {
		return metric(t, probe, st, "emostream_ingest_connections_open")+refused("max_conns")+refused("network_share") == flood
	})
	probe.CloseIdleConnections()
	for n := range 12 {
		c := clientAt(fmt.Sprintf("127.1.%d.1", n))
		defer c.CloseIdleConnections() // held open until the test ends
		res, err := c.Post(st.url+"/v1/emojis", "application/json", strings.NewReader(event(fmt.Sprint("u", n), "m", "🔥")))
		if err != nil {
			t.Fatalf("client of network %d: %v", n, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("client of network %d: %d, want 202", n, res.StatusCode)
		}
	}
	if open := metric(t, probe, st, "emostream_ingest_connections_open"); open != highWater+12 {
		t.Errorf("%v connections open, want the flood's %d and the 12 clients'", open, highWater)
	}
	if got := refused("network_share"); got != flood-highWater {
		t.Errorf("%v refused for the network's share, want %d", got, flood-highWater)
	}
	refusedWith503(t, conns[flood-1])
}

// TestConnCapsAddUp: a per-network cap above the total is refused at
// start, naming both; a defaulted one is never above the total.
func TestConnCapsAddUp(t *testing.T) {
	_, err := ingest.New(ingest.Config{MaxConnections: 3072, MaxPerNetwork: 4096})
	if !errors.Is(err, ingest.ErrConfig) || !strings.Contains(err.Error(), "MaxPerNetwork 4096: want at most MaxConnections (3072)") {
		t.Fatalf("got %v, want the caps refused", err)
	}
	for _, c := range []struct{ soft, want int }{{1 << 20, ingest.DefaultMaxConnections}, {4096, 3072}, {1100, 76}, {100, 64}} {
		if got := ingest.MaxConnectionsFor(uint64(c.soft), ingest.DefaultFDReserve); got != c.want {
			t.Errorf("MaxConnectionsFor(%d) = %d, want %d", c.soft, got, c.want)
		}
	}
}
