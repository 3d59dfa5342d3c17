package main

import "runtime"

// minProcs is the fewest Ps "up" and "bench" run with when GOMAXPROCS is not
// set in the environment. The embedded broker's group fsync blocks in the
// kernel for a fraction of a millisecond per file, and a goroutine in a
// blocking system call keeps its P until the runtime's monitor takes it
// back (~250 µs here): on a 2-core machine two fsyncs in flight stopped
// every handler, Kafka client and broker goroutine behind them. More Ps
// than cores lets the rest of the process run meanwhile (+16–46% acked
// single events at 128 connections on 2 cores, docs/benchmarks.md).
const minProcs = 4

// raiseProcs sets GOMAXPROCS to at least minProcs unless the environment
// chose it, and returns the value in force.
func raiseProcs(env *environment) int {
	n := runtime.GOMAXPROCS(0)
	if env.getenv("GOMAXPROCS") == "" && n < minProcs {
		runtime.GOMAXPROCS(minProcs)
		n = minProcs
	}
	return n
}
