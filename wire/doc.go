// Package wire holds what every EmoStream stage must agree on: the Event a
// viewer sends, the Record kept in Kafka, the Partial a bridge publishes per
// partition and window, the Swarm a processor broadcasts, the names of the
// topic, streams and subjects that carry them, their encodings both ways, the
// window arithmetic, and the table of errors a client sees (ClientErrors). It
// does no I/O, so producer and consumer can never disagree.
package wire
