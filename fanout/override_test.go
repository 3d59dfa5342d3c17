package fanout

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emostream/emostream/internal/testenv"
)

// TestStartFailsOnTakenPort: a listener that cannot bind ends Start with
// nats-server's reason, not after the start timeout.
func TestStartFailsOnTakenPort(t *testing.T) {
	for _, which := range []string{"client", "monitor", "leafnode"} {
		t.Run(which, func(t *testing.T) {
			cfg := HubConfig{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0", Logger: testLogger()}
			addr := testenv.BusyAddr(t)
			switch which {
			case "client":
				cfg.ClientListen = addr
			case "monitor":
				cfg.MonitorListen = addr
			case "leafnode":
				cfg.LeafListen = addr
			}
			h, err := NewHub(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = h.Start()
			if err == nil || !strings.Contains(err.Error(), "address already in use") {
				t.Fatalf("got %v, want address already in use", err)
			}
		})
	}
	t.Run("canceled", func(t *testing.T) {
		h, err := NewHub(HubConfig{DataDir: t.TempDir(), ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0", Logger: testLogger()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := h.StartContext(ctx); err == nil {
			h.Shutdown() // it may have been ready at the first look
		}
	})
}

// TestConfigFileOverrides: with a ConfigFile, set fields override the
// file's values (DataDir its store_dir); the data sits in
// DataDir/jetstream, never nested twice.
func TestConfigFileOverrides(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "hub.conf")
	taken := testenv.BusyAddr(t)
	text := "server_name: file\nlisten: " + taken + "\njetstream {store_dir: \"rel\"}\nleafnodes {listen: \"" + taken + "\"}\n"
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	store := t.TempDir()
	h, err := NewHub(HubConfig{ConfigFile: conf, DataDir: store, ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	defer h.Shutdown()
	if strings.Contains(h.ClientURL(), taken) || strings.Contains(h.LeafURL(), taken) {
		t.Fatalf("not overridden: %s %s", h.ClientURL(), h.LeafURL())
	}
	if _, err := os.Stat(filepath.Join(store, "jetstream")); err != nil {
		t.Fatalf("DataDir did not override store_dir: %v", err)
	}
	if _, err := NewHub(HubConfig{ConfigFile: conf, LeafPassword: "x"}); !errors.Is(err, ErrFileOnly) || !strings.Contains(err.Error(), "LeafPassword") {
		t.Fatalf("a password with a file: %v, want ErrFileOnly", err)
	}

	data := t.TempDir()
	h2 := startHubConfig(t, HubConfig{DataDir: data, ClientListen: "127.0.0.1:0", LeafListen: "127.0.0.1:0", Logger: testLogger()})
	h2.Shutdown()
	if _, err := os.Stat(filepath.Join(data, "jetstream", "jetstream")); err == nil {
		t.Fatal("store nested twice")
	}
	if _, err := os.Stat(filepath.Join(data, "jetstream")); err != nil {
		t.Fatal(err)
	}
}
