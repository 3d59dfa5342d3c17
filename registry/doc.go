// Package registry is the match registry: which matches exist, and which of
// them are live. It keeps them in the JetStream key-value bucket
// wire.MatchesBucket on the hub (replicated with the hub's streams), so every
// ingest instance and operator shares one store. Operators write it with
// "emostream match" or ingest's admin API; ingest keeps a copy current
// (Registry.Run), never reading it once per request, and admits reactions
// only to live matches (Registry.Admit). A registry of Bind follows the
// bucket's stream with batch direct gets and creates no consumer
// (follow.go); one of Open watches it with an ordered consumer (watch.go).
//
// Operator-created and auto-admitted matches have bounds of their own
// (Config.MaxMatches, Config.AutoMatches), exact with any number of writing
// processes (create.go); auto-admitted matches end when idle and are
// removed after a retention (auto.go). Each revision of the watched copy is
// an immutable Snapshot (snapshot.go), which GET /v1/matches encodes once.
package registry
