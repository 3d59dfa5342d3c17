// Package ratelimit holds the token buckets of EmoStream's rate limits: a
// bounded set of buckets, one per key (Limiter), which ingest keys by
// client network and user, and the guard of every ops listener (Guard): a
// bucket per client address beside one for the whole listener, and caps
// on its connections (the admission rule of internal/conncap), so that a
// flooding client gets 429 while a scrape from another address still gets
// its answer. Stages and cmd/emostream import it.
package ratelimit
