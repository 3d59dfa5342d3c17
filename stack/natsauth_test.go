package stack_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

// TestPipelineWithTLSAndCredentials: with TLS on the hub's client and
// leafnode ports (client certificates required) and given stage
// passwords, every stage connects with its own user over TLS and the
// pipeline counts exactly; a client without credentials, or without TLS,
// is refused.
func TestPipelineWithTLSAndCredentials(t *testing.T) {
	certs := testenv.NewCerts(t)
	passwords := map[string]string{}
	for _, u := range fanout.StageUsers {
		passwords[u] = "tls-test-" + u
	}
	st := startStackWith(t, stack.Config{Window: 500 * time.Millisecond, DemoMatch: "final-2026",
		NATSPasswords: passwords, Registry: registry.Config{},
		NATSTLS: fanout.TLSConfig{Cert: certs.ServerCertFile, Key: certs.ServerKeyFile, CA: certs.CAFile, Verify: true}})
	tlsOpts := []nats.Option{nats.RootCAs(certs.CAFile), nats.ClientCert(certs.ClientCertFile, certs.ClientKeyFile)}
	refused := map[string][]nats.Option{
		"anonymous over TLS": tlsOpts,
		"admin without TLS":  {nats.UserInfo(fanout.UserAdmin, passwords[fanout.UserAdmin])},
		"wrong password":     append([]nats.Option{nats.UserInfo(fanout.UserAdmin, "wrong")}, tlsOpts...),
	}
	for name, opts := range refused {
		if nc, err := nats.Connect(st.NATSURL(), opts...); err == nil {
			nc.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	v := watch(t, st.WebSocketURLs()[1])
	want := wire.Counts{}
	for round := 0; round < 5; round++ {
		var evs []map[string]string
		for i := 0; i < 40; i++ {
			evs = append(evs, map[string]string{"user_id": fmt.Sprintf("u-%d-%d", round, i), "match_id": "final-2026", "emoji_type": "🔥"})
			want.Add("final-2026", "🔥", 1)
		}
		post(t, st.HTTPURL(), evs)
	}
	testenv.WaitFor(t, 30*time.Second, fmt.Sprintf("the viewer to count %d events", want.Total()), func() bool { return v.total() >= want.Total() })
	if got := v.total(); got != want.Total() {
		t.Errorf("viewer counted %d, want %d", got, want.Total())
	}
}
