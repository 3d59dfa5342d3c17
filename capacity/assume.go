package capacity

import "time"

// What the plan assumes, apart from the measured unit costs (units.go).
// Each is a choice or a published figure, not a measurement of this code.
const (
	// Window is the counting window (wire.DefaultWindow): every viewer of
	// a match gets one swarm per window, 0.5 a second.
	Window = 2 * time.Second
	// TargetUtil is the share of a machine's CPU, memory and network a
	// scaled-out tier is planned to use at peak: the rest absorbs a lost
	// machine or zone, bursts within a second and the load's error.
	TargetUtil = 0.6
	// ReplicationFactor of the events topic in production (and
	// min.insync.replicas 2, acks=all: docs/operations.md).
	ReplicationFactor = 3
	// PartitionBytesPerSec is the produce rate planned per partition:
	// Kafka's sizing guidance is "a single partition can sustain on the
	// order of 10 MB/s of produce throughput" (Confluent, "How to choose
	// the number of topics/partitions in a Kafka cluster?", J. Rao).
	PartitionBytesPerSec = 10e6
	// MaxPartitionsPerBroker is the same guidance's bound on partition
	// replicas per broker (2,000 to 4,000; KRaft raised the cluster-wide
	// limit, not the per-broker one).
	MaxPartitionsPerBroker = 4000
	// EdgeBroadcastBudget is the time an edge may take to write one swarm to
	// all its viewers, spread over its CPUs: a swarm must reach viewers
	// within 0.5 s of its window's end (docs/design.md), of which the
	// processor and the NATS hops take the first ~0.3 s.
	EdgeBroadcastBudget = 200 * time.Millisecond
	// ProcessorWindowBudget is the CPU time the one active processor may
	// spend on a window (merging its partials, storing its swarms and
	// timeline records) for the swarms to leave within the same budget.
	ProcessorWindowBudget = 200 * time.Millisecond
	// ProduceRTT is a produce request's round trip at acks=all to a
	// 3-broker cluster in one region: ingest's group commit sends a
	// partition's next produce when the previous one is acknowledged, so
	// under load each ingest machine sends about one produce per partition
	// per ProduceRTT (fewer, larger ones when it is longer: the shorter
	// figure is the costlier for the brokers).
	ProduceRTT = 3 * time.Millisecond
	// EdgeMaxConnections is an edge's --max-connections default
	// (edge.DefaultMaxConnections, kept equal by a test).
	EdgeMaxConnections = 100_000
	// Fixed counts: a 3-member hub cluster (R3 streams), an active and a
	// hot-standby processor, 2 servers per leaf cluster, and at least 2
	// ingest and bridge machines and 3 brokers (RF 3).
	HubMembers            = 3
	Processors            = 2
	LeafServersPerCluster = 2
	MinIngest             = 2
	MinBridges            = 2
	MinBrokers            = 3
	// UserRate is the most reactions a second one viewer sends at peak:
	// ingest's per-user rate limit (ingest.DefaultUserRate, --user-rate,
	// kept equal by a test). A load of more reactions than its viewers
	// may send is refused.
	UserRate = 20
	// Emojis is the allow-list's size (wire.DefaultEmojis): a busy match's
	// window counts every one.
	Emojis = 12
	// RequestHeaderBytes is a browser POST's request line and headers with
	// a bearer token (JWT of ~300 bytes), and the 202's status line,
	// headers and body: what an ingest request costs on the wire beyond
	// its events. An estimate, not measured.
	RequestHeaderBytes = 700
	// EventBodyBytes is one event of a request body, a browser's:
	// {"user_id":"<uuid>","match_id":"final-2026","emoji_type":"🔥","event_id":"<32 hex>"}.
	EventBodyBytes = 130
	// PeakHoursKept is how many hours of peak traffic the brokers' disks
	// hold (retention sized for a match day's busiest stretch).
	PeakHoursKept = 6
	// HubStoreGiB is each hub member's JetStream volume (swarms kept 24 h,
	// partials, the registry): small, sized generously.
	HubStoreGiB = 100
)

// Machine is a cloud instance type and its on-demand list price.
type Machine struct {
	Name    string
	VCPU    int
	MemGiB  float64
	NetGbps float64 // baseline bandwidth, not the burst
	PerHour float64 // USD
}

// Prices are AWS EC2 on-demand, US East (N. Virginia), Linux, as listed on
// https://aws.amazon.com/ec2/pricing/on-demand/ in 2025 (the author's last
// reading; not fetched live: check before buying). c7a/m7a are AMD EPYC
// (4th generation), one vCPU a physical core, like for like with the
// machine the unit costs were measured on (AMD EPYC, 2 vCPUs under
// Firecracker).
var (
	C7aXLarge  = Machine{"c7a.xlarge", 4, 8, 1.5625, 0.20527}
	C7a2XLarge = Machine{"c7a.2xlarge", 8, 16, 3.125, 0.41054}
	M7aXLarge  = Machine{"m7a.xlarge", 4, 16, 1.5625, 0.23184}
	M7a2XLarge = Machine{"m7a.2xlarge", 8, 32, 3.125, 0.46368}
)

// Other list prices (same source and date).
const (
	// EgressPerGB is internet data transfer out beyond 150 TB a month, the
	// lowest published tier (the first 10 TB cost $0.09/GB); a CDN or a
	// committed-use contract changes it most of all.
	EgressPerGB = 0.05
	// GP3PerGBMonth is EBS gp3 storage; a month is 730 hours.
	GP3PerGBMonth = 0.08
	HoursPerMonth = 730
)

// Machines per tier.
var (
	IngestMachine    = C7a2XLarge
	BrokerMachine    = M7a2XLarge // page cache for the consumers' reads
	BridgeMachine    = C7aXLarge
	ProcessorMachine = C7aXLarge
	HubMachine       = M7aXLarge
	LeafMachine      = C7aXLarge
	EdgeMachine      = C7a2XLarge // 8 vCPUs: a broadcast to 100,000 viewers within EdgeBroadcastBudget
)
