package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/emostream/emostream/registry"
	"github.com/emostream/emostream/stack"
	"github.com/emostream/emostream/wire"
)

// warmupMatch carries the one event that proves the pipeline delivers
// before the load starts; it is left out of every figure.
const warmupMatch = "bench-warmup"

// target is the pipeline under test: the embedded stack, or a running one.
type target struct {
	httpURL string
	wsURLs  []string
	metrics prometheus.Gatherer // nil for a running stack
	stop    func() error
}

// startStack runs the embedded stack on free loopback ports with the ingest
// rate limits off, or describes the running one of cfg.Against.
func startStack(cfg Config) (*target, error) {
	if cfg.Against != "" {
		return &target{httpURL: cfg.Against, wsURLs: cfg.WebSocketURLs, stop: func() error { return nil }}, nil
	}
	dir, cleanup, err := dataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	st, err := stack.Start(stackConfig(cfg, dir))
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("bench: starting the stack: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx) }()
	stop := func() error {
		cancel()
		err := <-done
		cleanup()
		return err
	}
	return &target{httpURL: st.HTTPURL(), wsURLs: st.WebSocketURLs(), metrics: st.Registry, stop: stop}, nil
}

// stackConfig is the embedded stack of cfg on data directory dir.
func stackConfig(cfg Config, dir string) stack.Config {
	ic := cfg.Ingest
	ic.UserRate, ic.IPRate = -1, -1
	sc := stack.Config{DataDir: dir, Partitions: cfg.Partitions, Window: cfg.Window, KafkaBrokers: cfg.KafkaBrokers,
		Ingest: ic, Registry: registry.Config{AutoMatches: benchAutoMatches}, Logger: cfg.Logger}
	if len(cfg.KafkaBrokers) > 0 { // a topic with earlier runs' records
		sc.Bridge.Group = fmt.Sprintf("emostream-bench-%d", time.Now().UnixNano())
		sc.Bridge.FreshLookback = time.Millisecond
	}
	return sc
}

// dataDir returns dir, or a new temporary directory removed by cleanup.
func dataDir(dir string) (string, func(), error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o755)
	}
	tmp, err := os.MkdirTemp("", "emostream-bench-")
	if err != nil {
		return "", nil, fmt.Errorf("bench: %w", err)
	}
	return tmp, func() { os.RemoveAll(tmp) }, nil
}

// warmUp posts one event of warmupMatch until it is accepted and waits until
// its swarm reaches a viewer: then Kafka, the bridge's partitions, the
// processor and the leaves all work. It gives up after timeout.
func warmUp(ctx context.Context, t *target, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	nc, err := nats.Connect(t.wsURLs[0], nats.Name("emostream bench warm-up"))
	if err != nil {
		return fmt.Errorf("bench: warm-up viewer: %w", err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync(wire.LiveSubject(warmupMatch))
	if err != nil {
		return fmt.Errorf("bench: warm-up viewer: %w", err)
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("bench: warm-up viewer: %w", err)
	}
	// Post again while no swarm comes: on an external Kafka the bridge
	// skips what was received before it started (stackConfig), which can
	// be the first warm-up event.
	for {
		if err := postWarmup(ctx, t.httpURL); err != nil {
			return err
		}
		wait, cancelWait := context.WithTimeout(ctx, 3*time.Second)
		_, err := sub.NextMsgWithContext(wait)
		cancelWait()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("bench: the warm-up swarm did not arrive: %w", err)
		}
	}
}

// postWarmup posts the warm-up event, retrying while ingest is not ready.
func postWarmup(ctx context.Context, base string) error {
	body := []byte(`{"user_id":"bench","match_id":"` + warmupMatch + `","emoji_type":"` + wire.DefaultEmojis[0] + `"}`)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/emojis", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				return nil
			}
			err = errors.New(resp.Status)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: warm-up event not accepted: %v", err)
		case <-tick.C:
		}
	}
}

// benchAutoMatches is how many matches the embedded stack admits without
// declaring them: more than any load mix uses.
const benchAutoMatches = 10_000
