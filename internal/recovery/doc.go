// Package recovery is how a stage survives a panic in the code that
// handles one input: an HTTP request, a response stream, a NATS message, a
// viewer's connection. It sits below every stage, which imports it: the
// handler defers Recover (or is wrapped by Func, HTTP, Go or Do), and a
// panic then logs its stack once, counts emostream_panics_total{component}
// and fails only that input (a 500, a cut stream, a closed connection, a
// dropped message); the process keeps serving everyone else.
//
// The counter is one per process, so stages that share a registry (under
// "emostream up") register it without conflict (Register).
package recovery
