package bridge

import (
	"context"
	"fmt"
)

// checkKafka connects once to Kafka when it is secured, so that a broker
// refusing the bridge's TLS or SASL stops Run at start with what to check,
// instead of a consumer group retrying forever. A broker that is down is
// only logged: the group retries it.
func (b *Bridge) checkKafka(ctx context.Context) error {
	if err := b.kafka.CheckAtStart(ctx, b.cfg.KafkaBrokers, clientID, b.log); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	return nil
}
