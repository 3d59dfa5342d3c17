package teststream

import "fmt"

// RecorderJS is JavaScript for a page that plays a Stream with the player
// page's events ("emostream:<type>" on document, web/static/player.js): for
// every window the page shows it records, in window.recorded, the program
// time of the frame on screen at that moment, read from the frame's [Code]
// (its number in the loop: its program time modulo a minute, resolved by
// the page's own clock), and the page's video clock (#last-window's
// data-offset); the other events it keeps in window.events by type (the
// last 100). Run it once the page is loaded, before it shows a window.
var RecorderJS = fmt.Sprintf(`(() => {
	if (window.recorded) return;
	window.recorded = [];
	window.events = {};
	const canvas = document.createElement("canvas");
	canvas.width = %[1]d; canvas.height = %[2]d;
	const g = canvas.getContext("2d", {willReadFrequently: true});
	const frameMod = () => {
		g.drawImage(document.getElementById("video"), 0, 0, %[1]d, %[2]d);
		const row = g.getImageData(0, %[4]d + %[5]d / 2, %[1]d, 1).data;
		let n = 0;
		for (let b = 0; b < %[3]d; b++) if (row[4 * (%[6]d + b * %[7]d + %[5]d / 2)] > 128) n |= 1 << b;
		return n * %[8]d;
	};
	for (const type of ["swarm", "skip", "gap", "overflow", "drop", "status", "error"]) {
		document.addEventListener("emostream:" + type, (ev) => {
			window.events[type] = (window.events[type] || []).concat([type === "swarm" ? null : ev.detail]).slice(-100);
			if (type !== "swarm") return;
			const d = ev.detail, video = document.getElementById("video");
			const offset = Number(document.getElementById("last-window").dataset.offset);
			const mod = frameMod();
			const base = Math.round((d.end + offset - mod) / %[9]d) * %[9]d;
			window.recorded.push({start: d.start, end: d.end, source: d.source, clock: offset, frame: base + mod - d.end,
				paused: video.paused, at: performance.now()});
		});
	}
})()`, Width, Height, Code.Bits, Code.Y, Code.Size, Code.X0, Code.Step, 1000/FPS, Segments*1000)

// Shown is one window a page showed, as RecorderJS saw it (JSON of
// window.recorded): Clock and Frame are how far past the window's end (ms)
// the page's video clock and the frame on screen were.
type Shown struct {
	Start, End   int64 // Unix ms
	Source       string
	Clock, Frame float64
	Paused       bool
	At           float64 // performance.now()
}
