package stack_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emostream/emostream/fanout"
	"github.com/emostream/emostream/ingest"
	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/stack"
)

// TestConfigErrorsNameTheSetting: every setting Start refuses before
// anything starts is named in its error, with the reason; the error wraps
// ErrConfig.
func TestConfigErrorsNameTheSetting(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  stack.Config
		want string
	}{
		{"DataDir", stack.Config{}, `DataDir "": want a directory`},
		{"KafkaSecurity", stack.Config{DataDir: dir, KafkaSecurity: kafkaconn.Security{TLS: true}}, "KafkaSecurity: want none with the embedded broker"},
		{"Partitions", stack.Config{DataDir: dir, Partitions: -1}, "Partitions -1: want 0 to 4096"},
		// Millions of partitions took the embedded broker gigabytes and
		// minutes, deaf to Ctrl-C: the bound is the topic command's.
		{"Partitions", stack.Config{DataDir: dir, Partitions: 4097}, "Partitions 4097: want 0 to 4096"},
		{"Window", stack.Config{DataDir: dir, Window: time.Minute + time.Microsecond}, "Window 1m0.000001s: want whole milliseconds from 100ms to 1h"},
		{"SwarmThreshold", stack.Config{DataDir: dir, SwarmThreshold: -1}, "SwarmThreshold -1: want at least 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := stack.Start(tt.cfg)
			if st != nil {
				t.Fatal("started")
			}
			var se *setting.Error
			if !errors.Is(err, stack.ErrConfig) || !errors.As(err, &se) {
				t.Fatalf("got %v, want a setting error wrapping ErrConfig", err)
			}
			if se.Name != tt.name || !strings.HasPrefix(se.Error(), tt.want) {
				t.Errorf("got %q (setting %s), want %q", se.Error(), se.Name, tt.want)
			}
		})
	}
}

// TestHubStageBoundHoldsIngestsAnswers: ingest's connection to the hub
// holds one reply inbox for each timeline answer in flight, up to one an
// HTTP connection, so the hub's default bound of subscriptions per stage
// connection must stay above ingest's default connection cap, with room
// for ingest's own few (registry watch, reply inboxes). Under it, a few
// networks holding answers open cut every other timeline answer short.
func TestHubStageBoundHoldsIngestsAnswers(t *testing.T) {
	const ingestOwn = 64
	if fanout.DefaultHubMaxSubs < ingest.DefaultMaxConnections+ingestOwn {
		t.Errorf("fanout.DefaultHubMaxSubs %d: want at least ingest.DefaultMaxConnections (%d) + %d",
			fanout.DefaultHubMaxSubs, ingest.DefaultMaxConnections, ingestOwn)
	}
}
