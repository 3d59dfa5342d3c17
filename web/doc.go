// Package web is the browser client, embedded in the binary and served by
// ingest at "/".
//
// It writes nothing and reads nothing itself: [Static] holds the page, its
// script and the vendored NATS JavaScript client. In the browser the page
// reads GET /v1/config (a [ClientConfig]), writes reactions with
// POST /v1/emojis, and reads swarms over NATS WebSocket from a leaf cluster:
// live ones on emostream.live.<match> and, on join, the latest stored one by a
// JetStream direct get on the EMOSTREAM_SWARMS stream.
//
// The static files live in web/static; web/build/build.sh rebuilds
// web/static/vendor/nats.js from npm. Subpackage webtest starts headless
// Chromium for browser tests.
package web
