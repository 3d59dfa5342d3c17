package main

import (
	"flag"
	"fmt"

	"github.com/emostream/emostream/edge"
	"github.com/emostream/emostream/ingest"
)

// minShare is the fewest connections a derived cap gives ingest or an edge
// of up, however low the open-file limit.
const minShare = 64

// connBudget is how many client connections one process may hold: its
// open-file limit less --fd-reserve (descriptors kept for Kafka, NATS, the
// store and the listeners); ok is false where the limit is unknown.
func connBudget(files fileLimit, reserve int) (n int, ok bool) {
	if !files.known {
		return 0, false
	}
	return int(min(files.soft, 1<<40)) - reserve, true
}

// ingestConns is ingest's --max-connections, and how it was derived (for
// errors): as given; else ingest's own default at this open-file limit;
// in up, whose edges serve viewers from the same descriptors, half the
// budget if the defaults do not all fit. 0 leaves it to ingest.
func ingestConns(files fileLimit, given, reserve, edges int) (n int, why string) {
	budget, ok := connBudget(files, reserve)
	switch {
	case given > 0 || !ok:
		return given, ""
	case edges == 0 || budget >= ingest.DefaultMaxConnections+edges*edge.DefaultMaxConnections:
		return ingest.MaxConnectionsFor(files.soft, reserve),
			fmt.Sprintf(" (its default at an open-file limit of %d less --fd-reserve %d)", files.soft, reserve)
	}
	return max(min(ingest.DefaultMaxConnections, budget/2), minShare),
		fmt.Sprintf(" (up's default: half the open-file limit of %d less --fd-reserve %d; the edges' viewers have the rest)", files.soft, reserve)
}

// edgeConns is the MaxConnections of each of up's edges: what ingest
// leaves of the budget, split evenly, if the edges' defaults do not fit; 0
// leaves the default.
func edgeConns(files fileLimit, ingestConns, reserve, edges int) int {
	budget, ok := connBudget(files, reserve)
	if !ok || edges == 0 || budget >= ingestConns+edges*edge.DefaultMaxConnections {
		return 0
	}
	return max((budget-ingestConns)/edges, minShare)
}

// perNetwork is a per-network cap flag for a library config: 0 (the
// default: its default, never above the total) unless given, and then
// refused above the total, naming both flags; disabled is what a given 0
// stands for. why says how a derived total came about.
func perNetwork(fs *flag.FlagSet, totalFlag, perFlag string, total, per, disabled int, why string) (int, error) {
	if !given(fs)[perFlag] {
		return 0, nil
	}
	if per == 0 {
		return disabled, nil
	}
	if total <= 0 { // left to the library, which refuses it if need be
		return per, nil
	}
	if per > total {
		return 0, fmt.Errorf("--%s %d is above --%s %d%s: one network could hold every connection; lower --%s or raise --%s",
			perFlag, per, totalFlag, total, why, perFlag, totalFlag)
	}
	return per, nil
}
