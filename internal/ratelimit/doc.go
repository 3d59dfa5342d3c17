// Package ratelimit holds the token buckets of EmoStream's rate limits: a
// bounded set of buckets, one per key (Limiter), which ingest keys by
// client network and user. Stages import it; it imports nothing of
// EmoStream.
package ratelimit
