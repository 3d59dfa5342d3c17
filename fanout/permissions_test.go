package fanout

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/wire"
)

// violations connects a viewer to url and returns the connection and the
// permission errors the server reports to it.
func violations(t *testing.T, url string) (*nats.Conn, <-chan string) {
	ch := make(chan string, 64)
	nc := connect(t, url, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		ch <- err.Error()
	}))
	return nc, ch
}

// expectViolation waits for the server to refuse what.
func expectViolation(t *testing.T, leaf string, ch <-chan string, what string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-ch:
			if strings.Contains(e, "Permissions Violation") && strings.Contains(e, `"`+what+`"`) {
				return
			}
		case <-deadline:
			t.Errorf("%s: %q was not refused", leaf, what)
			return
		}
	}
}

// TestViewerPermissions: at every leaf a viewer can publish nothing but the
// two swarm reads (latest and next), subscribe to nothing but live swarms and its inbox,
// and reach no other JetStream API; the stream is unchanged.
func TestViewerPermissions(t *testing.T) {
	tr := startTree(t)
	js := stageJS(t, tr.hub)
	publishSwarm(t, js, "final", 1)
	before := streamState(t, js)

	forbiddenPubs := []string{
		wire.LiveSubject("final"), wire.SwarmSubject("final"), "anything",
		"$JS.API.INFO", "$JS.API.STREAM.INFO.EMOSTREAM_SWARMS", "$JS.API.STREAM.DELETE.EMOSTREAM_SWARMS",
		"$JS.API.STREAM.PURGE.EMOSTREAM_SWARMS", "$JS.API.STREAM.MSG.DELETE.EMOSTREAM_SWARMS",
		"$JS.API.CONSUMER.CREATE.EMOSTREAM_SWARMS", "$JS.hub.API.DIRECT.GET.EMOSTREAM_SWARMS",
		"$JS.API.DIRECT.GET.EMOSTREAM_PARTIALS.emostream.partials.0",
		"$JS.hub.API.STREAM.DELETE.EMOSTREAM_SWARMS", "$JS.hub.API.DIRECT.GET.EMOSTREAM_SWARMS.emostream.swarm.final",
	}
	forbiddenSubs := []string{">", "$JS.>", "emostream.swarm.>", "emostream.>", "_R_.>"}
	for name, l := range tr.leaves() {
		nc, errs := violations(t, l.WebSocketURL())
		for _, subj := range forbiddenPubs {
			if _, err := nc.Request(subj, []byte(`{}`), 50*time.Millisecond); err == nil {
				t.Errorf("%s: request to %s answered", name, subj)
			}
			expectViolation(t, name, errs, subj)
		}
		for _, subj := range forbiddenSubs {
			if _, err := nc.SubscribeSync(subj); err != nil {
				t.Fatal(err)
			}
			expectViolation(t, name, errs, subj)
		}
		// The two allowed requests still work, and the connection survived.
		if b, err := LatestSwarm(context.Background(), nc, "final"); err != nil || windowOf(t, b) != 1 {
			t.Errorf("%s: latest swarm after violations: %s, %v", name, b, err)
		}
		if s, ok, err := nextSwarm(context.Background(), nc, "final", 1, getTimeout); err != nil || !ok || windowOf(t, s.body) != 1 || s.seq != 1 {
			t.Errorf("%s: next swarm after violations: %+v %v %v", name, s, ok, err)
		}
	}
	if after := streamState(t, js); !reflect.DeepEqual(after, before) {
		t.Errorf("stream changed: before %+v, after %+v", before, after)
	}
}

func streamState(t *testing.T, js jetstream.JetStream) jetstream.StreamState {
	t.Helper()
	s, err := js.Stream(context.Background(), wire.SwarmsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	info.State.LastTime, info.State.FirstTime = time.Time{}, time.Time{}
	return info.State
}

// TestCredentialsBound: each user works only on its own kind of connection.
func TestCredentialsBound(t *testing.T) {
	tr := startTree(t)
	u := strings.Replace(tr.hub.LeafRemote(), "nats-leaf://", "nats://", 1)
	u = u[:strings.LastIndex(u, "@")+1] + strings.TrimPrefix(tr.hub.ClientURL(), "nats://")
	if nc, err := nats.Connect(u); err == nil {
		nc.Close()
		t.Error("leaf credentials accepted on the hub's client port")
	}
	if nc, err := nats.Connect(tr.a.ClientURL()); err == nil {
		nc.Close()
		t.Error("anonymous client accepted on a leaf's client port")
	}
	if nc, err := nats.Connect(tr.a.WebSocketURL(), nats.UserInfo("leaf", "wrong")); err == nil {
		nc.Close()
		t.Error("wrong credentials accepted on a leaf's WebSocket port")
	}
}
