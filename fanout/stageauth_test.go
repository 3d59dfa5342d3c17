package fanout

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// startAuthHub starts a hub whose client port has the four stage users,
// with random passwords.
func startAuthHub(t *testing.T, cfg HubConfig) *Hub {
	t.Helper()
	cfg.DataDir, cfg.ClientListen, cfg.LeafListen, cfg.Logger = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0", testLogger()
	if cfg.Passwords == nil {
		cfg.Passwords = map[string]string{}
	}
	return startHubConfig(t, cfg)
}

// stage is one stage user's connection and the permission errors the
// server reports to it.
type stage struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan string
}

func connectAs(t *testing.T, h *Hub, user string, opts ...nats.Option) *stage {
	t.Helper()
	if user != "" {
		opts = append(opts, nats.UserInfo(user, h.Passwords()[user]))
	}
	return connectWith(t, h, user, opts...)
}

// connectWith connects to h with opts, as ingest does when user is
// UserIngest (its inbox prefix).
func connectWith(t *testing.T, h *Hub, user string, opts ...nats.Option) *stage {
	t.Helper()
	s := &stage{errs: make(chan string, 64)}
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { s.errs <- err.Error() }))
	if user == UserIngest {
		opts = append(opts, nats.CustomInboxPrefix(wire.IngestInboxPrefix))
	}
	s.nc = connect(t, h.ClientURL(), opts...)
	var err error
	if s.js, err = jetstream.New(s.nc); err != nil {
		t.Fatal(err)
	}
	return s
}

// refused waits until the server reports a permissions violation on subject.
func (s *stage) refused(t *testing.T, what, subject string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-s.errs:
			if strings.Contains(e, "Permissions Violation") && strings.Contains(e, `"`+subject+`"`) {
				return
			}
		case <-deadline:
			t.Errorf("%s: %s was not refused", what, subject)
			return
		}
	}
}

func short() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 300*time.Millisecond)
}

