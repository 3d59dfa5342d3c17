// Package fanout is the broadcast tier: embedded nats-servers that carry
// swarms from the processor to viewers.
//
// A Hub is the main publisher. It reads nothing itself: stages connect to its
// client port, and it holds JetStream (EMOSTREAM_SWARMS, which RePublishes
// each stored swarm to emostream.live.<match>). It writes, over leafnode
// connections, only emostream.live.> and the answers to viewers' stored
// reads (late join, gap recovery) to the leaf clusters.
//
// A Leaf is a cluster publisher. It reads from its hub (or a parent leaf)
// over a leafnode connection and writes to viewers over NATS WebSocket, or
// to edges on its client port. A viewer may subscribe to emostream.live.>
// and make two kinds of request, the JetStream direct gets of a match's
// last swarm (late join) and of its first stored swarm from a sequence on
// (gap recovery); it can publish nothing else. A leaf can itself accept
// leafnode connections (a leaf of a leaf).
//
// Watch is the viewer side: it subscribes to a match's live swarms, reads the
// latest stored one on join, and delivers them in window order without
// duplicates.
//
// Both servers load standard nats-server .conf files (so a stock nats-server
// can replace them), or build the same configuration from a Go config struct.
package fanout
