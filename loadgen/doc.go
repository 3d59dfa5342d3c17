// Package loadgen drives EmoStream's ingest API the way a crowd of viewers
// would: it POSTs emoji events to /v1/emojis over many HTTP connections, at a
// paced or unlimited rate, for a bounded number of events or time, and reports
// how many were accepted or rejected (by HTTP status) and the latency
// distribution of the requests.
//
// It reads nothing of the pipeline but the ingest replies; it writes the load
// that enters the pipeline. It is the engine of "emostream loadgen" and of the
// end-to-end benchmark. The package also holds Ceiling, a bare HTTP server
// that answers every request with 202, which is the throughput ceiling that
// ingest is compared against.
//
// The hot loop builds request bodies with append into reused buffers and
// records latencies in a fixed-size log-bucketed Histogram, so the generator
// itself stays cheap next to the server it measures.
package loadgen
