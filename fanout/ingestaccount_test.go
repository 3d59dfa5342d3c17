package fanout

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/wire"
)

// TestIngestReadsAcrossAccounts: ingest, in its own account, reads STAGES
// through its imports. It watches the registry's bucket: the watch's
// consumer is created in STAGES, its deliveries come to ingest's inbox
// prefix, and its flow-control answers go back. The bucket holds more than
// twice the bytes a push consumer sends before it waits for a flow-control
// answer (nats-server's JsFlowControlMaxPending / 16), so the watch sees
// every key only if those answers reach STAGES. And it scans the timeline
// with batch direct gets, several answers to one request. On a hub of
// HubConfig and of nats.conf.
func TestIngestReadsAcrossAccounts(t *testing.T) { onBothHubs(t, checkIngestReads) }

func checkIngestReads(t *testing.T, h *Hub, passwords map[string]string) {
	as := func(user string) *stage { return connectWith(t, h, user, nats.UserInfo(user, passwords[user])) }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := registry.Open(ctx, as(UserAdmin).js, registry.Config{}); err != nil {
		t.Fatal(err)
	}
	admin := as(UserAdmin)
	const keys, size = 1200, registry.MaxValueSize - 200 // 4.4 MB, over 2 MiB
	value := bytes.Repeat([]byte("x"), size)
	for i := range keys {
		if _, err := admin.js.PublishAsync(fmt.Sprintf("$KV.%s.k%d", wire.MatchesBucket, i), value); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-admin.js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("the bucket's puts were not acknowledged")
	}
	ingest := as(UserIngest)
	checkTimelineScan(ctx, t, as(UserProcessor), ingest)
	kv, err := ingest.js.KeyValue(ctx, wire.MatchesBucket)
	if err != nil {
		t.Fatal(err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop() //nolint:errcheck // test
	seen := 0
	for seen < keys {
		select {
		case e := <-w.Updates():
			if e != nil {
				seen++
			}
		case err := <-ingest.errs:
			t.Fatalf("ingest: %s", err)
		case <-ctx.Done():
			t.Fatalf("ingest's watch saw %d of %d keys", seen, keys)
		}
	}
	// A change after the initial values comes through too.
	if _, err := admin.js.Publish(ctx, "$KV."+wire.MatchesBucket+".late", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case e := <-w.Updates():
			if e != nil && e.Key() == "late" {
				return
			}
		case <-ctx.Done():
			t.Fatal("ingest's watch missed a later put")
		}
	}
}

// checkTimelineScan: records the processor writes, ingest scans in one
// batch.
func checkTimelineScan(ctx context.Context, t *testing.T, proc, ingest *stage) {
	t.Helper()
	if err := streams.Ensure(ctx, proc.js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	subject := wire.TimelineSubject("m1", wire.TimelineWindows)
	for range 3 {
		if _, err := proc.js.Publish(ctx, subject, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	var seqs []uint64
	err := timeline.NewReader(ingest.nc, wire.TimelineStream, 0).Scan(ctx, subject, 1, func(m timeline.Msg) (bool, error) {
		seqs = append(seqs, m.Seq)
		return true, nil
	})
	if err != nil || len(seqs) != 3 {
		t.Fatalf("ingest scans the timeline: %v, %v; want 3 records", seqs, err)
	}
}

// TestIngestMaxSubscriptions: an ingest connection, in INGEST, has the
// stages' bound MaxSubscriptions, not the leaves' larger one.
func TestIngestMaxSubscriptions(t *testing.T) {
	const max = 4
	h := startAuthHub(t, HubConfig{MaxSubscriptions: max})
	ingest := connectAs(t, h, UserIngest)
	for i := range max + 1 {
		if _, err := ingest.nc.SubscribeSync(fmt.Sprintf("%s.test.%d", wire.IngestInboxPrefix, i)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case e := <-ingest.errs:
		if !strings.Contains(e, nats.ErrMaxSubscriptionsExceeded.Error()) {
			t.Fatalf("subscription %d: %s, want %v", max+1, e, nats.ErrMaxSubscriptionsExceeded)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("subscription %d of MaxSubscriptions %d: no error", max+1, max)
	}
}
