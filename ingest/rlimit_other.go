//go:build !unix

package ingest

// openFileLimit is unknown here: MaxConns defaults to DefaultMaxConns.
func openFileLimit() (uint64, bool) { return 0, false }