// TestStageUsersDoTheirJobs: each stage user can do exactly what its stage
// does: admin creates and changes the registry, ingest binds to it and
// watches it, the bridge makes the partials stream and publishes and reads
// partials, the processor consumes them and publishes and reads swarms.
func TestStageUsersDoTheirJobs(t *testing.T) {
	h := startAuthHub(t, HubConfig{})
	ctx := context.Background()
	admin := connectAs(t, h, UserAdmin)
	reg, err := registry.Open(ctx, admin.js, registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Create(ctx, registry.Match{ID: "final", State: registry.Live}); err != nil {
		t.Fatal(err)
	}
	ingest := connectAs(t, h, UserIngest)
	r, err := registry.Bind(ctx, ingest.js, registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(rctx) }()
	defer func() { cancel(); <-done }()
	testenv.WaitFor(t, 5*time.Second, "ingest admits the live match", func() bool { return r.Admit("final") == nil })
	if _, err := reg.End(ctx, "final"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, "ingest sees the end", func() bool { return errors.Is(r.Admit("final"), registry.ErrNotLive) })
	if m, err := r.Get(ctx, "final"); err != nil || m.State != registry.Ended {
		t.Errorf("ingest Get: %+v, %v", m, err)
	}

	bridge := connectAs(t, h, UserBridge)
	if err := streams.EnsureStream(ctx, bridge.js, streams.Partials(streams.Config{})); err != nil {
		t.Fatal(err)
	}
	if _, err := bridge.js.Publish(ctx, wire.PartialSubject(0), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	ps, err := bridge.js.Stream(ctx, wire.PartialsStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.GetLastMsgForSubject(ctx, wire.PartialSubject(0)); err != nil {
		t.Fatalf("bridge reads its last partial: %v", err)
	}

	proc := connectAs(t, h, UserProcessor)
	if err := streams.Ensure(ctx, proc.js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	pstream, err := proc.js.Stream(ctx, wire.PartialsStream)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := pstream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "p", FilterSubject: wire.PartialsSubjects,
		AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cons.Info(ctx); err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatalf("processor acks a partial: %v", err)
		}
	}
	if _, err := pstream.GetMsg(ctx, 1); err != nil {
		t.Fatalf("processor replays a partial: %v", err)
	}
	publishSwarm(t, proc.js, "final", 1)
	ss, err := proc.js.Stream(ctx, wire.SwarmsStream)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.GetLastMsgForSubject(ctx, wire.SwarmSubject("final")); err != nil {
		t.Fatalf("processor reads the last swarm: %v", err)
	}
	// The timeline: the processor writes it and reads swarms back by
	// sequence; ingest reads it.
	if _, err := proc.js.Publish(ctx, wire.TimelineSubject("final", wire.TimelineWindows), []byte(`{"s":0,"c":{},"t":0}`)); err != nil {
		t.Fatalf("processor writes the timeline: %v", err)
	}
	if m, err := timeline.NewReader(proc.nc, wire.SwarmsStream, 0).First(ctx, wire.SwarmSubject("final")); err != nil || m.Seq == 0 {
		t.Fatalf("processor reads a swarm by sequence: %+v, %v", m, err)
	}
	tr := timeline.NewReader(ingest.nc, wire.TimelineStream, 0)
	if m, err := tr.First(ctx, wire.TimelineSubject("final", wire.TimelineWindows)); err != nil || m.Seq == 0 {
		t.Fatalf("ingest reads the timeline: %+v, %v", m, err)
	}
	if m, err := tr.Last(ctx, wire.TimelineSubject("final", wire.TimelineWindows)); err != nil || m.Seq == 0 {
		t.Fatalf("ingest reads the timeline's last record: %+v, %v", m, err)
	}
}

// TestStageUsersRefused: a client without (or with wrong) credentials is
// refused, and a stage's credentials do not do another stage's job.
func TestStageUsersRefused(t *testing.T) {
	h := startAuthHub(t, HubConfig{})
	ctx := context.Background()
	// Set up what the refused jobs would touch.
	if _, err := registry.Open(ctx, connectAs(t, h, UserAdmin).js, registry.Config{}); err != nil {
		t.Fatal(err)
	}
	if err := streams.Ensure(ctx, connectAs(t, h, UserProcessor).js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	for _, opts := range [][]nats.Option{nil, {nats.UserInfo(UserAdmin, "wrong")}, {nats.UserInfo(DefaultStageUser, "")}} {
		if nc, err := nats.Connect(h.ClientURL(), opts...); err == nil {
			nc.Close()
			t.Errorf("client with options %d accepted without valid credentials", len(opts))
		}
	}
	publish := func(subject string) func(*stage) {
		return func(s *stage) {
			ctx, cancel := short()
			defer cancel()
			s.js.Publish(ctx, subject, []byte(`{}`)) //nolint:errcheck // refused
		}
	}
	publishCore := func(subject string) func(*stage) {
		return func(s *stage) { s.nc.Publish(subject, []byte(`{}`)) } //nolint:errcheck // refused
	}
	cases := []struct {
		user, job string
		do        func(*stage)
		subject   string // the refused subject
	}{
		{UserBridge, "publish a swarm", publish(wire.SwarmSubject("final")), wire.SwarmSubject("final")},
		{UserBridge, "change the swarm stream", func(s *stage) {
			ctx, cancel := short()
			defer cancel()
			streams.Ensure(ctx, s.js, streams.Config{}) //nolint:errcheck // refused
		}, "$JS.API.STREAM.UPDATE.EMOSTREAM_SWARMS"},
		{UserBridge, "delete the partials stream", func(s *stage) {
			ctx, cancel := short()
			defer cancel()
			s.js.DeleteStream(ctx, wire.PartialsStream) //nolint:errcheck // refused
		}, "$JS.API.STREAM.DELETE.EMOSTREAM_PARTIALS"},
		{UserBridge, "read the registry", func(s *stage) {
			ctx, cancel := short()
			defer cancel()
			registry.Bind(ctx, s.js, registry.Config{}) //nolint:errcheck // refused
		}, "$JS.API.STREAM.INFO.KV_EMOSTREAM_MATCHES"},
		{UserProcessor, "publish a partial", publish(wire.PartialSubject(0)), wire.PartialSubject(0)},
		{UserProcessor, "publish a live swarm past the stream", publish(wire.LiveSubject("final")), wire.LiveSubject("final")},
		{UserProcessor, "write the registry", publish("$KV.EMOSTREAM_MATCHES.final"), "$KV.EMOSTREAM_MATCHES.final"},
		{UserIngest, "write the registry", publish("$KV.EMOSTREAM_MATCHES.final"), "$KV.EMOSTREAM_MATCHES.final"},
		// Opening the existing registry changes nothing (registry.Open binds
		// it); growing it is an update, whose first call is refused.
		{UserIngest, "grow the registry", func(s *stage) {
			ctx, cancel := short()
			defer cancel()
			registry.Open(ctx, s.js, registry.Config{MaxMatches: registry.MaxMaxMatches}) //nolint:errcheck // refused
		}, "$JS.API.INFO"},
		{UserIngest, "publish a partial", publish(wire.PartialSubject(0)), wire.PartialSubject(0)},
		{UserIngest, "write the timeline", publish(wire.TimelineSubject("final", "w")), wire.TimelineSubject("final", "w")},
		{UserBridge, "publish a moment", publish(wire.MomentSubject("final")), wire.MomentSubject("final")},
		{UserBridge, "listen to occupancy", func(s *stage) { s.nc.SubscribeSync(wire.ViewersSubjects) }, wire.ViewersSubjects}, //nolint:errcheck // refused
		{UserIngest, "listen to live swarms", func(s *stage) { s.nc.SubscribeSync(wire.LiveSubjects) }, wire.LiveSubjects},     //nolint:errcheck // refused
		{UserAdmin, "publish a swarm", publish(wire.SwarmSubject("final")), wire.SwarmSubject("final")},
		// admin backs up and restores every stream (backupRestore), and
		// changes nothing of the pipeline's streams
		{UserAdmin, "purge the partials", publishCore("$JS.API.STREAM.PURGE.EMOSTREAM_PARTIALS"), "$JS.API.STREAM.PURGE.EMOSTREAM_PARTIALS"},
		{UserAdmin, "change the swarm stream", publishCore("$JS.API.STREAM.UPDATE.EMOSTREAM_SWARMS"), "$JS.API.STREAM.UPDATE.EMOSTREAM_SWARMS"},
		{UserAdmin, "restore another stream", publishCore("$JS.API.STREAM.RESTORE.EVIL"), "$JS.API.STREAM.RESTORE.EVIL"},
		{UserAdmin, "delete the partials consumer", publishCore("$JS.API.CONSUMER.DELETE.EMOSTREAM_PARTIALS.processor"),
			"$JS.API.CONSUMER.DELETE.EMOSTREAM_PARTIALS.processor"},
		{UserAdmin, "delete the registry", func(s *stage) {
			ctx, cancel := short()
			defer cancel()
			s.js.DeleteKeyValue(ctx, wire.MatchesBucket) //nolint:errcheck // refused
		}, "$JS.API.STREAM.DELETE.KV_EMOSTREAM_MATCHES"},
		{UserAdmin, "listen to everything", func(s *stage) { s.nc.SubscribeSync(">") }, ">"}, //nolint:errcheck // refused
	}
	for _, c := range cases {
		t.Run(c.user+" "+c.job, func(t *testing.T) {
			s := connectAs(t, h, c.user)
			c.do(s)
			s.refused(t, c.user+" "+c.job, c.subject)
		})
	}
}

// TestAnonymousAdmin: emostream up's loopback hub lets a client without
// credentials manage the registry and nothing else.
func TestAnonymousAdmin(t *testing.T) {
	h := startAuthHub(t, HubConfig{AnonymousAdmin: true})
	anon := connectAs(t, h, "")
	if _, err := registry.Open(context.Background(), anon.js, registry.Config{}); err != nil {
		t.Fatalf("anonymous admin: %v", err)
	}
	ctx, cancel := short()
	defer cancel()
	anon.js.Publish(ctx, wire.SwarmSubject("m"), []byte(`{}`)) //nolint:errcheck // refused
	anon.refused(t, "anonymous swarm", wire.SwarmSubject("m"))
}

// TestHubRefusesExposedWithoutCredentials: a client port off loopback must
// require credentials, whether built from a config or loaded from a file.
func TestHubRefusesExposedWithoutCredentials(t *testing.T) {
	open := filepath.Join(t.TempDir(), "open.conf")
	if err := os.WriteFile(open, []byte("listen: 0.0.0.0:4222\njetstream: {store_dir: \""+t.TempDir()+"\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	confPasswords(t)
	exposed := fileCopy(t, "nats.conf", nil)
	b, _ := os.ReadFile(exposed)
	if err := os.WriteFile(exposed, []byte(strings.Replace(string(b), `listen: "127.0.0.1:-1"`, `listen: "0.0.0.0:-1"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		cfg     HubConfig
		refused bool
	}{
		{"no credentials on 0.0.0.0", HubConfig{ClientListen: "0.0.0.0:0"}, true},
		{"no credentials on all interfaces", HubConfig{ClientListen: ":0"}, true},
		{"anonymous admin on 0.0.0.0", HubConfig{ClientListen: "0.0.0.0:0", Passwords: map[string]string{}, AnonymousAdmin: true}, true},
		{"file without users on 0.0.0.0", HubConfig{ConfigFile: open}, true},
		{"no credentials on loopback", HubConfig{ClientListen: "127.0.0.1:0"}, false},
		{"no credentials on ::1", HubConfig{ClientListen: "[::1]:0"}, false},
		{"credentials on 0.0.0.0", HubConfig{ClientListen: "0.0.0.0:0", Passwords: map[string]string{}}, false},
		{"nats.conf on 0.0.0.0", HubConfig{ConfigFile: exposed}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.cfg.DataDir, c.cfg.LeafListen, c.cfg.Logger = t.TempDir(), "127.0.0.1:0", testLogger()
			h, err := NewHub(c.cfg) // not started: nothing listens
			if got := errors.Is(err, ErrNoCredentials); got != c.refused {
				t.Fatalf("NewHub: %v, want refused %v", err, c.refused)
			}
			if err == nil {
				h.Shutdown()
			}
		})
	}
}

// TestStageTLS: with TLS on the client and leafnode ports (client
// certificates required), a plain client or one without a certificate is
// refused; a stage with the CA, its certificate and its credentials
// publishes, and a leaf connected over TLS delivers the swarm to a viewer.
func TestStageTLS(t *testing.T) {
	certs := testenv.NewCerts(t)
	srv := TLSConfig{Cert: certs.ServerCertFile, Key: certs.ServerKeyFile, CA: certs.CAFile, Verify: true}
	h := startAuthHub(t, HubConfig{ClientTLS: srv, LeafTLS: srv})
	creds := nats.UserInfo(UserProcessor, h.Passwords()[UserProcessor])
	refusals := map[string][]nats.Option{
		"plain":          {creds},
		"no client cert": {creds, nats.RootCAs(certs.CAFile)},
		"no credentials": {nats.RootCAs(certs.CAFile), nats.ClientCert(certs.ClientCertFile, certs.ClientKeyFile)},
	}
	for name, opts := range refusals {
		if nc, err := nats.Connect(h.ClientURL(), opts...); err == nil {
			nc.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	cfg := leafConfig("tls-leaf", h.LeafRemote(), false)
	cfg.RemoteTLS = TLSConfig{CA: certs.CAFile, Cert: certs.ClientCertFile, Key: certs.ClientKeyFile}
	l := startLeaf(t, cfg)
	waitLeafs(t, h.embedded, 1)
	js := stageJS(t, h, creds, nats.RootCAs(certs.CAFile), nats.ClientCert(certs.ClientCertFile, certs.ClientKeyFile))
	publishSwarm(t, js, "cup", 1)
	r := watch(t, connect(t, l.WebSocketURL()), "cup")
	waitWindows(t, "tls-leaf", r, []int{1})
	waitInterest(t, h.embedded, wire.LiveSubject("cup"), 1)
	publishSwarm(t, js, "cup", 2)
	waitWindows(t, "tls-leaf", r, []int{1, 2})
}
