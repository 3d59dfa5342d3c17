// Package conncap is the admission rule of the connection caps that ingest
// (its HTTP listener) and the viewer edges share. It reads the counts a
// listener keeps (open connections, those of the new peer's client network,
// networks holding any) and says whether a new connection gets in, or which
// cap it is over. It holds no state: each listener counts under its own lock.
package conncap
