package edge

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

const natsInstall = "go install github.com/nats-io/natscli/nats@v0.5.0"

// natsCLI runs the NATS CLI against url for at most d and returns what it
// printed.
func natsCLI(t *testing.T, bin, url string, d time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--no-context", "--server", url, "--timeout", "2s"}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run()
	return out.String()
}

// TestNATSCLI: the NATS CLI watches (sub, req) and, as an attacker, is
// refused (pub, sub >, $JS.API.>, _INBOX.>, a reply aimed at a live
// subject) while a viewer on the same edge gets only the real swarms.
func TestNATSCLI(t *testing.T) {
	bin := testenv.RequireTool(t, "nats", natsInstall)
	wd := startWorld(t)
	wd.publish(t, "m1", 0)
	e, _ := startEdge(t, Config{NATSURL: wd.hub.ClientURL()})
	victim := connect(t, e.URL())
	vlive := subscribe(t, victim, wire.LiveSubject("m1"))

	if out := natsCLI(t, bin, e.URL(), 10*time.Second, "req", wire.LatestSwarmRequest("m1"), ""); !strings.Contains(out, `"match_id":"m1"`) {
		t.Errorf("nats req latest: %s", out)
	}
	subDone := make(chan string, 1)
	go func() {
		subDone <- natsCLI(t, bin, e.URL(), 10*time.Second, "sub", wire.LiveSubject("m1"), "--count", "1")
	}()
	testenv.WaitFor(t, 10*time.Second, "the CLI's subscription", func() bool {
		select {
		case out := <-subDone: // it gave up before subscribing: say why
			t.Fatalf("nats sub ended before its subscription: %s", out)
		default:
		}
		return e.Occupancy(time.Now())[0].Matches["m1"] == 2
	})

	for _, c := range []struct{ args []string }{
		{[]string{"pub", wire.LiveSubject("m1"), "injected"}},
		{[]string{"sub", ">", "--count", "1"}},
		{[]string{"sub", "$JS.API.>", "--count", "1"}},
		{[]string{"sub", "_INBOX.>", "--count", "1"}},
		{[]string{"pub", wire.LatestSwarmRequest("m1"), "", "--reply", wire.LiveSubject("m1")}},
	} {
		if out := natsCLI(t, bin, e.URL(), 4*time.Second, c.args...); !strings.Contains(out, "Permissions Violation") {
			t.Errorf("nats %s: want a permissions violation, got %q", strings.Join(c.args, " "), out)
		}
	}
	wd.publish(t, "m1", 1)
	if out := <-subDone; !strings.Contains(out, `"match_id":"m1"`) {
		t.Errorf("nats sub: %s", out)
	}
	testenv.WaitFor(t, 5*time.Second, "the real swarm", func() bool { return vlive.len() == 1 })
	if err := victim.Flush(); err != nil {
		t.Fatal(err)
	}
	if w := vlive.windows(t); len(w) != 1 || w[0] != 1 {
		t.Fatalf("victim got %v, want [1]", w)
	}
}
