package processor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// errNoTopic means the brokers do not know the topic (yet).
var errNoTopic = errors.New("processor: topic has no partitions")

// partitionCount asks the first broker that answers how many partitions
// topic has.
func partitionCount(ctx context.Context, d *kafka.Dialer, brokers []string, topic string) (int, error) {
	var err error
	for _, b := range brokers {
		var n int
		if n, err = countAt(ctx, d, b, topic); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("reading the partition count of %s: %w", topic, err)
}

func countAt(ctx context.Context, d *kafka.Dialer, broker, topic string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", broker)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	ps, err := conn.ReadPartitions(topic)
	if err == nil && len(ps) == 0 {
		err = errNoTopic
	}
	return len(ps), err
}

// watchPartitions sends the partition count to out now and after every
// refresh interval, until ctx ends. Failures are logged and retried
// within a second.
func (p *Processor) watchPartitions(ctx context.Context, out chan<- int) {
	for {
		next := p.cfg.PartitionRefresh
		n, err := partitionCount(ctx, p.kafka.Dialer("emostream-processor"), p.cfg.KafkaBrokers, p.cfg.Topic)
		if err != nil {
			p.log.Warn("partition count", "err", p.kafka.Explain(err))
			next = min(next, time.Second)
		} else {
			select {
			case out <- n:
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-time.After(next):
		case <-ctx.Done():
			return
		}
	}
}
