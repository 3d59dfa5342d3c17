package ingest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

func event(user, match, emoji string) string {
	return fmt.Sprintf(`{"user_id":%q,"match_id":%q,"emoji_type":%q}`, user, match, emoji)
}

func batch(n int, user func(i int) string) string {
	evs := make([]string, n)
	for i := range evs {
		evs[i] = event(user(i), "final-2026", "🔥")
	}
	return "[" + strings.Join(evs, ",") + "]"
}

func TestPostReachesKafka(t *testing.T) {
	k := testenv.StartKafka(t, 4)
	st := startIngest(t, k, ingest.Config{})
	before := endOffsets(t, k)
	t0 := time.Now().UnixMilli()
	r := st.post(t, event("u-1", "final-2026", "🔥"))
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := decodeJSON[accepted](t, r.body)
	t1 := time.Now().UnixMilli()
	if got.Accepted != 1 || len(got.Windows) != 1 || got.Windows[0] < wire.WindowStart(t0, 2000) || got.Windows[0] > t1 {
		t.Fatalf("reply %+v", got)
	}
	after := endOffsets(t, k)
	msgs := readRange(t, k, before, after)
	if len(msgs) != 1 {
		t.Fatalf("%d records, want 1", len(msgs))
	}
	var rec wire.Record
	if err := wire.DecodeRecord(msgs[0].Value, &rec); err != nil {
		t.Fatal(err)
	}
	if string(msgs[0].Key) != "u-1" || rec.UserID != "u-1" || rec.ReceivedAt != msgs[0].Time.UnixMilli() {
		t.Fatalf("record key %q %+v at %v", msgs[0].Key, rec, msgs[0].Time)
	}
}
