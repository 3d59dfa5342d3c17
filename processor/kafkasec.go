package processor

import (
	"context"
	"errors"
	"fmt"

	"github.com/emostream/emostream/internal/kafkaconn"
)

// checkKafka connects once to Kafka when the partition count is read from
// it over TLS or SASL, so that a broker refusing the processor's security
// stops Run at start with what to check. A broker that is down is only
// logged: the partition count is asked again.
func (p *Processor) checkKafka(ctx context.Context) error {
	if !p.kafka.Secure() || p.cfg.Partitions > 0 || len(p.cfg.KafkaBrokers) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, kafkaconn.DialTimeout)
	defer cancel()
	err := p.kafka.Check(ctx, p.cfg.KafkaBrokers, "emostream-processor")
	switch {
	case errors.Is(err, kafkaconn.ErrRefused):
		return fmt.Errorf("processor: %w", err)
	case err != nil:
		p.log.Warn("kafka not reachable yet", "security", p.kafka.String(), "err", err)
	}
	return nil
}
