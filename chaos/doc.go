// Package chaos is EmoStream's fault harness. Its tests run every stage as
// its own OS process of the real emostream binary on loopback (the Kafka
// broker, the NATS hub, one leaf, ingest, bridge and processor), drive load
// in which every event has a unique event_id and every request is recorded
// as acked, rejected or unknown, inject faults (kill -9 and restart,
// SIGSTOP/SIGCONT, a truncated Kafka log), and then account for every event
// against the swarms stored in EMOSTREAM_SWARMS and those WebSocket viewers
// were shown: a fanout.Watcher per match (late join, live swarms, gap
// recovery), started before the match's first request. After the load each
// match gets one tail event (an emoji no other request sends), so that, as
// in a match that goes on, its last window comes after the faults and a
// viewer's gap rule has a live window to notice what it missed.
//
// "go test ./chaos" runs the short version (one seeded sequence of faults
// across all stages, and the truncated-log check); "go test -tags chaos
// ./chaos" adds the long runs: each fault alone, with several seeds; and
// the same on a hub cluster (hacluster_test.go: three `emostream hub -c
// deploy/hub-N.conf` members, a two-server leaf cluster, kill -9 of the
// meta or a stream leader or a leaf server) and across network namespaces
// (netns_test.go: the leaf cluster in a namespace of its own, cut off the
// hub and healed). See docs/reliability.md for the method and the figures.
package chaos
