package capacity

import (
	"cmp"
	"encoding/json"
	"slices"

	"github.com/emostream/emostream/wire"
)

// Plan is a load's deployment, how full each tier is, the bytes each hop
// carries a window and the cost per hour.
type Plan struct {
	Load       Load
	Deployment Deployment
	Uses       []Use
	Hops       []Hop
	Costs      []Cost
	// Sizes of one record (on a broker), swarm and viewer frame, bytes.
	RecordBytes            float64
	SwarmBytes, FrameBytes int
}

// Hop is the bytes one hop carries in a window, over all its machines.
type Hop struct {
	Name      string
	PerWindow float64
}

// Cost is one line of the hourly bill.
type Cost struct {
	Item    string
	Count   float64 // machines, GiB or GB an hour
	Unit    string  // what Count counts
	Each    float64 // USD per unit (an hour for machines)
	PerHour float64
}

// NewPlan sizes l's deployment and works out its uses, hops and costs.
func NewPlan(l Load) (Plan, error) {
	d, err := Size(l)
	if err != nil {
		return Plan{}, err
	}
	l, _ = l.withDefaults()
	uses, _ := Evaluate(l, d)
	r := flows(l, d)
	p := Plan{Load: l, Deployment: d, Uses: uses, RecordBytes: RecordBytes(r.events / max(r.produces, 1)),
		SwarmBytes: SwarmBytes(d.Partitions, l.videoWindows()), FrameBytes: FrameBytes(d.Partitions, l.videoWindows())}
	p.Hops = hops(l, d)
	p.Costs = costs(l, d, uses, p.Hops)
	return p, nil
}

// timelineRecordBytes is the window record the processor stores per swarm.
func timelineRecordBytes() int {
	r := wire.TimelineRecord{Start: windowTime.UnixMilli(), Counts: map[string]int64{}, Total: 1_234_567, Swarm: 123_456_789}
	for _, e := range wire.DefaultEmojis[:Emojis] {
		r.Counts[e] = 123_456
	}
	b, _ := json.Marshal(r)
	return len(b)
}

// hops are the bytes of each hop in a window, in pipeline order. Kafka
// and NATS protocol framing is left out (a few per cent); the viewers'
// hop counts TCP/IP and TLS.
func hops(l Load, d Deployment) []Hop {
	r, w := flows(l, d), Window.Seconds()
	p, m := float64(d.Partitions), float64(l.Matches)
	kafka := r.kafkaBytes * w
	partials := p * float64(PartialBytes(l.Matches, l.videoWindows()))
	swarm := float64(SwarmBytes(d.Partitions, l.videoWindows()))
	stored := partials + m*(swarm+float64(timelineRecordBytes()))
	return []Hop{
		{"viewers → ingest (requests and 202s, HTTP)", r.requests*w*RequestHeaderBytes + r.events*w*EventBodyBytes},
		{"ingest → Kafka leaders (records)", kafka},
		{"Kafka leaders → followers (replication)", kafka * float64(d.RF-1)},
		{"Kafka → bridges (fetches)", kafka},
		{"bridges → hub → processor (partials)", 2 * partials},
		{"processor → hub (swarms, timeline records)", m * (swarm + float64(timelineRecordBytes()))},
		{"hub members (stream replication)", stored * float64(HubMembers-1)},
		{"hub → leaf servers (swarms)", r.hubForwards * w * swarm},
		{"leaf servers → edges (swarms)", r.leafDeliveries * w * float64(d.Regions) * swarm},
		{"edges → viewers (frames, TCP/IP, TLS)", l.Viewers * r.frameBytes},
	}
}

// costs is the hourly bill: machines per tier, the brokers' and hub's
// volumes, and the viewers' internet egress (the last hop).
func costs(l Load, d Deployment, uses []Use, hs []Hop) []Cost {
	var cs []Cost
	for i, t := range tiers {
		n := float64(uses[i].Machines)
		cs = append(cs, Cost{t.name + " (" + t.machine.Name + ")", n, "machines", t.machine.PerHour, n * t.machine.PerHour})
	}
	kafkaGB := flows(l, d).kafkaBytes * float64(d.RF) * PeakHoursKept * 3600 / 1e9
	hubGB := float64(HubMembers * HubStoreGiB)
	egress := hs[len(hs)-1].PerWindow / Window.Seconds() * 3600 / 1e9
	return append(cs,
		Cost{"Kafka volumes (gp3)", kafkaGB, "GB", GP3PerGBMonth / HoursPerMonth, kafkaGB * GP3PerGBMonth / HoursPerMonth},
		Cost{"hub volumes (gp3)", hubGB, "GB", GP3PerGBMonth / HoursPerMonth, hubGB * GP3PerGBMonth / HoursPerMonth},
		Cost{"internet egress to viewers", egress, "GB an hour", EgressPerGB, egress * EgressPerGB})
}

// Total is the plan's cost per hour.
func (p Plan) Total() float64 {
	t := 0.0
	for _, c := range p.Costs {
		t += c.PerHour
	}
	return t
}

// Step is one tenfold step of the load: its plan, and the tier that
// breaks first when the load grows tenfold on that plan's deployment.
type Step struct {
	Plan Plan
	Next Load
	// First and Second are the fullest tiers at Next on Plan's deployment.
	First, Second Use
}

// Steps plans n tenfold steps from l and finds, at each, the tier that the
// next tenfold step fills first. Each step's load must be within the
// bounds of Load; the ten times more it is loaded with need not be.
func Steps(l Load, n int) ([]Step, error) {
	var steps []Step
	for i := range n {
		s, err := step(l.Times(pow10(i)))
		if err != nil {
			return nil, err
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// StepsTo is the n tenfold steps that end at l ("emostream plan"'s table):
// the last is l itself, not l scaled down and up again in floating point,
// and the steps under one viewer a region are left out.
func StepsTo(l Load, n int) ([]Step, error) {
	var steps []Step
	regions := float64(max(cmp.Or(l.Regions, DefaultRegions), 1))
	for i := range n {
		down := pow10(n - 1 - i)
		cur := l
		cur.Viewers, cur.Reactions = l.Viewers/down, l.Reactions/down
		if cur.Viewers < regions {
			continue
		}
		s, err := step(cur)
		if err != nil {
			return nil, err
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// step plans l and finds the fullest tiers of its deployment at ten times l.
func step(l Load) (Step, error) {
	p, err := NewPlan(l)
	if err != nil {
		return Step{}, err
	}
	next := p.Load.Times(10)
	uses := evaluate(next, p.Deployment)
	first := Fullest(uses)
	rest := slices.DeleteFunc(uses, func(u Use) bool { return u.Tier == first.Tier })
	return Step{Plan: p, Next: next, First: first, Second: Fullest(rest)}, nil
}

func pow10(i int) float64 {
	k := 1.0
	for range i {
		k *= 10
	}
	return k
}
