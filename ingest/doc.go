// Package ingest is the first stage of EmoStream: it reads viewers' emoji
// reactions from HTTP (POST /v1/emojis, on gofiber/fiber), validates them with
// the wire package's strict decoder, rate-limits them per user and per client
// IP, and writes them to the Kafka topic emostream.events with
// segmentio/kafka-go, one record per event keyed by user_id and stamped with
// the server's receive time. It also serves the browser client, its
// configuration, health, readiness and Prometheus metrics.
//
// The producer batches by group commit: each partition has at most one
// produce in flight while load is low, and the events that arrive meanwhile
// go out together in the next one, so batches grow with load while latency
// stays at one round trip. All events of one request go to one partition in
// one produce request, which Kafka appends atomically: a request is stored
// whole or not at all.
package ingest
