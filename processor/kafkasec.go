package processor

import (
	"context"
	"fmt"
)

// checkKafka connects once to Kafka when the partition count is read from
// it over TLS or SASL, so that a broker refusing the processor's security
// stops Run at start with what to check. A broker that is down is only
// logged: the partition count is asked again.
func (p *Processor) checkKafka(ctx context.Context) error {
	if p.cfg.Partitions > 0 || len(p.cfg.KafkaBrokers) == 0 {
		return nil
	}
	if err := p.kafka.CheckAtStart(ctx, p.cfg.KafkaBrokers, "emostream-processor", p.log); err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	return nil
}
