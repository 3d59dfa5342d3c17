package testenv

import (
	"crypto/tls"
	"testing"

	"github.com/emostream/emostream/internal/broker"
	"github.com/emostream/emostream/wire"
)

// KafkaSecurity is what a secured test broker requires of its clients.
type KafkaSecurity struct {
	// TLS is the broker's server configuration (Certs.ServerTLS); nil
	// means plaintext.
	TLS *tls.Config
	// Users turns SASL on: only they may connect.
	Users []broker.User
}

// StartSecureKafka is StartKafka with TLS and SASL as sec says; Stop and
// Start keep them.
func StartSecureKafka(t testing.TB, partitions int32, sec KafkaSecurity) *Kafka {
	t.Helper()
	if partitions == 0 {
		partitions = wire.DefaultPartitions
	}
	k := &Kafka{DataDir: t.TempDir(), Topic: wire.DefaultTopic, Partitions: partitions, t: t, addr: "127.0.0.1:0", sec: sec}
	k.start()
	return k
}
