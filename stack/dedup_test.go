package stack_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/bridge"
	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

// floodIDs is the size of the foreign flood: more ids than the old
// dedup set (200,000 per partition, oldest out first) remembered.
const floodIDs = 210_000

// TestRetryCountsOnceAfterForeignFlood is issue 20's item 6 through the
// whole pipeline: a victim's event, then other clients' 210,000 distinct
// event_ids on the victim's partition, sent as fast as ingest takes them,
// then the victim's retry: it counts once, with and without JWT auth on
// ingest. Without auth the flood comes from 2,100 user_ids; with it from 3
// authenticated users of 70,000 ids each, past the per-user cap of
// remembered ids (counted in dedup_not_remembered_total{reason="user_cap"}).
// With a dedup budget of 1 MiB (28,000 ids) the flood fills it: its later
// ids are not remembered (reason="full"), and the victim's retry still
// counts once. Ingest's rate limits are off, as a flood from many networks
// would pass them.
func TestRetryCountsOnceAfterForeignFlood(t *testing.T) {
	secret := bytes.Repeat([]byte("k"), ingest.MinHMACSecret)
	for _, tt := range []struct {
		jwt    bool
		memory int64 // the bridge's DedupMemory
	}{{false, 0}, {true, 0}, {false, 1 << 20}} {
		t.Run(fmt.Sprintf("jwt=%v,dedup-memory=%d", tt.jwt, tt.memory), func(t *testing.T) {
			jwtAuth := tt.jwt
			auth := ingest.AuthConfig{Mode: ingest.AuthNone}
			if jwtAuth {
				auth = ingest.AuthConfig{Mode: ingest.AuthJWT, HMACSecret: secret}
			}
			st := startStackWith(t, stack.Config{Window: 500 * time.Millisecond, DemoMatch: "legit",
				Ingest: ingest.Config{UserRate: -1, IPRate: -1, Auth: auth}, Bridge: bridge.Config{DedupMemory: tt.memory}})
			v := watch(t, st.WebSocketURLs()[0])
			f := &flooder{t: t, base: st.HTTPURL(), secret: secret, jwt: jwtAuth, client: &http.Client{Timeout: time.Minute}}
			tap := func(id string) { f.post([]event{{"victim", id}}) }
			tap("tap-1")
			start := time.Now()
			users, perUser := 2_100, 100
			if jwtAuth {
				users, perUser = 3, floodIDs/3
			}
			f.flood(users, perUser)
			t.Logf("%d ids flooded in %v", f.sent-1, time.Since(start).Round(time.Millisecond))
			tap("tap-1") // the retry
			tap("tap-2") // a new event after it, on the same partition
			want := int64(f.sent - 1)
			testenv.WaitFor(t, time.Minute, "every event counted", func() bool { return v.total() >= want })
			if got := v.total(); got != want {
				t.Errorf("viewer counted %d, want %d: the retry after the flood counted again", got, want)
			}
			if dups := gatherSum(st.Registry, "emostream_bridge_duplicates_total"); dups != 1 {
				t.Errorf("duplicates_total = %v, want 1 (the retry)", dups)
			}
			if n := notRemembered(st, "user_cap"); jwtAuth != (n > 0) {
				t.Errorf("%v ids not remembered past the per-user cap", n)
			}
			if n := notRemembered(st, "full"); (tt.memory > 0) != (n > 0) {
				t.Errorf("%v ids not remembered in a full set", n)
			}
		})
	}
}

// notRemembered is the bridge's dedup_not_remembered_total{reason}.
func notRemembered(st *stack.Stack, reason string) float64 {
	mfs, _ := st.Registry.Gather()
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "emostream_bridge_dedup_not_remembered_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// flooder posts events of one live match, as given users, to ingest.
type flooder struct {
	t      *testing.T
	base   string
	secret []byte
	jwt    bool
	client *http.Client
	sent   int
}

// flood posts perUser distinct ids for each of users user_ids that ingest
// puts on the victim's partition, 1,000 events a request (one user's with
// JWT auth: a token names one user).
func (f *flooder) flood(users, perUser int) {
	var batch []event
	for u, i := 0, 0; u < users; i++ {
		user := fmt.Sprint("flood-", i)
		if partitionOf(user) != partitionOf("victim") {
			continue
		}
		for j := range perUser {
			if len(batch) == wire.MaxBatch || f.jwt && len(batch) > 0 && batch[0].user != user {
				f.post(batch)
				batch = batch[:0]
			}
			batch = append(batch, event{user, fmt.Sprint("f-", j)})
		}
		u++
	}
	f.post(batch)
}

// partitionOf is the partition of 4 that ingest writes user's events to.
func partitionOf(user string) int {
	return (&kafka.Hash{}).Balance(kafka.Message{Key: []byte(user)}, 0, 1, 2, 3)
}

// event is a user's event_id.
type event struct{ user, id string }

// post posts evs, which must all be accepted.
func (f *flooder) post(evs []event) {
	f.t.Helper()
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range evs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"user_id":%q,"match_id":"legit","emoji_type":"🔥","event_id":%q}`, e.user, e.id)
	}
	b.WriteByte(']')
	h := http.Header{}
	if f.jwt {
		h.Set("Authorization", "Bearer "+f.token(evs[0].user))
	}
	if a := send(f.client, f.base, b.Bytes(), h); a.status != http.StatusAccepted || a.accepted != len(evs) {
		f.t.Fatalf("POST of %d events: %d %s, %d accepted, %v", len(evs), a.status, a.code, a.accepted, a.err)
	}
	f.sent += len(evs)
}

// token is a bearer token for user.
func (f *flooder) token(user string) string {
	now := time.Now()
	c := jwt.RegisteredClaims{Subject: user, Audience: jwt.ClaimStrings{ingest.DefaultJWTAudience},
		Issuer: ingest.DefaultJWTIssuer, IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(f.secret)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}
