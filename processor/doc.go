// Package processor reads the bridges' partials from the JetStream stream
// EMOSTREAM_PARTIALS (one per Kafka partition per window), merges the
// partials of every partition into one window, and publishes one swarm per
// match with activity to EMOSTREAM_SWARMS on emostream.swarm.<match>, which
// the stream republishes to viewers on emostream.live.<match>.
//
// A window closes when every partition has delivered its partial for it
// (closed_by "all_partitions"; a bridge that split a window into several
// partials delivered it with the one without More) or at a deadline after
// its end ("deadline"); windows close in order, and a partial that arrives
// after its window closed is folded into the next open window. At most
// Config.MaxOpenWindows are open: past it the earliest closes at once.
//
// Exactly once: each swarm carries, per Kafka partition, the stream sequence
// of the last partial its match has counted (wire.Swarm.Partials), and is
// published with the expected last sequence of its match's subject. When a
// window first needs a match in a session (after a start or a takeover),
// the processor reads the match's last swarm back, into a cache of at most
// Config.MaxMatchStates, and never publishes a window at or before it, nor
// counts a partial it counted, so recovery does not depend on the
// Nats-Msg-Id dedup window. A swarm over Config.MaxSwarmBytes stops Run with
// ErrTooLarge (and Ready reports it) rather than being retried forever.
// Partials are acknowledged only after every swarm that used them is stored.
//
// Two processors may run at once: they share one durable consumer whose
// priority group pins it to one client; the other waits and takes over
// when the pin expires.
package processor
