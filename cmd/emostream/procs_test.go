package main

import (
	"runtime"
	"testing"
)

// TestRaiseProcs: without GOMAXPROCS in the environment up runs with at
// least minProcs Ps; a GOMAXPROCS the operator set is left alone.
func TestRaiseProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(1)
	set := &environment{getenv: func(k string) string { return map[string]string{"GOMAXPROCS": "1"}[k] }}
	if got := raiseProcs(set); got != 1 || runtime.GOMAXPROCS(0) != 1 {
		t.Errorf("GOMAXPROCS=1 in the environment: raiseProcs = %d, GOMAXPROCS %d, want 1", got, runtime.GOMAXPROCS(0))
	}
	unset := &environment{getenv: func(string) string { return "" }}
	if got := raiseProcs(unset); got != minProcs || runtime.GOMAXPROCS(0) != minProcs {
		t.Errorf("no GOMAXPROCS: raiseProcs = %d, GOMAXPROCS %d, want %d", got, runtime.GOMAXPROCS(0), minProcs)
	}
}
