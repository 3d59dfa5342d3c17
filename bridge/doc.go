// Package bridge reads events from Kafka and publishes one partial count per
// partition per window to JetStream.
//
// A Kafka consumer group (wire.DefaultGroup) decides which bridge owns which
// partition. For each partition it owns, a bridge reads the last partial
// published on wire.PartialSubject(p) (a JetStream direct get) and resumes at
// its NextOffset; with none, it starts at the partition's first offset. It
// counts records per match and emoji in windows of receive time (the
// value's received_at, which wire.Record defines as the record's Kafka
// timestamp; a record without it is windowed by the time it is read) and
// publishes one wire.Partial per window, empty ones
// included while it is caught up: they are the heartbeat that lets the
// processor close a window early.
//
// A partial covers a contiguous offset range, and every record in that range
// is counted in it (or as bad or duplicate), so resuming at NextOffset never
// skips or repeats a record. Publishes carry the Nats-Msg-Id of the partial
// and expect the last sequence on the partition's subject, so a stale owner
// after a rebalance is fenced off: it stops, re-reads the stream and resumes
// from what was stored. Offsets are committed to the consumer group only after
// JetStream acknowledged the partial, and only for lag monitoring.
//
// A partial never exceeds Config.MaxPartialBytes: the bridge keeps an upper
// bound on the open partial's encoding, and a new (match, emoji) key that
// would pass it splits the window into several partials of the same window,
// each with its own offset range, all but the last marked More. A partial
// that still cannot be published (ErrTooLarge) stops its partition loudly:
// an error, publish_errors_total{reason="too_large"} and Ready.
//
// Event-id dedup keeps a set per partition of events identified by
// (user_id, match_id, event_id), each remembered for a horizon of receive
// time that no other client's load shortens, within a memory budget and a
// cap per user_id (dedup.go; past them new ids are counted, not
// remembered). When a bridge takes a partition over, it rebuilds the set by
// re-reading the horizon's records before the resume offset, so a retried
// event is counted once across restarts as long as it repeats within the
// horizon.
package bridge
