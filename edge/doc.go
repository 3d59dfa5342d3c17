// Package edge is the viewers' last hop: it terminates viewer WebSockets on
// an event loop (nbio) and speaks the NATS client protocol to them, so that
// unchanged NATS clients (nats.go over ws://, the web client's nats-core, the
// NATS CLI) watch matches through it. Behind it the edge is one ordinary NATS
// client of a leaf cluster (or of the hub): it reads every match's live
// swarms on one subscription, emostream.live.>, keeps the recent swarms of
// each match that has viewers here, and writes each swarm once framed to
// every viewer of the match. Viewers can only
// watch: they subscribe to live subjects and their own inboxes and ask for a
// match's latest or next stored swarm, which the edge answers from its cache
// (or, for older swarms, with a direct get upstream); everything else gets
// NATS's permissions error. Every few seconds the edge publishes how many
// viewers watch each match (wire.Occupancy).
package edge
