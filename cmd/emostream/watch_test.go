package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// TestPrintSwarm: a watch line names how the swarm arrived, the viewers
// and each crowd moment; a gap line says what was not recovered.
func TestPrintSwarm(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	sw := wire.Swarm{MatchID: "m", WindowStart: start, WindowEnd: start.Add(2 * time.Second),
		Counts: map[string]int64{"🔥": 3000}, Swarm: map[string]int64{"🔥": 3}, Total: 3000, Viewers: 12,
		Moments: []wire.Moment{{MatchID: "m", WindowStart: start, WindowEnd: start.Add(2 * time.Second),
			Emoji: "🔥", Size: 3000, Ratio: 6.5, Rule: "total"}}}
	body, err := sw.Encode()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printSwarm(&b, body, fanout.SourceRecovered, start.Add(3*time.Second))
	printGap(&b, fanout.Gap{From: start, To: start.Add(6 * time.Second), Windows: 3, Reason: "no longer stored"})
	for _, want := range []string{
		"recovered 10:00:00.000 units 🔥3 counts 🔥3000 total 3000 latency 1s · 12 watching\n",
		"moment    10:00:00.000 🔥 3000 (6.5× the baseline, rule total)\n",
		"missed  10:00:00.000–10:00:06.000 up to 3 window(s) not recovered: no longer stored\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

// TestWatchReportsMissed: watch against a stream that keeps 3 swarms per
// match; after the late join, windows 2…8 are stored and only 8 comes live
// (published here with its Nats-Sequence, as the stream's RePublish does):
// watch recovers 6 and 7, says windows 2…5 are gone, and sums up at exit.
func TestWatchReportsMissed(t *testing.T) {
	n := testenv.StartNATS(t)
	nc, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: wire.SwarmsStream, Subjects: []string{wire.SwarmsSubjects},
		AllowDirect: true, MaxMsgsPerSubject: 3}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	store := func(w int) ([]byte, uint64) {
		s := wire.Swarm{MatchID: "m", WindowStart: start.Add(time.Duration(w) * 2 * time.Second),
			WindowEnd: start.Add(time.Duration(w+1) * 2 * time.Second), Counts: map[string]int64{"🔥": int64(w)}, Total: int64(w)}
		body, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		ack, err := js.Publish(ctx, wire.SwarmSubject("m"), body)
		if err != nil {
			t.Fatal(err)
		}
		return body, ack.Sequence
	}
	store(1)

	var out testenv.LogBuffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- dispatch(wctx, env, []string{"watch", "--nats", n.URL, "--match", "m"}) }()
	testenv.WaitFor(t, 10*time.Second, "the late join", func() bool { return strings.Contains(out.String(), "latest    10:00:02.000") })
	var body []byte
	var seq uint64
	for w := 2; w <= 8; w++ {
		body, seq = store(w)
	}
	live := nats.NewMsg(wire.LiveSubject("m"))
	live.Data = body
	live.Header.Set(wire.SeqHeader, strconv.FormatUint(seq, 10))
	if err := nc.PublishMsg(live); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 10*time.Second, "the live window", func() bool { return strings.Contains(out.String(), "live      10:00:16.000") })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"missed  10:00:04.000–10:00:12.000 up to 4 window(s) not recovered: no longer stored\nrecovered 10:00:12.000",
		"recovered 10:00:14.000",
		"summary: shown 4, recovered 2, unrecoverable 4 (in 1 gaps), dropped 0\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
