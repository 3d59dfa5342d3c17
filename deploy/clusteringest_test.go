package deploy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// TestHubClusterIngestWatch: on the 3-member hub of the deploy/ files,
// ingest (account INGEST) connected to one member follows the registry at
// 3 replicas, written by admin on another: its batch direct gets, through
// INGEST's imports, are answered by any replica, a lagging one with
// nothing new yet, and their answers cross the routes to ingest's inbox
// prefix.
func TestHubClusterIngestWatch(t *testing.T) {
	f := newClusterFiles(t)
	startHubCluster(t, f)
	urls := f.HubURLs()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, ajs := stageConn(t, urls[:1], "admin")
	var reg *registry.Registry
	var err error
	if !testenv.Until(30*time.Second, func() bool {
		reg, err = registry.Open(ctx, ajs, registry.Config{Replicas: 3})
		return err == nil
	}) {
		t.Fatalf("creating the registry at R3: %v", err)
	}
	if _, err := reg.Create(ctx, registry.Match{ID: "m1", State: registry.Live}); err != nil {
		t.Fatal(err)
	}
	_, ijs := stageConn(t, urls[2:], "ingest", nats.CustomInboxPrefix(wire.IngestInboxPrefix))
	r, err := registry.Bind(ctx, ijs, registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Background(t, "ingest's registry", r.Run)
	testenv.WaitFor(t, 30*time.Second, "ingest admits the live match", func() bool { return r.Admit("m1") == nil })
	if _, err := reg.End(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 30*time.Second, "ingest sees the end", func() bool { return errors.Is(r.Admit("m1"), registry.ErrNotLive) })
}
