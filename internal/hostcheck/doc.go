// Package hostcheck guards the ops listeners of every stage (the --ops of
// ingest, up, bridge, processor and edge) against DNS rebinding: a request whose Host header names
// neither one of the listener's own addresses nor one of its names is
// refused with 403, so a web page on a name its attacker points at
// 127.0.0.1 cannot read /metrics or reach the admin API. Stages import it;
// it imports nothing of EmoStream.
package hostcheck
