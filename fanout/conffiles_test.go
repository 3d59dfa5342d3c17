package fanout

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// fileCopy copies a repository .conf into a temp dir with every loopback
// port made random and the JetStream store moved into the temp dir. With
// certs, it turns TLS on: the "#TLS " prefixes go and the example PEM files
// become the test's.
func fileCopy(t *testing.T, name string, certs *testenv.Certs) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(string(b), `"127.0.0.1:-1"`)
	s = strings.Replace(s, `"./.emostream"`, `"`+filepath.Join(dir, "js")+`"`, 1)
	if certs != nil {
		s = strings.NewReplacer("#TLS ", "", "/etc/emostream/ca.pem", certs.CAFile,
			"/etc/emostream/hub.pem", certs.ServerCertFile, "/etc/emostream/hub-key.pem", certs.ServerKeyFile,
			"/etc/emostream/leaf.pem", certs.ClientCertFile, "/etc/emostream/leaf-key.pem", certs.ClientKeyFile).Replace(s)
	}
	p := filepath.Join(dir, filepath.Base(name))
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// confPasswords sets the secrets nats.conf reads from the environment and
// returns the stage users' passwords.
func confPasswords(t *testing.T) map[string]string {
	t.Setenv("EMOSTREAM_LEAF_PASSWORD", "file-test-secret")
	pw := map[string]string{}
	for _, u := range StageUsers {
		pw[u] = "file-test-" + u
		t.Setenv("EMOSTREAM_"+strings.ToUpper(u)+"_PASSWORD", pw[u])
	}
	return pw
}

// TestConfigFiles runs nats.conf and the deploy/ leaf configs (ports made
// random) as a hub, two leaf clusters and a leaf of a leaf, as shipped and
// with their TLS lines on, and checks that a viewer on each gets the
// latest swarm and live ones, published with the processor's credentials.
func TestConfigFiles(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "tls"}[withTLS], func(t *testing.T) {
			var certs *testenv.Certs
			stage := []nats.Option{nats.UserInfo(UserProcessor, confPasswords(t)[UserProcessor])}
			if withTLS {
				certs = testenv.NewCerts(t)
				stage = append(stage, nats.RootCAs(certs.CAFile), nats.ClientCert(certs.ClientCertFile, certs.ClientKeyFile))
			}
			runConfigFiles(t, certs, stage)
		})
	}
}

