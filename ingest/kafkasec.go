package ingest

import (
	"context"
	"errors"

	"github.com/emostream/emostream/internal/kafkaconn"
)

// why returns err, a failed probe of Kafka, or, when Kafka is secured and
// refuses the producer's TLS or SASL, that refusal with what to check:
// kafka-go's Transport reports a refused SASL exchange as a bare EOF, so
// /readyz would not say why.
func (p *producer) why(ctx context.Context, err error) error {
	if err == nil || !p.cfg.kafka.Secure() {
		return err
	}
	if cerr := p.cfg.kafka.Check(ctx, p.cfg.KafkaBrokers, "emostream-ingest"); errors.Is(cerr, kafkaconn.ErrRefused) {
		return cerr
	}
	return err
}
