package processor

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/emostream/emostream/internal/kafkaconn"
	"github.com/emostream/emostream/internal/natsconn"
	"github.com/emostream/emostream/internal/recovery"
	"github.com/emostream/emostream/internal/setting"
	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/timeline"
	"github.com/emostream/emostream/wire"
)

// Processor merges partials into swarms. Build it with New, run it with Run.
type Processor struct {
	cfg   Config
	log   *slog.Logger
	met   *metrics
	kafka kafkaconn.Conn // cfg.KafkaSecurity, built
	// waiting is why Run is not working yet (natsconn.Until).
	waiting natsconn.Waiting

	// Set by Run; used by the goroutine that owns the windows.
	store    *swarmStore
	tlRead   *timeline.Reader // wire.TimelineStream
	swRead   *timeline.Reader // wire.SwarmsStream
	tlQueue  []tlItem         // swarms stored in the closing window, their records unwritten
	tlSent   []tlSent         // records sent, their acknowledgements awaited before the next window
	occ      *occupancy
	partials jetstream.Stream
	cons     jetstream.Consumer
	parts    int      // current partition count, 0 while unknown
	s        *session // nil before the first partial
	bound    *swarmBound
	// standby is set while this processor waits for the pin another holds
	// (said once in the log, and once more when it takes over).
	standby bool

	// beforePublish, if set, is called before each swarm is published
	// (a test hook: it may cancel Run's context).
	beforePublish func(*wire.Swarm)

	fatal struct {
		sync.Mutex
		err error
	}
}

// Ready reports whether the processor can publish: nil, or the fatal
// publish problem that stopped Run (a swarm over MaxSwarmBytes or a
// server's limit, ErrTooLarge).
func (p *Processor) Ready() error {
	if err := p.waiting.Err(); err != nil {
		return err
	}
	p.fatal.Lock()
	defer p.fatal.Unlock()
	return p.fatal.err
}

// nilIfDone is nil when ctx ended (a stop while waiting is no failure),
// else err.
func nilIfDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// tooLarge records a swarm that cannot be published, loudly: an error log,
// the publish_errors_total metric and Ready. Run stops with it, the
// window's partials unacknowledged, so nothing is lost: they are merged
// again once the limit is raised.
func (p *Processor) tooLarge(err error) error {
	p.met.publishErrors.WithLabelValues("too_large").Inc()
	p.log.Error("cannot publish a swarm; stopping", "err", err)
	p.fatal.Lock()
	defer p.fatal.Unlock()
	p.fatal.err = err
	return err
}

// session is the state of one stretch during which this processor holds
// the consumer's pin. It begins with the last swarms read back from the
// stream.
type session struct {
	pin     string
	m       *merger
	states  *stateCache
	lastMsg time.Time // wall time of the last partial received
	pending uint64    // partials not yet delivered, as of the last one
	// replaying is set while the session merges undelivered partials again.
	replaying bool
}

// New checks cfg and returns a processor.
func New(cfg Config) (*Processor, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	met, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	kc, err := cfg.KafkaSecurity.Build()
	if err := setting.First(ErrConfig, setting.Err("KafkaSecurity", nil, err)); err != nil {
		return nil, err
	}
	kc.Dial = cfg.KafkaDial
	p := &Processor{cfg: cfg, log: cfg.Logger.With("component", "processor"), met: met, parts: cfg.Partitions, kafka: kc,
		waiting: natsconn.Waiting{For: "processor: waiting for NATS and the streams"}}
	p.occ = newOccupancy(cfg.MaxEdges, cfg.MaxOccupancy, cfg.MaxEdgeViewers, cfg.Now, met)
	p.bound = newSwarmBound(cfg.MaxSwarmBytes, cfg.Moments)
	met.partitions.Set(float64(cfg.Partitions))
	return p, nil
}

// Run consumes partials and publishes swarms until ctx ends, then returns
// nil; it returns an error only if it cannot go on. Partials merged into
// windows not yet published are left unacknowledged, to be redelivered.
func (p *Processor) Run(ctx context.Context) error {
	if err := p.checkKafka(ctx); err != nil {
		return err
	}
	opts := append([]nats.Option{nats.Name("emostream-processor"),
		nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond)}, natsconn.StateLog(p.log, 0)...)
	opts = append(opts, p.cfg.NATSOptions...)
	var nc *nats.Conn
	err := natsconn.Until(ctx, p.log, "NATS at "+natsconn.Redact(p.cfg.NATSURL), natsconn.Permanent, p.waiting.Set,
		func(context.Context) (err error) {
			if nc, err = nats.Connect(p.cfg.NATSURL, opts...); err != nil {
				err = fmt.Errorf("processor: connecting to %s: %w", natsconn.Redact(p.cfg.NATSURL), natsconn.RedactError(err, p.cfg.NATSURL))
			}
			return err
		})
	if err != nil {
		return nilIfDone(ctx, err)
	}
	defer nc.Close()
	mp := nc.MaxPayload()
	if err := setting.First(ErrConfig, setting.Check("MaxSwarmBytes", p.cfg.MaxSwarmBytes, mp <= 0 || int64(p.cfg.MaxSwarmBytes+swarmHeaderBytes) <= mp,
		fmt.Sprintf("want at most the server's max_payload %d less %d for headers", mp, swarmHeaderBytes))); err != nil {
		return err
	}
	// The streams may not be reachable yet (JetStream starting, a hub
	// restarting): wait for them rather than exit.
	err = natsconn.Until(ctx, p.log, "the streams and the consumer", nil, p.waiting.Set,
		func(ctx context.Context) error { return p.open(ctx, nc) })
	if err != nil {
		return nilIfDone(ctx, err)
	}
	occ, err := nc.Subscribe(wire.ViewersSubjects, recovery.Func(p.log, panicOccupancy, p.occ.receive))
	if err != nil {
		return fmt.Errorf("processor: subscribing %s: %w", wire.ViewersSubjects, err)
	}
	defer occ.Unsubscribe()
	p.log.Info("processor started", "consumer", p.cfg.Consumer, "partitions", p.parts,
		"window", p.cfg.Window, "partition_wait", p.cfg.PartitionWait)
	err = p.run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// open ensures the streams and the consumer.
