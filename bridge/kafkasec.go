package bridge

import (
	"context"
	"errors"
	"fmt"

	"github.com/emostream/emostream/internal/kafkaconn"
)

// checkKafka connects once to Kafka when it is secured, so that a broker
// refusing the bridge's TLS or SASL stops Run at start with what to check,
// instead of a consumer group retrying forever. A broker that is down is
// only logged: the group retries it.
func (b *Bridge) checkKafka(ctx context.Context) error {
	if !b.kafka.Secure() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, kafkaconn.DialTimeout)
	defer cancel()
	err := b.kafka.Check(ctx, b.cfg.KafkaBrokers, "emostream-bridge")
	switch {
	case errors.Is(err, kafkaconn.ErrRefused):
		return fmt.Errorf("bridge: %w", err)
	case err != nil:
		b.log.Warn("kafka not reachable yet", "security", b.kafka.String(), "err", err)
	default:
		b.log.Info("kafka reachable", "brokers", b.cfg.KafkaBrokers, "security", b.kafka.String())
	}
	return nil
}
