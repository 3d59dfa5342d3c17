package capacity

import (
	"cmp"
	"slices"
)

// Deployment is how many machines each tier has, and the topic's
// partitions. Leaf clusters and edges are per region.
type Deployment struct {
	Ingest, Brokers, Bridges, Processors, HubMembers int
	LeafClusters, Edges                              int // per region
	Regions, Partitions                              int
	// RF is the events topic's replication factor.
	RF int
}

// Use is how full one tier is: its busiest resource under a load, as a
// share of what its machines (or, for the processor, its window budget)
// hold. 1 is full; a plan keeps every scaled-out tier at TargetUtil.
type Use struct {
	Tier     string
	Machines int // in all regions
	Resource string
	Util     float64
}

// need is one resource of a tier: the demand on the whole tier (per region
// for leaves and edges) and what one machine holds, in the same unit. A
// shared need is carried whole by every machine (the hub's members each
// store every message; the one active processor merges every partial).
type need struct {
	resource    string
	demand, per float64
	shared      bool
	// fixed is what each machine spends of the resource however little
	// load it takes (a stage's active cores).
	fixed float64
}

// rates are the flows a load and a deployment imply.
type rates struct {
	requests, events float64 // per second, at ingest
	produces         float64 // produce requests a second, to the partitions' leaders
	kafkaBytes       float64 // records produced, bytes a second
	viewersPerRegion float64
	viewersPerEdge   float64
	matchesPerEdge   float64 // matches an edge receives: every live one (one upstream subscription)
	storedPerSec     float64 // hub: partials, swarms and timeline records
	leafDeliveries   float64 // swarms a region's leaves write to its edges, a second
	hubForwards      float64 // swarms the hub writes to leaf servers, a second
	frameBytes       float64 // one swarm to one viewer, on the wire
	processorEntries float64 // partition × match entries a window
}

func flows(l Load, d Deployment) rates {
	w := Window.Seconds()
	r := rates{requests: l.Reactions / l.Batch, events: l.Reactions}
	r.produces = min(r.requests, float64(max(d.Ingest, 1)*d.Partitions)/ProduceRTT.Seconds())
	r.kafkaBytes = r.events * RecordBytes(r.events/max(r.produces, 1))
	r.viewersPerRegion = l.Viewers / float64(l.Regions)
	r.viewersPerEdge = r.viewersPerRegion / float64(max(d.Edges, 1))
	r.matchesPerEdge = float64(l.Matches)
	p, m := float64(d.Partitions), float64(l.Matches)
	r.storedPerSec = (p + 2*m) / w
	r.leafDeliveries = float64(d.Edges) * r.matchesPerEdge / w
	r.hubForwards = m * float64(d.Regions*d.LeafClusters*LeafServersPerCluster) / w
	r.frameBytes = WireBytes(FrameBytes(d.Partitions, l.videoWindows()))
	r.processorEntries = p * m
	return r
}

// us is microseconds in seconds.
const us = 1e-6

// tierRule sizes one tier: its machine, its least count, whether its
// count is per region, and its needs under a load and a deployment.
type tierRule struct {
	name      string
	machine   Machine
	least     int
	fixed     bool // a fixed count: not scaled by the needs
	perRegion bool
	count     func(*Deployment) *int
	needs     func(r rates, l Load, d Deployment) []need
}

var tiers = []tierRule{
	{"ingest", IngestMachine, MinIngest, false, false, func(d *Deployment) *int { return &d.Ingest }, ingestNeeds},
	{"kafka brokers", BrokerMachine, MinBrokers, false, false, func(d *Deployment) *int { return &d.Brokers }, brokerNeeds},
	{"bridge", BridgeMachine, MinBridges, false, false, func(d *Deployment) *int { return &d.Bridges }, bridgeNeeds},
	{"processor", ProcessorMachine, Processors, true, false, func(d *Deployment) *int { return &d.Processors }, processorNeeds},
	{"hub cluster", HubMachine, HubMembers, true, false, func(d *Deployment) *int { return &d.HubMembers }, hubNeeds},
	{"leaf clusters", LeafMachine, 1, false, true, func(d *Deployment) *int { return &d.LeafClusters }, leafNeeds},
	{"edges", EdgeMachine, 1, false, true, func(d *Deployment) *int { return &d.Edges }, edgeNeeds},
}

func cpu(m Machine) float64 { return float64(m.VCPU) }

// netBytes is a machine's baseline bandwidth in bytes a second.
func netBytes(m Machine) float64 { return m.NetGbps * 1e9 / 8 }

func ingestNeeds(r rates, _ Load, _ Deployment) []need {
	return []need{{resource: "CPU", demand: (r.requests*IngestCPUPerRequestUS + r.events*IngestCPUPerEventUS) * us, per: cpu(IngestMachine), fixed: IngestActiveCores}}
}

func brokerNeeds(r rates, _ Load, d Deployment) []need {
	rf := float64(d.RF)
	return []need{
		{resource: "CPU", demand: (r.produces*KafkaCPUPerProduceUS + rf*r.kafkaBytes/1e6*KafkaCPUPerMBUS) * us, per: cpu(BrokerMachine), fixed: KafkaActiveCores},
		{resource: "network", demand: rf * r.kafkaBytes, per: netBytes(BrokerMachine)},
		{resource: "disk throughput", demand: rf * r.kafkaBytes, per: GP3BytesPerSec},
		{resource: "partitions", demand: float64(d.Partitions) * rf, per: MaxPartitionsPerBroker / TargetUtil},
	}
}