func (p *Processor) open(ctx context.Context, nc *nats.Conn) error {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	if err := streams.Ensure(ctx, js, p.cfg.Streams); err != nil {
		return err
	}
	swarms, err := js.Stream(ctx, wire.SwarmsStream)
	if err != nil {
		return fmt.Errorf("processor: opening %s: %w", wire.SwarmsStream, err)
	}
	p.store = &swarmStore{js: js, stream: swarms, maxBytes: p.cfg.MaxSwarmBytes}
	p.tlRead = timeline.NewReader(nc, wire.TimelineStream, 0)
	p.swRead = timeline.NewReader(nc, wire.SwarmsStream, 0)
	if p.partials, err = js.Stream(ctx, wire.PartialsStream); err != nil {
		return fmt.Errorf("processor: opening %s: %w", wire.PartialsStream, err)
	}
	p.cons, err = p.partials.CreateOrUpdateConsumer(ctx, p.consumerConfig())
	if err != nil {
		return fmt.Errorf("processor: creating consumer %s: %w", p.cfg.Consumer, err)
	}
	return nil
}

// run starts the consumer, the partition watcher and the window owner.
func (p *Processor) run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	msgs := make(chan jetstream.Msg, 256)
	counts := make(chan int)
	g.Go(func() error { return p.consume(ctx, msgs) })
	if p.cfg.Partitions == 0 {
		g.Go(func() error { p.watchPartitions(ctx, counts); return nil })
	}
	g.Go(func() error { return p.own(ctx, msgs, counts) })
	return g.Wait()
}

// own is the goroutine that owns the windows: it merges partials as they
// come and closes windows as they become due.
func (p *Processor) own(ctx context.Context, msgs <-chan jetstream.Msg, counts <-chan int) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if err := p.startIfIdle(ctx); err != nil {
			return err
		}
		p.arm(timer)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case n := <-counts:
			p.setPartitions(n)
		case msg := <-msgs:
			if err := p.receive(ctx, msg); err != nil {
				return err
			}
		case <-timer.C:
		}
		if err := p.closeDue(ctx); err != nil {
			return err
		}
	}
}

func (p *Processor) setPartitions(n int) {
	if n != p.parts {
		p.log.Info("partition count", "partitions", n)
	}
	p.parts = n
	p.met.partitions.Set(float64(n))
	if p.s != nil {
		p.s.m.partitions = n
	}
}

// arm sets timer to the next moment a window may close by deadline.
func (p *Processor) arm(timer *time.Timer) {
	d := time.Hour
	if p.s == nil {
		d = p.cfg.PinnedTTL / 2 // look again for a pin to take over
	} else if len(p.s.m.open) > 0 {
		now := p.cfg.Now()
		d = p.s.m.nextDue(now).Sub(now)
		if !p.live(now) {
			d = max(d, p.s.lastMsg.Add(p.stall()).Sub(now))
		}
	}
	if !timer.Stop() {
		select {
		case <-timer.C:
		default:
		}
	}
	timer.Reset(max(d, time.Millisecond))
}

// live reports whether the consumer has caught up with the stream (or has
// been silent long enough to be treated so): then the wall clock may close
// windows by deadline.
func (p *Processor) live(now time.Time) bool {
	return !p.s.replaying && (p.s.pending == 0 || now.Sub(p.s.lastMsg) >= p.stall())
}

func (p *Processor) stall() time.Duration { return max(p.cfg.PartitionWait, time.Second) }

// closeDue hands out due acknowledgements and closes, in order, every
// window that may close now.
func (p *Processor) closeDue(ctx context.Context) error {
	if p.s == nil {
		return nil
	}
	ackAll(p.s.m.takeAcks())
	for {
		now := p.cfg.Now()
		w, rule := p.s.m.next(now, p.live(now))
		p.met.openWindows.Set(float64(len(p.s.m.open)))
		p.met.openEntries.Set(float64(p.s.m.entries))
		if w == nil {
			return nil
		}
		if err := p.closeWindow(ctx, w, rule); err != nil {
			return err
		}
	}
}

func ackAll(acks []acker) {
	for _, a := range acks {
		_ = a.Ack() // a lost ack only means a redelivery, which is skipped
	}
}
