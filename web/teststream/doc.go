// Package teststream is a live HLS stream with program time, for the
// player page (web/static/player.html): its browser tests and the demo's
// "emostream teststream". It reads nothing but the segments it rendered and
// writes only into the folder it is given.
//
// [Render] runs ffmpeg once to pre-render a one-minute loop of a test
// pattern, 1-second MPEG-TS segments at 25 frames a second, with the
// program time's seconds burned in as text and each frame's number in the
// loop as a row of black and white boxes (the [Code] a test reads back from
// the screen). A [Stream] serves the loop as a live playlist, a sliding
// window that advances with the wall clock: segment k is the program time
// [k s, k+1 s) since the Unix epoch, tagged EXT-X-PROGRAM-DATE-TIME, and
// its content is the loop's segment k mod 60, so the burned-in seconds are
// the program time's. The live edge runs [Config.Behind] behind the wall
// clock; a player starts a few segments further back (hls.js: 3).
package teststream
