package client_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/client"
)

// A server (or proxy) that takes a POST and never answers: Send gives up
// after RequestTimeout for each try instead of waiting for ever (emostream
// send used to hang).
func TestSendGivesUpOnASilentServer(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/config" {
			http.NotFound(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		<-release
	}))
	defer srv.Close()
	defer close(release)
	c, err := client.New(client.Config{Target: srv.URL, RequestTimeout: 100 * time.Millisecond, MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = c.Send(ctx, client.Reactions{Match: "m", Emoji: "🔥", Count: 1})
	if err == nil || ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send against a silent server: %v (the test's own deadline: %v), want each try's deadline", err, ctx.Err())
	}
}

// A server answering the timeline with more than MaxTimelineAnswer: the
// client refuses it, it does not decode it whole into memory.
func TestTimelineAnswerBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"match_id":"`)
		chunk := strings.Repeat("a", 1<<20)
		for range client.MaxTimelineAnswer>>20 + 1 {
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
		io.WriteString(w, `","step":"1m","steps":[]}`)
	}))
	defer srv.Close()
	c, err := client.New(client.Config{Target: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Timeline(context.Background(), client.TimelineQuery{Match: "m"}); err == nil || !strings.Contains(err.Error(), "over 64 MiB") {
		t.Fatalf("a timeline answer over 64 MiB: %v, want refused", err)
	}
}