func bridgeNeeds(r rates, _ Load, _ Deployment) []need {
	return []need{{resource: "CPU", demand: (r.produces*BridgeCPUPerBatchUS + r.events*BridgeCPUPerEventUS) * us, per: cpu(BridgeMachine), fixed: BridgeActiveCores}}
}

func processorNeeds(r rates, _ Load, _ Deployment) []need {
	return []need{{resource: "window time", demand: r.processorEntries * ProcessorCPUPerEntryUS * us, per: ProcessorWindowBudget.Seconds(), shared: true}}
}

func hubNeeds(r rates, _ Load, _ Deployment) []need {
	msgs := r.storedPerSec + r.hubForwards
	return []need{{resource: "CPU", demand: msgs * HubCPUPerMessageUS * us, per: cpu(HubMachine), shared: true, fixed: HubBaseCores}}
}

func leafNeeds(r rates, _ Load, _ Deployment) []need {
	return []need{{resource: "CPU", demand: r.leafDeliveries * LeafCPUPerDeliveryUS * us, per: LeafServersPerCluster * cpu(LeafMachine), fixed: LeafServersPerCluster * LeafBaseCores}}
}

func edgeNeeds(r rates, _ Load, _ Deployment) []need {
	v, w := r.viewersPerRegion, Window.Seconds()
	mem := float64(EdgeMachine.MemGiB) * 1024 * 1024
	return []need{
		{resource: "CPU", demand: v / w * EdgeCPUPerDeliveryUS * us, per: cpu(EdgeMachine), fixed: EdgeBaseCores},
		{resource: "broadcast time", demand: v * EdgeCPUPerDeliveryUS * us / cpu(EdgeMachine), per: EdgeBroadcastBudget.Seconds()},
		{resource: "memory", demand: v * (EdgeRSSPerViewerKiB + KernelPerConnKiB), per: mem, fixed: EdgeRSSMiB * 1024},
		{resource: "connections", demand: v, per: EdgeMaxConnections},
		{resource: "network", demand: v / w * r.frameBytes, per: netBytes(EdgeMachine)},
	}
}

// GP3BytesPerSec is a gp3 volume's baseline throughput (125 MB/s; more is
// bought per MB/s, not assumed here).
const GP3BytesPerSec = 125e6

// use is how full n machines of a tier are under its needs.
func (t tierRule) use(needs []need, n, regions int) Use {
	u := Use{Tier: t.name, Machines: n}
	if t.perRegion {
		u.Machines = n * regions
	}
	if t.name == "leaf clusters" {
		u.Machines *= LeafServersPerCluster
	}
	for _, nd := range needs {
		load := nd.demand
		if !nd.shared {
			load /= float64(max(n, 1))
		}
		util := (load + nd.fixed) / nd.per
		if util > u.Util || u.Resource == "" {
			u.Resource, u.Util = nd.resource, util
		}
	}
	return u
}

// size is the least count of a scaled-out tier that keeps every need at
// TargetUtil.
func (t tierRule) size(needs []need) int {
	n := t.least
	if t.fixed {
		return n
	}
	for _, nd := range needs {
		room := nd.per*TargetUtil - nd.fixed
		if room <= 0 { // a machine is full before any load: the least count it is
			continue
		}
		n = max(n, ceilDiv(nd.demand, room))
	}
	return n
}

// Size plans the deployment of a load: each scaled-out tier at the least
// count that keeps it at TargetUtil, the fixed ones at their counts. The
// tiers depend on each other (the partitions on the brokers and bridges,
// the produce requests on the ingest machines and partitions, the frames
// on the partitions, the leaves on the edges), so the counts are worked
// out again until none changes. A count only grows: worked out afresh
// each time, the brokers, bridges and partitions of some loads went round
// a cycle and the last round left a tier over TargetUtil.
func Size(l Load) (Deployment, error) {
	l, err := l.withDefaults()
	if err != nil {
		return Deployment{}, err
	}
	d := Deployment{Regions: l.Regions, RF: ReplicationFactor, Partitions: 1}
	for range 20 {
		before := d
		for _, t := range tiers {
			n := t.count(&d)
			*n = max(*n, t.size(t.needs(flows(l, d), l, d)))
		}
		d.Partitions = partitions(l, d)
		if d == before {
			break
		}
	}
	return d, nil
}

// partitions is the topic's partition count: enough for the produce rate
// at PartitionBytesPerSec, one per bridge and d's at least, rounded up to
// a multiple of the brokers so that leaders spread evenly.
func partitions(l Load, d Deployment) int {
	p := max(ceilDiv(flows(l, d).kafkaBytes, PartitionBytesPerSec), d.Bridges, d.Partitions, 1)
	b := max(d.Brokers, 1)
	return ceilDiv(float64(p), float64(b)) * b
}

func rule(name string) tierRule {
	i := slices.IndexFunc(tiers, func(t tierRule) bool { return t.name == name })
	return tiers[i]
}

// Evaluate is how full each tier of d is under l, in pipeline order.
func Evaluate(l Load, d Deployment) ([]Use, error) {
	l, err := l.withDefaults()
	if err != nil {
		return nil, err
	}
	return evaluate(l, d), nil
}

// evaluate is Evaluate of a load with its defaults, unchecked: Steps loads
// a deployment with ten times a load that may pass the bounds of Load.
func evaluate(l Load, d Deployment) []Use {
	r := flows(l, d)
	var uses []Use
	for _, t := range tiers {
		uses = append(uses, t.use(t.needs(r, l, d), *t.count(&d), d.Regions))
	}
	return uses
}

// Fullest is the use with the highest utilisation (the first in pipeline
// order on a tie).
func Fullest(uses []Use) Use {
	return slices.MaxFunc(uses, func(a, b Use) int { return cmp.Compare(a.Util, b.Util) })
}
