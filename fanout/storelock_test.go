package fanout

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/emostream/emostream/internal/dirlock"
)

// wantStoreHeld fails unless err refuses a store in use by this process,
// in one line naming dir and ending with the way out.
func wantStoreHeld(t *testing.T, err error, dir, hint string) {
	t.Helper()
	want := "data directory " + dir + " is in use by pid " + strconv.Itoa(os.Getpid()) + " ("
	if !errors.Is(err, dirlock.ErrHeld) || !strings.HasPrefix(err.Error(), want) ||
		!strings.HasSuffix(err.Error(), "; stop it or "+hint) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v, want %q…%q", err, want, hint)
	}
}

// TestStoreLocked: a second hub on a JetStream store in use, given as the
// same DataDir or as the same store_dir of a file, does not start; once
// the first shuts down, the store is free.
func TestStoreLocked(t *testing.T) {
	dir := t.TempDir()
	cfg := HubConfig{DataDir: dir, ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0", Logger: testLogger()}
	first, err := NewHub(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Shutdown()
	conf := filepath.Join(t.TempDir(), "hub.conf")
	text := "listen: 127.0.0.1:-1\njetstream {store_dir: " + strconv.Quote(dir) + "}\nleafnodes {listen: \"127.0.0.1:-1\"}\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []HubConfig{cfg, {ConfigFile: conf, Logger: testLogger()}} {
		second, err := NewHub(c)
		if err != nil {
			t.Fatal(err)
		}
		err = second.Start()
		second.Shutdown()
		wantStoreHeld(t, err, dir, dirlock.DefaultHint)
	}
	first.Shutdown()
	startHubConfig(t, cfg)
}

// TestLeafStoreLocked: a leaf whose file gives it JetStream locks its
// store_dir; a second leaf of the same file does not start. A leaf without
// JetStream has no store and locks nothing.
func TestLeafStoreLocked(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "leaf.conf")
	text := "listen: 127.0.0.1:-1\njetstream {store_dir: " + strconv.Quote(filepath.Join(dir, "js")) + ", domain: leaf}\n" +
		"leafnodes {remotes: [{url: \"nats-leaf://127.0.0.1:1\"}]}\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	startLeaf(t, LeafConfig{ConfigFile: conf, Logger: testLogger()})
	second, err := NewLeaf(LeafConfig{ConfigFile: conf, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	err = second.Start()
	second.Shutdown()
	wantStoreHeld(t, err, filepath.Join(dir, "js"), leafLockHint)

	hub := startHub(t)
	for range 2 {
		startLeaf(t, leafConfig("no-store", hub.LeafRemote(), false))
	}
}
