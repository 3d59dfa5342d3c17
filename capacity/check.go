package capacity

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Small is a deployment as scripts/capacity-check.sh runs it on one
// machine: every stage one process (Kafka one node, replication factor 1),
// Leaves leaf servers, Edges edges spread evenly over them, the viewers
// spread evenly over the edges and, on each edge, over every match.
type Small struct {
	Viewers, Reactions, Batch float64
	Matches, Leaves, Edges    int
	Partitions                int
	// RecordBytes is a record's measured bytes on the broker's disk (the
	// benchmark's records are shorter than production's).
	RecordBytes float64
	// Produces is the produce requests a second ingest sent (measured: the
	// group commit's batching depends on the produce latency).
	Produces float64
	// RF is the topic's replication factor, one replica a Kafka node. Zero
	// means 1.
	RF int
}

// Measured is one tier of a run: its processes, their CPU (cores, over
// the measured interval) and their summed VmRSS.
type Measured struct {
	Tier      string
	Processes int
	Cores     float64
	RSSMiB    float64
}

// Predict is the model's CPU and RSS for each tier of s, in the order
// the script reports them.
func Predict(s Small) []Measured {
	w := Window.Seconds()
	m := float64(s.Matches)
	deliveries := float64(s.Edges) * m / w // swarms the leaves write to edges, a second
	stored := (float64(s.Partitions) + 2*m) / w
	leaf, edge := float64(s.Leaves), float64(s.Edges)
	rf := max(s.RF, 1)
	return []Measured{
		{"ingest", 1, IngestActiveCores + (s.Reactions/s.Batch*IngestCPUPerRequestUS+s.Reactions*IngestCPUPerEventUS)*us, IngestRSSMiB},
		{"kafka", rf, float64(rf)*KafkaActiveCores + (s.Produces*KafkaCPUPerProduceUS+float64(rf)*s.Reactions*s.RecordBytes/1e6*KafkaCPUPerMBUS)*us, float64(rf) * KafkaRSSMiB},
		{"bridge", 1, BridgeActiveCores + (s.Produces*BridgeCPUPerBatchUS+s.Reactions*BridgeCPUPerEventUS)*us, BridgeRSSMiB},
		{"processor", 1, ProcessorBaseCores + float64(s.Partitions)*m/w*ProcessorCPUPerEntryUS*us, ProcessorRSSMiB},
		{"hub", 1, HubBaseCores + (stored+m*leaf/w)*HubCPUPerMessageUS*us, HubRSSMiB},
		{"leaf", s.Leaves, leaf*LeafBaseCores + deliveries*LeafCPUPerDeliveryUS*us, leaf * LeafRSSMiB},
		{"edge", s.Edges, edge*EdgeBaseCores + s.Viewers/w*EdgeCPUPerDeliveryUS*us, edge*EdgeRSSMiB + s.Viewers*EdgeRSSPerViewerKiB/1024},
	}
}

// ReadCheck reads what scripts/capacity-check.sh wrote of a run: "key
// value" lines of the deployment and load (viewers, reactions, batch,
// matches, leaves, edges, partitions, record_bytes, produces, rf), and one line per
// tier, "tier NAME PROCESSES CORES RSS_MIB".
func ReadCheck(r io.Reader) (Small, []Measured, error) {
	var s Small
	var ms []Measured
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if err := readLine(f, &s, &ms); err != nil {
			return s, nil, fmt.Errorf("capacity: check line %d %q: %w", n, sc.Text(), err)
		}
	}
	if err := sc.Err(); err != nil {
		return s, nil, err
	}
	if s.Viewers < 1 || s.Batch < 1 || s.Matches < 1 || s.Leaves < 1 || s.Edges < 1 || s.Partitions < 1 || len(ms) == 0 {
		return s, nil, fmt.Errorf("capacity: check: want viewers, batch, matches, leaves, edges, partitions ≥ 1 and tier lines")
	}
	return s, ms, nil
}

func readLine(f []string, s *Small, ms *[]Measured) error {
	num := func(i int) (float64, error) {
		if i >= len(f) {
			return 0, fmt.Errorf("missing field %d", i)
		}
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e12 {
			return 0, fmt.Errorf("%q: want a number from 0 to 1e12", f[i])
		}
		return v, nil
	}
	if f[0] == "tier" {
		p, err1 := num(2)
		c, err2 := num(3)
		rss, err3 := num(4)
		if err := firstErr(err1, err2, err3); err != nil || len(f) != 5 {
			return fmt.Errorf("want tier NAME PROCESSES CORES RSS_MIB: %v", err)
		}
		*ms = append(*ms, Measured{f[1], int(p), c, rss})
		return nil
	}
	v, err := num(1)
	if err != nil || len(f) != 2 {
		return fmt.Errorf("want KEY VALUE: %v", err)
	}
	fields := map[string]func(){"viewers": func() { s.Viewers = v }, "reactions": func() { s.Reactions = v },
		"batch": func() { s.Batch = v }, "matches": func() { s.Matches = int(v) }, "leaves": func() { s.Leaves = int(v) },
		"edges": func() { s.Edges = int(v) }, "partitions": func() { s.Partitions = int(v) }, "record_bytes": func() { s.RecordBytes = v },
		"produces": func() { s.Produces = v }, "rf": func() { s.RF = int(v) }}
	set, ok := fields[f[0]]
	if !ok {
		return fmt.Errorf("unknown key %q", f[0])
	}
	set()
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// WriteCheck writes predicted against measured per tier as Markdown, each
// measured figure's difference from the prediction in per cent of it.
func WriteCheck(w io.Writer, s Small, measured []Measured) {
	fmt.Fprintf(w, "%s viewers on %d edges and %d leaves, %s reactions/s in requests of %s, %d matches, %d partitions:\n\n",
		group(s.Viewers), s.Edges, s.Leaves, group(s.Reactions), trim(s.Batch), s.Matches, s.Partitions)
	fmt.Fprintln(w, "| tier | processes | CPU predicted, cores | measured | difference | RSS predicted, MiB | measured | difference |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, p := range Predict(s) {
		for _, m := range measured {
			if m.Tier == p.Tier {
				fmt.Fprintf(w, "| %s | %d | %.3f | %.3f | %s | %.0f | %.0f | %s |\n", p.Tier, m.Processes,
					p.Cores, m.Cores, diff(m.Cores, p.Cores), p.RSSMiB, m.RSSMiB, diff(m.RSSMiB, p.RSSMiB))
			}
		}
	}
}

// diff is (got − want) / want in per cent, signed.
func diff(got, want float64) string {
	if want == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.0f%%", 100*(got-want)/want)
}
