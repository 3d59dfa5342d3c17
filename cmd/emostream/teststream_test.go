package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/web/teststream"
)

// TestTestStreamCommand runs "emostream teststream" (ffmpeg renders the
// loop): it serves a live playlist whose newest segment ended --behind
// ago, until interrupted; an address off loopback and a bad --behind are
// refused.
func TestTestStreamCommand(t *testing.T) {
	testenv.RequireTool(t, "ffmpeg", teststream.InstallHint)
	for _, bad := range [][]string{{"--listen", "0.0.0.0:0"}, {"--listen", "127.0.0.1:0", "--behind", "2h"}} {
		if err := runCommand(t, nil, append([]string{"teststream"}, bad...)...); err == nil {
			t.Errorf("teststream %v: started", bad)
		}
	}
	var out testenv.LogBuffer
	env := &environment{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, env, []string{"teststream", "--listen", "127.0.0.1:0", "--behind", "10s"})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("teststream: %v\n%s", err, out.String())
		}
	}()
	re := regexp.MustCompile(`teststream: (http://\S+/live\.m3u8), 10s behind`)
	testenv.WaitFor(t, 30*time.Second, "the stream's URL", func() bool { return re.MatchString(out.String()) })
	res, err := http.Get(re.FindStringSubmatch(out.String())[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	pdt := regexp.MustCompile(`#EXT-X-PROGRAM-DATE-TIME:(\S+)`).FindAllStringSubmatch(string(body), -1)
	if res.StatusCode != 200 || len(pdt) != 30 {
		t.Fatalf("playlist: %d, %d segments:\n%s", res.StatusCode, len(pdt), body)
	}
	newest, err := time.Parse(time.RFC3339Nano, pdt[len(pdt)-1][1])
	if err != nil {
		t.Fatal(err)
	}
	if behind := time.Since(newest.Add(time.Second)); behind < 10*time.Second || behind > 12*time.Second {
		t.Errorf("the newest segment ended %v ago, want 10 s to 11 s", behind)
	}
}