func runConfigFiles(t *testing.T, certs *testenv.Certs, stage []nats.Option) {
	h, err := NewHub(HubConfig{ConfigFile: fileCopy(t, "nats.conf", certs), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Shutdown)
	if nc, err := nats.Connect(h.ClientURL()); err == nil {
		nc.Close()
		t.Error("nats.conf: a client without credentials was accepted")
	}
	withPassword := func(u string) string {
		return strings.Replace(u, "nats-leaf://", "nats-leaf://leaf:file-test-secret@", 1)
	}
	leaves := map[string]*Leaf{}
	for _, name := range []string{"leaf-a", "leaf-b", "leaf-a1"} {
		remote := withPassword(h.LeafURL())
		if name == "leaf-a1" {
			remote = withPassword(leaves["leaf-a"].LeafURL())
		}
		t.Setenv("EMOSTREAM_LEAF_REMOTE", remote)
		leaves[name] = startLeaf(t, LeafConfig{ConfigFile: fileCopy(t, "deploy/"+name+".conf", certs), Logger: testLogger()})
	}
	waitLeafs(t, h.embedded, 2)
	waitLeafs(t, leaves["leaf-a"].embedded, 2)
	js := stageJS(t, h, stage...)
	publishSwarm(t, js, "cup", 1)
	viewers := map[string]*recorder{}
	for name, l := range leaves {
		viewers[name] = watch(t, connect(t, l.WebSocketURL()), "cup")
		waitWindows(t, name, viewers[name], []int{1})
	}
	waitInterest(t, h.embedded, wire.LiveSubject("cup"), 2)
	waitInterest(t, leaves["leaf-a"].embedded, wire.LiveSubject("cup"), 1)
	publishSwarm(t, js, "cup", 2)
	for name, r := range viewers {
		waitWindows(t, name, r, []int{1, 2})
	}
	// The gap-recovery read ("next") passes the shipped files too.
	for name, l := range leaves {
		nc := connect(t, l.WebSocketURL())
		if s, ok, err := nextSwarm(context.Background(), nc, "cup", 2, getTimeout); err != nil || !ok || windowOf(t, s.body) != 2 {
			t.Errorf("%s: next swarm from sequence 2: %+v %v %v", name, s, ok, err)
		}
	}
}

// TestConfigPermissions: nats.conf gives each stage user exactly the
// permissions fanout.Permissions renders for emostream hub and up, in the
// account UserAccount names.
func TestConfigPermissions(t *testing.T) {
	pw := confPasswords(t)
	opts := &server.Options{}
	if err := opts.ProcessConfigFile(fileCopy(t, "nats.conf", nil)); err != nil {
		t.Fatal(err)
	}
	want := Permissions()
	for _, u := range opts.Users {
		if u.Username == DefaultLeafUser {
			continue
		}
		w, ok := want[u.Username]
		if !ok || u.Password != pw[u.Username] || u.Account.Name != UserAccount(u.Username) {
			t.Errorf("nats.conf: unexpected user %q (account %s)", u.Username, u.Account.Name)
			continue
		}
		delete(want, u.Username)
		got := u.Permissions
		if got == nil || got.Publish == nil || got.Subscribe == nil ||
			!slices.Equal(got.Publish.Allow, w.Publish) || !slices.Equal(got.Subscribe.Allow, w.Subscribe) ||
			len(got.Publish.Deny)+len(got.Subscribe.Deny) > 0 {
			t.Errorf("nats.conf: user %s: got %+v %+v, want publish %q subscribe %q", u.Username, got.Publish, got.Subscribe, w.Publish, w.Subscribe)
		}
	}
	for u := range want {
		t.Errorf("nats.conf lacks user %s", u)
	}
	if opts.NoAuthUser != "" {
		t.Errorf("nats.conf: no_auth_user %q", opts.NoAuthUser)
	}
	// STAGES exports to MONITOR and INGEST, and each imports, the
	// subjects of stagesExports and nothing else.
	b, err := os.ReadFile("../nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	imports := map[string]int{}
	for _, e := range stagesExports() {
		entry := `{service: "` + e.Subject + `", accounts: [` + strings.Join(e.Accounts, ", ") + `]}`
		if e.Streamed {
			entry = strings.TrimSuffix(entry, "}") + `, response_type: stream, response_threshold: "` + streamedThreshold + `"}`
		}
		if strings.Count(conf, entry) != 1 {
			t.Errorf("nats.conf: want %s once", entry)
		}
		imports[`{service: {account: STAGES, subject: "`+e.Subject+`"}}`] += len(e.Accounts)
	}
	for entry, n := range imports {
		if got := strings.Count(conf, entry); got != n {
			t.Errorf("nats.conf: %d of %s, want %d", got, entry, n)
		}
	}
	if n := strings.Count(conf, "accounts: [MONITOR"); n != len(monitorRead) {
		t.Errorf("nats.conf: %d exports to MONITOR, want %d", n, len(monitorRead))
	}
	if n := strings.Count(conf, "INGEST]"); n != len(ingestImports) {
		t.Errorf("nats.conf: %d exports to INGEST, want %d", n, len(ingestImports))
	}
	if n := strings.Count(conf, "{service: {account: STAGES, subject: \"$JS."); n != len(monitorRead)+len(ingestImports)+2 { // and LEAF's two swarm reads
		t.Errorf("nats.conf: %d JetStream imports from STAGES, want %d", n, len(monitorRead)+len(ingestImports)+2)
	}
	// INGEST imports no stream: no consumer delivers to its inboxes.
	if strings.Contains(conf, wire.IngestInboxes+`", accounts`) || strings.Contains(conf, `subject: "`+wire.IngestInboxes) {
		t.Errorf("nats.conf: exports or imports %s", wire.IngestInboxes)
	}
}
