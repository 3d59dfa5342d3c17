package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/segmentio/kafka-go"

	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/natsconn"
	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/wire"
)

// Restart backoff of a partition worker that failed.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
	// commitEvery is how often acknowledged offsets are committed to the
	// consumer group.
	commitEvery = time.Second
)

// Bridge reads the events topic and publishes partials. Build it with New.
type Bridge struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	kafka   kafkaconn.Conn
	dialer  *kafka.Dialer
	js      jetstream.JetStream
	stream  jetstream.Stream
	health  health
	// waiting is why Run is not working yet: NATS or the stream not
	// reached at start (natsconn.Until).
	waiting natsconn.Waiting
}

// health is, per partition, the fatal publish problem it last met.
type health struct {
	mu       sync.Mutex
	problems map[int32]error
}

func (h *health) set(id int32, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.problems == nil {
		h.problems = map[int32]error{}
	}
	h.problems[id] = err
}

func (h *health) clear(id int32) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.problems, id)
}

// err joins the problems in partition order.
func (h *health) err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	ids := slices.Sorted(maps.Keys(h.problems))
	errs := make([]error, len(ids))
	for i, id := range ids {
		errs[i] = fmt.Errorf("partition %d: %w", id, h.problems[id])
	}
	return errors.Join(errs...)
}

// Ready reports whether the bridge can publish every partition it works:
// nil, or the last fatal publish problem of each partition that has one (a
// partial over a server's limit, ErrTooLarge). A partition's problem
// stands until it publishes a partial again or the bridge stops working it.
func (b *Bridge) Ready() error {
	if err := b.waiting.Err(); err != nil {
		return err
	}
	return b.health.err()
}

// New validates cfg and returns a bridge; Run starts it.
func New(cfg Config) (*Bridge, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	kc, err := cfg.KafkaSecurity.Build()
	if err := setting.First(ErrConfig, setting.Err("KafkaSecurity", nil, err)); err != nil {
		return nil, err
	}
	kc.Dial = cfg.KafkaDial
	return &Bridge{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "bridge"),
		metrics: newMetrics(cfg.Registerer),
		kafka:   kc,
		dialer:  kc.Dialer(clientID),
		waiting: natsconn.Waiting{For: "bridge: waiting for NATS and its stream"},
	}, nil
}

// Run joins the consumer group and works the partitions it is assigned
// until ctx ends. Open windows are dropped then: the next owner re-reads
// them from Kafka.
func (b *Bridge) Run(ctx context.Context) error {
	if err := b.checkKafka(ctx); err != nil {
		return err
	}
	var nc *nats.Conn
	err := natsconn.Until(ctx, b.log, "NATS at "+natsconn.Redact(b.cfg.NATSURL), natsconn.Permanent, b.waiting.Set,
		func(context.Context) (err error) { nc, err = b.connect(); return err })
	if err != nil {
		return nilIfDone(ctx, err)
	}
	if b.cfg.NATSConn == nil {
		defer nc.Close()
	}
	if err := b.cfg.checkPayload(nc); err != nil {
		return err
	}
	// The stream may not be reachable yet (JetStream starting, a hub
	// restarting): wait for it rather than exit.
	err = natsconn.Until(ctx, b.log, "the partials stream", nil, b.waiting.Set,
		func(ctx context.Context) error { return b.openStream(ctx, nc) })
	if err != nil {
		return nilIfDone(ctx, err)
	}
	cg, err := kafka.NewConsumerGroup(b.groupConfig())
	if err != nil {
		return fmt.Errorf("bridge: joining group %s: %w", b.cfg.Group, err)
	}
	defer cg.Close()
	return b.generations(ctx, cg)
}

// nilIfDone is nil when ctx ended (a stop while waiting is no failure),
// else err.
func nilIfDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (b *Bridge) connect() (*nats.Conn, error) {
	if b.cfg.NATSConn != nil {
		return b.cfg.NATSConn, nil
	}
	opts := append([]nats.Option{nats.Name("emostream-bridge"), nats.MaxReconnects(-1)}, natsconn.StateLog(b.log, 0)...)
	opts = append(opts, b.cfg.NATSOptions...)
	nc, err := nats.Connect(b.cfg.NATSURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("bridge: connecting to NATS at %s: %w", natsconn.Redact(b.cfg.NATSURL), natsconn.RedactError(err, b.cfg.NATSURL))
	}
	return nc, nil
}

func (b *Bridge) openStream(ctx context.Context, nc *nats.Conn) error {
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	// Only the stream it writes: the processor ensures both.
	if err := streams.EnsureStream(ctx, js, streams.Partials(b.cfg.Streams)); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	if b.stream, err = js.Stream(ctx, wire.PartialsStream); err != nil {
		return fmt.Errorf("bridge: opening %s: %w", wire.PartialsStream, err)
	}
	b.js = js
	return nil
}

