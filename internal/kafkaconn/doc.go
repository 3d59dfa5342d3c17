// Package kafkaconn holds how ingest, bridge and processor reach Kafka
// securely: the TLS and SASL options they share (Security), validated and
// loaded once into the pieces segmentio/kafka-go takes (Conn: a *tls.Config
// and a sasl.Mechanism on a kafka.Transport for ingest's producer, on a
// kafka.Dialer for the bridge's consumer group and the processor's
// partition count). It reads certificate and password files, nothing from
// Kafka but the one connection of Conn.Check, and the topic administration
// of "emostream topic" (topics.go: describe, create, add partitions over
// the admin protocol, for a cluster without Kafka's own tools).
package kafkaconn
