// Package client is the Go client of EmoStream's ingest API, for programs
// that post reactions and read a match's timeline; "emostream send" and
// "emostream timeline" are built on it. (The browser's client is
// web/client.)
//
// It writes POST /v1/emojis and reads GET /v1/config and GET
// /v1/matches/{id}/timeline of one ingest server (docs/api.md). Send posts
// a run of reactions in arrays that fit the server's bursts (the limits of
// GET /v1/config, or split where a burst_exceeded refusal points), gives
// every event an event_id, and retries a 429 or 503 after its Retry-After,
// so a retried request counts once. Timeline decodes the timeline answer
// into wire.TimelineAnswer; WriteTimeline copies it as the server wrote it
// (JSON or CSV).
//
// A Client is built once with New from a Config whose zero fields are
// documented defaults, and is safe for concurrent use.
package client
