package capacity

// Unit costs measured on the project's machine (2 vCPUs, AMD EPYC, shared),
// every stage in its own process on loopback, by
//
//	scripts/capacity-check.sh calibrate
//
// which runs the real binaries (emostream ingest, bridge, processor, hub,
// leaf, edge on a 1-node Apache Kafka 4.4 from scripts/kafka-cluster.sh)
// through an idle phase and two load phases (single events, then 50-event
// arrays), and reads each process's CPU time and VmRSS from /proc. A
// process's CPU is base (idle) plus the slopes below times its rates; the
// slopes are the load phases' CPU less the idle phase's over the rates
// measured in them. Figures of the calibration run of 2026-12-06 (the
// load average and the raw lines: docs/capacity.md, "Unit costs").
// CPU is in microseconds of one core per unit, memory in MiB per process.
const (
	// Ingest (emostream ingest, acks=all): per HTTP request and per event.
	IngestCPUPerRequestUS = 40.0
	IngestCPUPerEventUS   = 1.0
	IngestBaseCores       = 0.005
	IngestRSSMiB          = 60.0

	// Kafka (Apache Kafka 4.4, 1 node, the JVM): per produce request
	// (ingest sends one per partition per group commit) and per MB of
	// records produced (written once and fetched once by the bridge).
	KafkaCPUPerProduceUS = 100.0
	KafkaCPUPerMBUS      = 20000.0
	// KafkaRecordOverheadBytes is a record's bytes on the broker's disk
	// beyond its value and key (batch and record headers, per record).
	KafkaRecordOverheadBytes = 20.0
	KafkaBaseCores           = 0.02
	KafkaRSSMiB              = 400.0

	// Bridge: per event consumed, decoded, deduplicated and counted.
	BridgeCPUPerEventUS = 1.3
	BridgeBaseCores     = 0.003
	BridgeRSSMiB        = 60.0

	// Processor: per (partition × match) entry of a window's partials,
	// merged, with its share of storing the match's swarm and timeline.
	ProcessorCPUPerEntryUS = 100.0
	ProcessorBaseCores     = 0.003
	ProcessorRSSMiB        = 50.0

	// Hub (JetStream, sync always): per message stored (partials, swarms,
	// timeline records), with its deliveries to the processor and leaves.
	HubCPUPerMessageUS = 300.0
	HubBaseCores       = 0.01
	HubRSSMiB          = 60.0

	// Leaf: per swarm delivered to an edge.
	LeafCPUPerDeliveryUS = 30.0
	LeafBaseCores        = 0.003
	LeafRSSMiB           = 30.0

	// Edge: per swarm written to a viewer (on loopback the sender's write
	// also runs the receiver's TCP path: an upper bound for a NIC), and
	// RSS per viewer during broadcasts.
	EdgeCPUPerDeliveryUS = 14.0
	EdgeBaseCores        = 0.003
	EdgeRSSMiB           = 20.0
	EdgeRSSPerViewerKiB  = 2.4
	// KernelPerConnKiB is the kernel's memory per open viewer socket
	// (socket, file, TCP state in slab), outside any process's RSS.
	KernelPerConnKiB = 3.0
)
