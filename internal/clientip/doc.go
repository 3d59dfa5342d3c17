// Package clientip finds the client address of a request that may have
// come through proxies: the TCP peer, or, when the peer is one of the
// trusted proxies (--trusted-proxies), the address their X-Forwarded-For
// names. The edges read it from a viewer's WebSocket upgrade to count its
// client network; ingest's rule is the same (ingest/clientip.go).
package clientip
