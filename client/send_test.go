package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/client"
	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/web"
)

func TestFitBatch(t *testing.T) {
	limits := &web.Limits{MaxEvents: 1000, UserBurst: 100, IPBurst: 20000}
	tests := []struct {
		name        string
		want, users int
		limits      *web.Limits
		got         int
	}{
		{"server says nothing", 1000, 1, nil, 1000},
		{"one user", 1000, 1, limits, 100},
		{"three users", 1000, 3, limits, 300},
		{"many users", 1000, 50, limits, 1000},
		{"small ip burst", 1000, 50, &web.Limits{MaxEvents: 1000, UserBurst: 100, IPBurst: 250}, 250},
		{"no user limit", 500, 1, &web.Limits{MaxEvents: 1000}, 500},
		{"more users than events", 10, 20, limits, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := client.FitBatch(tt.want, tt.users, tt.limits); got != tt.got {
				t.Errorf("FitBatch(%d, %d) = %d, want %d", tt.want, tt.users, got, tt.got)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	for _, cfg := range []client.Config{{}, {Target: "127.0.0.1:8080"}, {Target: "ws://127.0.0.1:9222"}, {Target: "http://"},
		{Target: "http://127.0.0.1:8080", MaxRetries: -1}, {Target: "http://127.0.0.1:8080", MaxRetryWait: -time.Second}} {
		if _, err := client.New(cfg); !errors.Is(err, client.ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", cfg, err)
		}
	}
	if _, err := client.New(client.Config{Target: "https://ingest.example/"}); err != nil {
		t.Errorf("an https target: %v", err)
	}
}

// TestSendSplitsToFitTheBurst: 150 events of one user are more than the
// per-user burst (100); Send splits them to fit, waits out the 429 of the
// rest, and every one is stored, once.
func TestSendSplitsToFitTheBurst(t *testing.T) {
	k := testenv.StartKafka(t, 1)
	c := newClient(t, startIngest(t, ingest.Config{KafkaBrokers: []string{k.Addr()}}))
	var mu sync.Mutex
	var replies []client.Reply
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	refused, err := c.Send(ctx, client.Reactions{Match: "m", Emoji: "🔥", Count: 150, User: "u", Users: 1,
		OnReply: func(r client.Reply) { mu.Lock(); replies = append(replies, r); mu.Unlock() }})
	if err != nil || refused != 0 {
		t.Fatalf("Send: %d refused, %v", refused, err)
	}
	var accepted []int
	limited := 0
	for _, r := range replies {
		switch {
		case r.Accepted != nil:
			accepted = append(accepted, r.Accepted.Accepted)
		case r.Status == http.StatusTooManyRequests && r.RetryAfter != "":
			limited++
		default:
			t.Errorf("reply %d %s", r.Status, r.Body)
		}
	}
	if len(accepted) != 2 || accepted[0] != 100 || accepted[1] != 50 || limited == 0 {
		t.Errorf("accepted %v after %d rate-limited replies; want arrays of 100 and 50, the second retried", accepted, limited)
	}
	if n := storedRecords(t, k); n != 150 {
		t.Errorf("%d records stored, want 150", n)
	}
}

// TestSendSplitsWhereTheBurstPoints: from a server that does not say its
// limits (GET /v1/config answered 404, as by an older ingest), an array of
// 150 events of one user is refused burst_exceeded at index 100; Send
// splits there, and every event is stored once.
func TestSendSplitsWhereTheBurstPoints(t *testing.T) {
	k := testenv.StartKafka(t, 1)
	target, err := url.Parse(startIngest(t, ingest.Config{KafkaBrokers: []string{k.Addr()}}))
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	older := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/config" {
			http.NotFound(w, r)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer older.Close()
	c := newClient(t, older.URL)
	var splits []int
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	refused, err := c.Send(ctx, client.Reactions{Match: "m", Emoji: "🔥", Count: 150, User: "u", Users: 1,
		OnSplit: func(size int) { splits = append(splits, size) }})
	if err != nil || refused != 0 || len(splits) != 1 || splits[0] != 100 {
		t.Fatalf("Send: %d refused, %v, splits %v; want one split at 100", refused, err, splits)
	}
	if n := storedRecords(t, k); n != 150 {
		t.Errorf("%d records stored, want 150", n)
	}
}

// TestSendStopsAtARefusal: a refusal that would repeat (400
// unknown_emoji) ends the run after one request, counted refused.
func TestSendStopsAtARefusal(t *testing.T) {
	k := testenv.StartKafka(t, 1)
	c := newClient(t, startIngest(t, ingest.Config{KafkaBrokers: []string{k.Addr()}}))
	var codes []string
	refused, err := c.Send(context.Background(), client.Reactions{Match: "m", Emoji: "no", Count: 30, User: "u", Batch: 10,
		OnReply: func(r client.Reply) { codes = append(codes, r.Code) }})
	if err != nil || refused != 1 || strings.Join(codes, ",") != "unknown_emoji" {
		t.Errorf("Send: %d refused (%v), replies %v; want one unknown_emoji", refused, err, codes)
	}
	if _, err := c.Send(context.Background(), client.Reactions{Match: "m", Emoji: "🔥"}); !errors.Is(err, client.ErrReactions) {
		t.Errorf("Count 0: %v, want ErrReactions", err)
	}
}

func storedRecords(t *testing.T, k *testenv.Kafka) int64 {
	t.Helper()
	conn, err := kafka.DialLeader(context.Background(), "tcp", k.Addr(), k.Topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	last, err := conn.ReadLastOffset()
	if err != nil {
		t.Fatal(err)
	}
	return last
}

func newClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Target: url})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startIngest runs an ingest with cfg on a free local port until the test
// ends, waits until it is ready, and returns its base URL.
func startIngest(t *testing.T, cfg ingest.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listener = ln
	cfg.Logger = testenv.Logger(t)
	srv, err := ingest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Background(t, "ingest", srv.Run)
	url := "http://" + ln.Addr().String()
	testenv.WaitFor(t, 20*time.Second, "ingest ready", func() bool {
		res, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	return url
}
