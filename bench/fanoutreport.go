package bench

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"
)

// ReadReceipts adds the receipts of one HoldViewers output file to bySeq:
// per swarm sequence number, every viewer's delay.
func ReadReceipts(name string, bySeq map[int][]time.Duration) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var seq int
		var us int64
		if _, err := fmt.Sscan(sc.Text(), &seq, &us); err != nil {
			return fmt.Errorf("%s: %q: %w", name, sc.Text(), err)
		}
		bySeq[seq] = append(bySeq[seq], time.Duration(us)*time.Microsecond)
	}
	return sc.Err()
}

// PrintFanoutReport prints per-swarm delay quantiles and their medians.
func PrintFanoutReport(w io.Writer, bySeq map[int][]time.Duration, expect int) error {
	var p50s, p99s, lasts []time.Duration
	short := 0
	fmt.Fprintf(w, "%6s %8s %10s %10s %10s\n", "swarm", "viewers", "p50 ms", "p99 ms", "last ms")
	for _, seq := range slices.Sorted(maps.Keys(bySeq)) {
		d := bySeq[seq]
		slices.Sort(d)
		p50, p99, last := d[len(d)/2], d[len(d)*99/100], d[len(d)-1]
		p50s, p99s, lasts = append(p50s, p50), append(p99s, p99), append(lasts, last)
		if expect > 0 && len(d) != expect {
			short++
		}
		fmt.Fprintf(w, "%6d %8d %10.1f %10.1f %10.1f\n", seq, len(d), floatMs(p50), floatMs(p99), floatMs(last))
	}
	for _, d := range [][]time.Duration{p50s, p99s, lasts} {
		slices.Sort(d)
	}
	med := func(d []time.Duration) float64 { return floatMs(d[len(d)/2]) }
	fmt.Fprintf(w, "swarms %d: median p50 %.1f ms, median p99 %.1f ms, last viewer median %.1f ms, p99 over swarms %.1f ms, max %.1f ms\n",
		len(lasts), med(p50s), med(p99s), med(lasts), floatMs(lasts[len(lasts)*99/100]), floatMs(lasts[len(lasts)-1]))
	if short > 0 {
		return fmt.Errorf("%d swarms did not reach exactly %d viewers", short, expect)
	}
	return nil
}
