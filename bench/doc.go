// Package bench measures EmoStream end to end on one machine: it drives the
// ingest API with loadgen while WebSocket viewers (in this process or in
// child processes) receive the swarms, and it reports ingest throughput and
// HTTP latency, window delivery lag (window end to viewer receipt),
// event-to-screen latency (a request's 202 to the viewers' receipt of the
// swarm of the window the 202 named), swarm correctness (viewers' totals
// against accepted events, each window once) and CPU and memory. In the same
// run it measures two ceilings with the same load, loadgen.Ceiling (a bare
// 202 handler) and a null pipeline (decode and publish to NATS core), and
// states the pipeline's throughput as ratios to them.
//
// It reads the ingest API's 202 replies and the emostream.live.> swarms; it
// writes report.json, report.md and SVG plots ("emostream bench --out").
package bench
