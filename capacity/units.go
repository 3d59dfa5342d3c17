package capacity

// Unit costs measured on the project's machine (2 vCPUs, AMD EPYC, shared),
// every stage in its own process on loopback, by two runs of
//
//	scripts/capacity-check.sh calibrate                                        # run 1
//	PARTITIONS=2 PHASES="1:500 1:2500 50:30000" scripts/capacity-check.sh calibrate   # run 2
//
// on 2026-12-06 (23:41–23:51 UTC, load average 1.4–5.8: the raw lines and
// the fits are in docs/capacity.md, "Unit costs"). Each run starts the real
// binaries (emostream ingest, bridge, processor, hub, leaf, edge) on a
// 1-node Apache Kafka 4.4 (scripts/kafka-cluster.sh), holds 20,000 viewers
// on 2 edges, and reads each process's CPU time and VmRSS from /proc over
// 30 s of each phase: idle (viewers held, no reactions), then loadgen at a
// fixed rate and batch. A process's CPU under load is its active cores
// (what it spends as soon as records flow: fetch and flush loops, timers)
// plus slopes times its rates; both come from a least-squares fit over the
// six load phases of the two runs (scripts/capacity-fit.awk prints one
// run's). CPU is in microseconds of one core per unit, memory in MiB per
// process. Where a run could not tell a cost apart (the rates did not vary,
// or stayed below one clock tick, 10 ms, over 30 s) the figure is an upper
// bound and says so.
const (
	// Ingest (emostream ingest, acks=all): active cores, per HTTP request
	// and per event. Per request includes its produce: in these runs 1.1 to
	// 1.3 requests shared a produce request (group commit at ~1.5 ms a
	// round trip); at scale more share one, so the figure is an upper
	// bound. Fit within ±9% of all six phases.
	IngestActiveCores     = 0.093
	IngestCPUPerRequestUS = 75.7
	IngestCPUPerEventUS   = 0.35
	IngestRSSMiB          = 37.0

	// Kafka (Apache Kafka 4.4, 1 node, the JVM, 384 MiB heap): active
	// cores, per produce request and per MB of records (written once,
	// fetched once by the bridge). Fit over the four load phases after the
	// JVM's JIT had settled (the first load phase of each run cost 0.05 to
	// 0.1 cores more), within ±6%.
	KafkaActiveCores     = 0.075
	KafkaCPUPerProduceUS = 196.0
	KafkaCPUPerMBUS      = 7700.0
	KafkaRSSMiB          = 520.0
	// KafkaRecordOverheadBytes is a record's bytes on the broker's disk
	// beyond its value, its key and its share of the batch header: 133.0
	// bytes a record at 53 to 58 records a batch for 123-byte loadgen
	// records (value and key), 138.8 at 11 a batch.
	KafkaRecordOverheadBytes = 9.0
	// KafkaBatchOverheadBytes is a record batch's header (Kafka's message
	// format v2: 61 bytes), shared by the records of one produce.
	KafkaBatchOverheadBytes = 61.0

	// Bridge: active cores, per record batch fetched (one per produce
	// request per partition) and per event decoded, deduplicated and
	// counted. Fit within ±6% of all six phases.
	BridgeActiveCores   = 0.033
	BridgeCPUPerBatchUS = 61.0
	BridgeCPUPerEventUS = 0.56
	BridgeRSSMiB        = 44.0

	// Processor: idle cores and, per (partition × match) entry of a
	// window's partials, the merge and its share of storing the match's
	// swarm and timeline records. Upper bound: run 1's load phases less its
	// idle phase, all laid on its 16 entries a second.
	ProcessorBaseCores     = 0.001
	ProcessorCPUPerEntryUS = 42.0
	ProcessorRSSMiB        = 30.0

	// Hub (JetStream, sync always): idle cores and, per message stored
	// (partials, swarms, timeline records) or swarm forwarded to a leaf
	// server. Upper bound, as the processor's: run 1, 10 messages a second.
	HubBaseCores       = 0.005
	HubCPUPerMessageUS = 110.0
	HubRSSMiB          = 40.0

	// Leaf: idle cores and, per swarm delivered to an edge, a bound: its
	// load phases did not differ from its idle phase by one clock tick (4
	// deliveries a second over 30 s: under 75 µs each).
	LeafBaseCores        = 0.001
	LeafCPUPerDeliveryUS = 75.0
	LeafRSSMiB           = 30.0

	// Edge: idle cores, per swarm written to a viewer (9.2 to 9.6 µs in
	// the six phases: on loopback the sender's write also runs the
	// receiver's TCP path, so an upper bound for a NIC), RSS per process
	// before viewers and per viewer while swarms flow.
	EdgeBaseCores        = 0.008
	EdgeCPUPerDeliveryUS = 9.3
	EdgeRSSMiB           = 26.0
	EdgeRSSPerViewerKiB  = 3.3
	// KernelPerConnKiB is the kernel's slab memory per open socket (the
	// machine's Slab with 20,000 viewers held against before, over their
	// 40,000 sockets: 5.1 KiB), outside any process's RSS.
	KernelPerConnKiB = 5.1
)
