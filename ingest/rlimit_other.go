//go:build !unix

package ingest

// openFileLimit is unknown here: MaxConnections defaults to DefaultMaxConnections.
func openFileLimit() (uint64, bool) { return 0, false }
