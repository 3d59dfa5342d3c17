// Package processor reads the bridges' partials from the JetStream stream
// EMOSTREAM_PARTIALS (one per Kafka partition per window), merges the
// partials of every partition into one window, and publishes one swarm per
// match with activity to EMOSTREAM_SWARMS on emostream.swarm.<match>, which
// the stream republishes to viewers on emostream.live.<match>.
//
// A window closes when every partition has delivered its partial for it
// (closed_by "all_partitions") or at a deadline after its end ("deadline");
// windows close in order, and a partial that arrives after its window closed
// is folded into the next open window.
//
// Exactly once: each swarm carries, per Kafka partition, the next offset
// after the partials its match has counted (wire.Swarm.Offsets), and is
// published with the expected last sequence of its match's subject. On start
// and on taking over, the processor reads the last swarm of every match back
// and never publishes a window at or before it, nor counts a partial below
// its offsets, so recovery does not depend on the Nats-Msg-Id dedup window.
// Partials are acknowledged only after every swarm that used them is stored.
//
// Two processors may run at once: they share one durable consumer whose
// priority group pins it to one client; the other waits and takes over
// when the pin expires.
package processor
