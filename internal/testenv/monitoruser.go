package testenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/wire"
)

// NATSCLIInstall installs the NATS CLI the tests drive.
const NATSCLIInstall = "go install github.com/nats-io/natscli/nats@v0.5.0"

// Credentials are how a test connects to the hub as user: the options
// carrying its password.
type Credentials func(user string) []nats.Option

// MonitorFixture is what CheckMonitorUser reads and tries to change on a
// hub: a plain stream with one message and a durable consumer, and the
// match registry's bucket with one key.
type MonitorFixture struct {
	Stream, Consumer, Subject, Body string
	Bucket, Key, Value              string
}

// NewMonitorFixture creates the fixture on the hub at url with the stage
// users' own permissions: admin creates the registry bucket and a key,
// bridge the partials stream and a partial, processor its consumer.
func NewMonitorFixture(t testing.TB, url string, creds Credentials) MonitorFixture {
	t.Helper()
	fx := MonitorFixture{Stream: wire.PartialsStream, Consumer: "processor", Subject: "emostream.partials.fixture.0",
		Body: `{"fixture":"partial"}`, Bucket: wire.MatchesBucket, Key: "m1", Value: `{"id":"m1","state":"live"}`}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := JetStream(t, url, creds("admin")...).CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: fx.Bucket, History: 1})
	if err == nil {
		_, err = kv.Put(ctx, fx.Key, []byte(fx.Value))
	}
	if err != nil {
		t.Fatalf("the registry bucket, as admin: %v", err)
	}
	bridge := JetStream(t, url, creds("bridge")...)
	if _, err := bridge.CreateStream(ctx, jetstream.StreamConfig{Name: fx.Stream, Subjects: []string{wire.PartialsSubjects}}); err != nil {
		t.Fatalf("the partials stream, as bridge: %v", err)
	}
	if _, err := bridge.Publish(ctx, fx.Subject, []byte(fx.Body)); err != nil {
		t.Fatalf("a partial, as bridge: %v", err)
	}
	if _, err := JetStream(t, url, creds("processor")...).CreateOrUpdateConsumer(ctx, fx.Stream,
		jetstream.ConsumerConfig{Durable: fx.Consumer, AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatalf("the consumer, as processor: %v", err)
	}
	return fx
}

// JetStream connects to the NATS server at url with opts, closed when the
// test ends, and returns its JetStream.
func JetStream(t testing.TB, url string, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	j, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// CheckMonitorUser runs the NATS CLI (bin) against the hub at url as the
// read-only user "monitor" (password): every read of the fixture works,
// and every change, purge, delete, consumer creation and publish fails
// with a permissions error and changes nothing.
func CheckMonitorUser(t *testing.T, bin, url, password string, fx MonitorFixture) {
	// A refused request waits out the CLI's timeout (nats-server answers a
	// violation asynchronously, with -ERR, at once): short for those.
	cli := func(timeout string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--no-context", "--server", url, "--timeout", timeout}, args...)...)
		// The password in the environment, not in argv (visible to ps).
		cmd.Env = append(os.Environ(), "NATS_USER=monitor", "NATS_PASSWORD="+password)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		t.Logf("nats %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
		return out.String(), err
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"stream", "ls"}, fx.Stream},
		{[]string{"stream", "ls", "--names"}, "KV_" + fx.Bucket},
		{[]string{"stream", "info", fx.Stream}, fx.Subject[:len("emostream.partials")]},
		{[]string{"stream", "get", fx.Stream, "1"}, fx.Body},
		{[]string{"consumer", "ls", fx.Stream}, fx.Consumer},
		{[]string{"consumer", "info", fx.Stream, fx.Consumer}, fx.Consumer},
		{[]string{"kv", "ls"}, fx.Bucket},
		{[]string{"kv", "info", fx.Bucket}, fx.Bucket},
		{[]string{"kv", "get", fx.Bucket, fx.Key, "--raw"}, fx.Value},
	} {
		if out, err := cli("5s", c.args...); err != nil || !strings.Contains(out, c.want) {
			t.Errorf("nats %s as monitor: %v, want %q in:\n%s", strings.Join(c.args, " "), err, c.want, out)
		}
	}
	forbidden := [][]string{
		{"stream", "rm", fx.Stream, "--force"},
		{"stream", "purge", fx.Stream, "--force"},
		{"stream", "edit", fx.Stream, "--max-msgs", "5", "--force"},
		{"stream", "add", "INTRUDER", "--subjects", "intruder.>", "--defaults"},
		{"consumer", "add", fx.Stream, "intruder", "--pull", "--defaults"},
		{"consumer", "rm", fx.Stream, fx.Consumer, "--force"},
		{"kv", "put", fx.Bucket, "m2", "forged"},
		{"kv", "put", fx.Bucket, fx.Key, "forged"},
		{"kv", "del", fx.Bucket, fx.Key, "--force"},
		{"kv", "add", "INTRUDER"},
		{"kv", "ls", fx.Bucket}, // listing keys creates a consumer
		{"pub", fx.Subject, "injected"},
		{"pub", wire.LiveSubject("m1"), "injected"},
	}
	var wg sync.WaitGroup // each waits out its timeout: in parallel
	for _, args := range forbidden {
		wg.Go(func() {
			if out, err := cli("1s", args...); err == nil || !strings.Contains(out, "Permissions Violation") {
				t.Errorf("nats %s as monitor: %v, want a permissions violation:\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
	wg.Wait()
	checkUnchanged(t, JetStream(t, url, nats.UserInfo("monitor", password)), fx)
}

// checkUnchanged checks, as the monitor, that the fixture is as created.
func checkUnchanged(t *testing.T, j jetstream.JetStream, fx MonitorFixture) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := j.Stream(ctx, fx.Stream)
	if err != nil {
		t.Fatalf("%s after the refused changes: %v", fx.Stream, err)
	}
	if info := s.CachedInfo(); info.State.Msgs != 1 || info.Config.MaxMsgs != -1 || info.State.Consumers != 1 {
		t.Errorf("%s changed: %d messages, max %d, %d consumers", fx.Stream, info.State.Msgs, info.Config.MaxMsgs, info.State.Consumers)
	}
	var names []string
	for n := range j.StreamNames(ctx).Name() {
		names = append(names, n)
	}
	if slices.Sort(names); !slices.Equal(names, []string{fx.Stream, "KV_" + fx.Bucket}) {
		t.Errorf("streams after the refused changes: %v", names)
	}
	kv, err := j.KeyValue(ctx, fx.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if e, err := kv.Get(ctx, fx.Key); err != nil || string(e.Value()) != fx.Value || e.Revision() != 1 {
		t.Errorf("%s/%s after the refused changes: %v", fx.Bucket, fx.Key, err)
	}
	if _, err := kv.Get(ctx, "m2"); err == nil {
		t.Errorf("%s/m2 was written", fx.Bucket)
	}
}