func (b *Bridge) groupConfig() kafka.ConsumerGroupConfig {
	log := b.log.With("group", b.cfg.Group)
	return kafka.ConsumerGroupConfig{
		ID:                b.cfg.Group,
		Brokers:           b.cfg.KafkaBrokers,
		Dialer:            b.dialer,
		Topics:            []string{b.cfg.Topic},
		HeartbeatInterval: b.cfg.Heartbeat,
		SessionTimeout:    b.cfg.SessionTimeout,
		RebalanceTimeout:  b.cfg.SessionTimeout,
		JoinGroupBackoff:  b.cfg.Heartbeat,
		// Partitions added to the topic are worked at the next check,
		// with no bridge restarted.
		WatchPartitionChanges:  true,
		PartitionWatchInterval: b.cfg.PartitionWatch,
		Logger:                 kafkaLogger(log, slog.LevelDebug),
		ErrorLogger:            kafkaLogger(log, slog.LevelWarn),
	}
}

// generations works each generation of the group until ctx ends.
func (b *Bridge) generations(ctx context.Context, cg *kafka.ConsumerGroup) error {
	for {
		gen, err := cg.Next(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, kafka.ErrGroupClosed):
			return fmt.Errorf("bridge: consumer group closed: %w", err)
		case err != nil:
			b.log.Warn("consumer group generation failed; rejoining", "err", err)
			continue
		}
		b.startGeneration(ctx, gen)
	}
}

// startGeneration starts a worker per assigned partition and a committer,
// all bound to the generation and to ctx.
func (b *Bridge) startGeneration(ctx context.Context, gen *kafka.Generation) {
	assigned := gen.Assignments[b.cfg.Topic]
	ids := make([]int32, len(assigned))
	for i, a := range assigned {
		ids[i] = int32(a.ID)
	}
	b.log.Info("partitions assigned", "generation", gen.ID, "member", gen.MemberID, "partitions", ids)
	commits := make(chan [2]int64, 64)
	gen.Start(func(gctx context.Context) {
		b.commitLoop(bind(ctx, gctx), gen, commits)
	})
	commit := func(p int32, next int64) {
		select {
		case commits <- [2]int64{int64(p), next}:
		default: // for lag monitoring only: the next commit carries it
		}
	}
	for _, id := range ids {
		gen.Start(func(gctx context.Context) { b.work(bind(ctx, gctx), id, commit) })
	}
}

// bind returns a context that ends when either ctx or gctx ends.
func bind(ctx, gctx context.Context) context.Context {
	c, cancel := context.WithCancel(ctx)
	context.AfterFunc(gctx, cancel)
	return c
}

// work runs partition id, restarting it after failures, until ctx ends.
func (b *Bridge) work(ctx context.Context, id int32, commit func(int32, int64)) {
	defer b.health.clear(id) // no longer this bridge's to publish
	backoff := minBackoff
	for ctx.Err() == nil {
		start := time.Now()
		err := b.runPartition(ctx, id, commit)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > maxBackoff {
			backoff = minBackoff
		}
		b.logFailure(id, err, backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (b *Bridge) logFailure(id int32, err error, backoff time.Duration) {
	lv := slog.LevelError
	if errors.Is(err, ErrFenced) {
		lv = slog.LevelWarn
	}
	b.log.Log(context.Background(), lv, "partition stopped; re-reading its last partial",
		"partition", id, "err", err, "retry_in", backoff)
}

// commitLoop commits the offsets of acknowledged partials, for lag
// monitoring only, every commitEvery.
func (b *Bridge) commitLoop(ctx context.Context, gen *kafka.Generation, commits <-chan [2]int64) {
	t := time.NewTicker(commitEvery)
	defer t.Stop()
	pending := map[int]int64{}
	for {
		select {
		case <-ctx.Done():
			return
		case c := <-commits:
			pending[int(c[0])] = c[1]
		case <-t.C:
			if len(pending) == 0 {
				continue
			}
			if err := gen.CommitOffsets(map[string]map[int]int64{b.cfg.Topic: pending}); err != nil {
				b.log.Debug("committing offsets", "err", err)
			}
			pending = map[int]int64{}
		}
	}
}

// kafkaLogger adapts slog to kafka-go's printf-style logger.
func kafkaLogger(l *slog.Logger, lv slog.Level) kafka.Logger {
	return kafka.LoggerFunc(func(format string, args ...any) {
		if l.Enabled(context.Background(), lv) {
			l.Log(context.Background(), lv, fmt.Sprintf(format, args...))
		}
	})
}
