package processor

import (
	"testing"

	"github.com/emostream/emostream/internal/streams"
	"github.com/emostream/emostream/internal/testenv"
)

// BenchmarkDeliveryLagCluster is BenchmarkDeliveryLag on a 3-server
// JetStream cluster (fsync on every write), the streams at 1 and at 3
// replicas: the latency cost of replication on a hub cluster. Run with
// -benchtime=40x.
func BenchmarkDeliveryLagCluster(b *testing.B) {
	for _, r := range []int{1, 3} {
		b.Run(map[int]string{1: "R1", 3: "R3"}[r], func(b *testing.B) {
			benchDeliveryLag(b, testenv.StartNATSCluster(b, 3), streams.Config{Replicas: r})
		})
	}
}
