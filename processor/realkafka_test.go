package processor

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
	"github.com/emostream/emostream/wire"
)

// realKafka is this test binary's Apache Kafka cluster: 3 KRaft nodes,
// started by the first test that needs it.
var realKafka = testenv.NewSharedRealKafka(3)

func TestMain(m *testing.M) { os.Exit(realKafka.Main(m)) }

// The processor learns the partition count from each broker's metadata
// (on the real cluster, any of three nodes may answer) and closes every
// window as soon as all partitions' partials arrived: exact sums, each
// window once.
func TestOnEachKafkaSwarmsSumToPartials(t *testing.T) {
	testenv.OnEachKafka(t, realKafka, 3, func(t *testing.T, k testenv.KafkaTarget) {
		r := newRig(t, 3, streams.Config{})
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 10 {
			r.window(rng, pastWindow(i), winMs)
		}
		r.processor(Config{KafkaBrokers: k.Brokers, Topic: k.Topic})
		r.exact(timeout)
		for i := range 5 {
			r.window(rng, pastWindow(10+i), winMs)
		}
		r.exact(timeout)
		for i := range 15 {
			sw := r.viewer.swarm("m1", pastWindow(i))
			if sw == nil || sw.ClosedBy != wire.ClosedByAllPartitions || sw.Partitions != 3 || sw.Late != 0 {
				r.dump(t, 15)
				t.Fatalf("window %d: %+v, want closed by all 3 partitions", i, sw)
			}
		}
	})
}
