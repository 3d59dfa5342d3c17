// Package web is the browser client, embedded in the binary and served by
// ingest at "/".
//
// It writes nothing and reads nothing itself: [Static] holds the pages,
// their scripts, the embeddable JavaScript client ([Client], built from
// web/client) and the vendored hls.js of the player page. In the browser the
// pages read GET /v1/config (a [ClientConfig]), write reactions with
// POST /v1/emojis, and read swarms over NATS WebSocket from a leaf cluster or
// an edge, all through the client: live ones on emostream.live.<match> and,
// on join and after a gap, stored ones by JetStream direct gets on the
// EMOSTREAM_SWARMS stream.
//
// The static files live in web/static; web/build/build.sh vendors hls.js
// from npm into web/static/vendor. Subpackage webtest starts headless
// Chromium for browser tests.
package web
