package fanout

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/emostream/emostream/wire"
)

// fileCopy copies a repository .conf into a temp dir with every loopback
// port made random and the JetStream store moved into the temp dir.
func fileCopy(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", name))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(string(b), `"127.0.0.1:-1"`)
	s = strings.Replace(s, `"./.emostream/jetstream"`, `"`+filepath.Join(dir, "js")+`"`, 1)
	p := filepath.Join(dir, filepath.Base(name))
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigFiles runs nats.conf and the deploy/ leaf configs (ports made
// random) as a hub, two leaf clusters and a leaf of a leaf, and checks that a
// viewer on each gets the latest swarm and live ones.
func TestConfigFiles(t *testing.T) {
	t.Setenv("EMOSTREAM_LEAF_PASSWORD", "file-test-secret")
	h, err := NewHub(HubConfig{ConfigFile: fileCopy(t, "nats.conf"), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Shutdown)
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
		leaves[name] = startLeaf(t, LeafConfig{ConfigFile: fileCopy(t, "deploy/"+name+".conf"), Logger: testLogger()})
	}
	waitLeafs(t, h.embedded, 2)
	waitLeafs(t, leaves["leaf-a"].embedded, 2)
	js := stageJS(t, h)
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
}
