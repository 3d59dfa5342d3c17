package capacity

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// WritePlan writes p as Markdown: the deployment, how full each tier is,
// the bytes per hop and the bill. docs/capacity.md holds this output.
func WritePlan(w io.Writer, p Plan) {
	l, d := p.Load, p.Deployment
	video := ""
	if l.VideoSpread > 0 {
		video = fmt.Sprintf(", viewers' video up to %v behind live", l.VideoSpread)
	}
	fmt.Fprintf(w, "Plan for %s viewers and %s reactions/s at peak: %d regions, %d live matches, %s events per request (mean)%s.\n\n",
		group(l.Viewers), group(l.Reactions), l.Regions, l.Matches, trim(l.Batch), video)
	fmt.Fprintln(w, "| tier | machines | instance | busiest resource | use at peak |")
	fmt.Fprintln(w, "|---|---:|---|---|---:|")
	for i, u := range p.Uses {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", u.Tier, group(float64(u.Machines)), tiers[i].machine.Name, u.Resource, percent(u.Util))
	}
	writeOver(w, p.Uses)
	fmt.Fprintf(w, "\nKafka: %d partitions at replication factor %d, %s per record. Per region: leaf clusters %d (%d servers each), edges %s (%s viewers each).\n",
		d.Partitions, d.RF, byteSize(p.RecordBytes), d.LeafClusters, LeafServersPerCluster, group(float64(d.Edges)),
		group(math.Ceil(l.Viewers/float64(l.Regions)/float64(d.Edges))))
	vw := l.videoWindows()
	fmt.Fprintf(w, "A swarm is %s, %s of it its %d partitions' offsets and partial sequences", byteSize(float64(p.SwarmBytes)),
		byteSize(float64(p.SwarmBytes-SwarmBytes(0, vw))), d.Partitions)
	fields := "those two fields"
	if vw > 0 {
		fmt.Fprintf(w, " and %s its video_windows (%d windows of program time)", byteSize(float64(p.SwarmBytes-SwarmBytes(d.Partitions, 0))), vw)
		fields = "those three fields"
	}
	fmt.Fprintf(w, "; its frame to a viewer %s, %s with TCP/IP and TLS.\n", byteSize(float64(p.FrameBytes)), byteSize(WireBytes(p.FrameBytes)))
	lean := l.Viewers * WireBytes(FrameBytes(0, 0)) / Window.Seconds() * 3600 / 1e9 * EgressPerGB
	fmt.Fprintf(w, "Without %s in the viewers' frames, the egress would cost %s an hour instead of %s.\n\n",
		fields, money(lean), money(p.Costs[len(p.Costs)-1].PerHour))
	fmt.Fprintf(w, "| hop | per %s window | per second |\n|---|---:|---:|\n", Window)
	for _, h := range p.Hops {
		fmt.Fprintf(w, "| %s | %s | %s |\n", h.Name, byteSize(h.PerWindow), bits(h.PerWindow/Window.Seconds()))
	}
	fmt.Fprintln(w, "\n| cost | count | unit price, USD | USD an hour |\n|---|---:|---:|---:|")
	for _, c := range p.Costs {
		fmt.Fprintf(w, "| %s | %s %s | %s | %s |\n", c.Item, group(c.Count), c.Unit, price(c.Each), money(c.PerHour))
	}
	fmt.Fprintf(w, "| **total** | | | **%s** |\n", money(p.Total()))
}

// writeOver warns of each tier over 100% at peak: only a tier of fixed
// size can be, and more machines do not help it, so the load is past what
// the design carries.
func writeOver(w io.Writer, uses []Use) {
	for i, u := range uses {
		if u.Util > 1 && tiers[i].fixed {
			fmt.Fprintf(w, "\n**Over capacity:** the %s's %s at %s. Its size is fixed by the design (%d machines), so more machines do not help: this load is past what EmoStream carries (docs/capacity.md, \"Tenfold steps\").\n",
				u.Tier, u.Resource, percent(u.Util), u.Machines)
		}
	}
}

// WriteSteps writes the tenfold steps as one Markdown table.
func WriteSteps(w io.Writer, steps []Step) {
	fmt.Fprintln(w, "| viewers | reactions/s | ingest | brokers | bridges | processors | hub | leaf servers | edges | partitions | USD an hour | at 10× on this deployment: first full, then |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, s := range steps {
		p, u := s.Plan, s.Plan.Uses
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d | %s | %s | %d | %s | %s: %s at %s; %s: %s at %s |\n",
			group(p.Load.Viewers), group(p.Load.Reactions), u[0].Machines, u[1].Machines, u[2].Machines, u[3].Machines,
			u[4].Machines, group(float64(u[5].Machines)), group(float64(u[6].Machines)), p.Deployment.Partitions,
			money(p.Total()), s.First.Tier, s.First.Resource, percent(s.First.Util), s.Second.Tier, s.Second.Resource, percent(s.Second.Util))
	}
}

// group writes a whole number with thousands separators.
func group(f float64) string {
	s := strconv.FormatFloat(math.Round(f), 'f', 0, 64)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// trim writes f without trailing zeros.
func trim(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func percent(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

func money(f float64) string {
	if f >= 100 {
		return "$" + group(f)
	}
	return fmt.Sprintf("$%.2f", f)
}

func price(f float64) string {
	if f < 0.01 {
		return fmt.Sprintf("%.6f", f)
	}
	return fmt.Sprintf("%.5g", f)
}

// byteSize writes n bytes in B, KB, MB, GB or TB (powers of 1,000).
func byteSize(n float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	i := 0
	for n >= 1000 && i < len(units)-1 {
		n /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.3g %s", n, units[i])
}

// bits writes a byte rate in bit/s with a unit.
func bits(bytesPerSec float64) string {
	n := bytesPerSec * 8
	units := []string{"bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"}
	i := 0
	for n >= 1000 && i < len(units)-1 {
		n /= 1000
		i++
	}
	return fmt.Sprintf("%.3g %s", n, units[i])
}
