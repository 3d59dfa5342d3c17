package fanout

import (
	"bytes"
	"context"
	"encoding/json"
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
// through its imports. It follows the registry's bucket (registry.Bind,
// Run) with batch direct gets, several answers to one request: the bucket
// holds more than a batch's bytes (4.4 MB, batches of 1 MiB), so the copy
// reaches the bucket's last revision only if every batch's answers come
// back. And it scans the timeline the same way. On a hub of HubConfig and
// of nats.conf.
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
	reg, err := registry.Bind(ctx, ingest.js, registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- reg.Run(rctx) }()
	defer func() { stop(); <-done }()
	// A change after the first load comes through too.
	for _, late := range []bool{false, true} {
		ack, err := admin.js.Publish(ctx, "$KV."+wire.MatchesBucket+".late", []byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		for s := reg.Snapshot(); s == nil || s.Revision() < ack.Sequence; s = reg.Snapshot() {
			var changed <-chan struct{}
			if s != nil {
				changed = s.Changed()
			}
			select {
			case <-changed:
			case <-time.After(50 * time.Millisecond): // not loaded yet
			case err := <-ingest.errs:
				t.Fatalf("ingest: %s", err)
			case <-ctx.Done():
				t.Fatalf("ingest's copy of the registry did not reach revision %d (a later put: %v)", ack.Sequence, late)
			}
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

// TestIngestCreatesNoConsumer: a stolen ingest login cannot create a
// consumer on the registry's bucket. The deliver subject is in the
// request's body, which no permission checks: such a consumer could
// deliver the bucket into any subject of STAGES, the live swarms edges
// read among them. Ingest follows the bucket with direct gets instead
// (registry.Bind), so user ingest may create no consumer at all. On a hub
// of HubConfig and of nats.conf.
func TestIngestCreatesNoConsumer(t *testing.T) { onBothHubs(t, checkIngestCreatesNoConsumer) }

func checkIngestCreatesNoConsumer(t *testing.T, h *Hub, passwords map[string]string) {
	as := func(user string) *stage { return connectWith(t, h, user, nats.UserInfo(user, passwords[user])) }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin := as(UserAdmin)
	if _, err := registry.Open(ctx, admin.js, registry.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.js.Publish(ctx, "$KV."+wire.MatchesBucket+".m1", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	edge := as(UserEdge)
	live, err := edge.nc.SubscribeSync(wire.LiveSubjects)
	if err != nil {
		t.Fatal(err)
	}
	if err := edge.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	const name = "stolen"
	req, _ := json.Marshal(map[string]any{"stream_name": "KV_" + wire.MatchesBucket, "config": map[string]any{
		"name": name, "deliver_subject": "emostream.live.m1", "ack_policy": "none", "deliver_policy": "all",
	}})
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
	defer rcancel()
	m, err := as(UserIngest).nc.RequestWithContext(rctx, "$JS.API.CONSUMER.CREATE.KV_"+wire.MatchesBucket+"."+name, req)
	if err == nil {
		t.Errorf("ingest's consumer create was answered: %s", m.Data)
	}
	if got, err := live.NextMsg(time.Second); err == nil {
		t.Errorf("an edge received %q on %s from a consumer ingest created", got.Data, got.Subject)
	}
}
