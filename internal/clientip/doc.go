// Package clientip finds the client address of a request that may have
// come through proxies: the TCP peer, or, when the peer is one of the
// trusted proxies (--trusted-proxies), the address their X-Forwarded-For
// names. Ingest reads it from each request to charge its per-IP limits,
// the edges from a viewer's WebSocket upgrade to count its client network.
package clientip
