// Playback-synced display (docs/client.md, "Sync"): a window's swarm is
// shown when the program clock reaches the window's end plus lead, never
// earlier: window_end <= clock + lead. The program clock is the video's
// (the program time of the frame on screen, Unix ms) or, without one, the
// wall clock less a manual delay. Pure logic: time, timers and the
// timeline come in through the constructor.

import { clientError, withDefaults } from "./env.js";

const MIN_LEAD = -300000;

// Sync options (defaults in brackets):
//   env {now, setTimeout, clearTimeout}  the wall clock and timers
//   windowMs [2000]       the window length
//   video [null]          () => program time of the frame on screen, or null
//                         (one that throws reads as null, and onError hears
//                         of it once per run of throws)
//   lead [0]              ms; clamped to [-300000, windowMs]
//   delayMs [0]           without a video clock: live less this
//   unknown ["live"]      a video clock that never answered yet: "live" (wall
//                         clock less delayMs) or "hold"
//   maxBuffered [300]     swarms held; past it the oldest leaves (onOverflow)
//                         and comes back from the timeline in its time
//   chunkWindows [60]     timeline windows per read, read 60 s ahead
//   pollMs [250]          how often a video clock is read while waiting
//   seekBackMs [1000], seekForwardMs [5000]  a clock jump past these is a seek
//   maxLateMs [windowMs]  a timeline window later than this is skipped
//   fillOnJoin [true]     read the timeline for the stretch between the
//                         video's position and the first swarm received
//   fetchTimeline(fromMs, toMs) => Promise<[{start, end, counts, total, moments}]>
//   onDisplay(ev) onSkip({from, to, windows, reason}) onOverflow({start, end}) onError(err)
export class Sync {
  constructor(o) {
    const windowMs = o.windowMs || 2000;
    this.o = withDefaults({ windowMs, video: null, lead: 0, delayMs: 0, unknown: "live", maxBuffered: 300, chunkWindows: 60,
      pollMs: 250, seekBackMs: 1000, seekForwardMs: 5000, maxLateMs: windowMs, fillOnJoin: true,
      onDisplay() {}, onSkip() {}, onOverflow() {}, onError() {} }, o);
    this.env = o.env;
    this.setLead(this.o.lead, true);
    this.held = []; // swarms received, not shown yet, by window end
    this.replayQ = []; // timeline windows read, not shown yet, by window end
    this.replay = null; // {from, until}: windows ending in (from, until] come from the timeline
    this.lastEnd = -Infinity; // the end of the last window shown
    this.paused = false;
    this.pausedAt = 0;
    this.offset = this.o.delayMs; // fallback clock: wall - offset
    this.known = false; // the video clock answered once
    this.clockThrew = false; // its last reading threw: onError was told
    this.seekPending = false;
    this.prev = null; // {clock, wall} of the last reading, to notice seeks
    this.gen = 0; // bumped by a seek back: older timeline reads are ignored
    this.fetching = false;
    this.failures = 0;
    this.retryAt = 0;
    this.timer = 0;
    this.stopped = false;
  }

  // clock is the program time the display follows now, or null.
  clock() {
    const v = this.videoTime();
    if (v != null && Number.isFinite(v)) {
      this.known = true;
      return v;
    }
    if (this.o.video && (this.known || this.o.unknown === "hold")) return null;
    return (this.paused ? this.pausedAt : this.env.now()) - this.offset;
  }

  // videoTime reads the video clock; one that throws reads as unknown
  // (null), so the display goes on, and onError hears of it once per run
  // of throws (an Error of code "video_clock", cause what it threw), not
  // at every reading: the next run is one after the clock answered again,
  // or a new clock's (setVideo).
  videoTime() {
    if (!this.o.video) return null;
    try {
      const v = this.o.video();
      this.clockThrew = false;
      return v;
    } catch (err) {
      if (!this.clockThrew) {
        this.clockThrew = true; // before onError: a listener that reads the clock again is not told twice
        this.o.onError(clientError("video_clock", `emostream: the video clock threw: ${reason(err)}`, { cause: err }));
      }
      return null;
    }
  }

  get videoMode() {
    return !!this.o.video && this.known;
  }

  // push adds a verified swarm {start, end, swarm, source, seq}; the
  // viewer hands them on in window order.
  push(item) {
    if (this.stopped) return;
    if (item.end <= this.lastEnd) {
      this.o.onSkip({ from: item.start, to: item.end, windows: 1, reason: "passed" });
      return;
    }
    insert(this.held, item);
    if (this.held.length > this.o.maxBuffered) this.overflow(this.held.shift());
    this.evaluate();
  }

  overflow(d) {
    this.o.onOverflow({ start: d.start, end: d.end });
    if (!this.o.fetchTimeline) return this.o.onSkip({ from: d.start, to: d.end, windows: 1, reason: "buffer full" });
    if (this.replay) this.replay.until = Math.max(this.replay.until, d.end);
    else this.replay = { from: Math.max(this.lastEnd, d.start), until: d.end };
  }

  play() {
    if (!this.paused) return;
    this.paused = false;
    if (!this.videoMode) this.offset += this.env.now() - this.pausedAt; // the fallback clock resumes where it stopped
    this.prev = null;
    this.evaluate();
  }

  pause() {
    if (this.paused) return;
    this.paused = true;
    this.pausedAt = this.env.now();
    this.evaluate();
  }

  // seeked tells that the video jumped. Without a video clock, programMs
  // (if given) sets the fallback clock.
  seeked(programMs) {
    if (!this.videoMode && Number.isFinite(programMs)) this.offset = (this.paused ? this.pausedAt : this.env.now()) - programMs;
    this.seekPending = true;
    this.evaluate();
  }

  setLead(ms, quiet) {
    this.lead = Math.min(this.o.windowMs, Math.max(MIN_LEAD, Number(ms) || 0));
    if (!quiet) this.evaluate();
  }

  // setDelay sets the manual delay of the fallback clock (and forgets the
  // time spent paused).
  setDelay(ms) {
    this.o.delayMs = Math.max(0, Number(ms) || 0);
    this.offset = this.o.delayMs;
    if (this.paused) this.pausedAt = this.env.now();
    this.evaluate();
  }

  setVideo(fn) {
    this.o.video = fn || null;
    this.known = false;
    this.clockThrew = false;
    this.prev = null;
    this.evaluate();
  }

  stop() {
    this.stopped = true;
    this.env.clearTimeout(this.timer);
    this.held = [];
    this.replayQ = [];
  }

  // evaluate shows what is due, handles a seek, reads the timeline ahead
  // and sleeps until the next thing to do.
  evaluate() {
    if (this.stopped) return;
    this.env.clearTimeout(this.timer);
    this.timer = 0;
    const c = this.clock();
    if (c != null) {
      if (this.seekPending || this.jumped(c)) this.seek(c + this.lead);
      this.seekPending = false;
      this.prev = { clock: c, wall: this.env.now() };
      if (this.o.fillOnJoin && this.lastEnd === -Infinity && !this.replay && this.held.length && !this.filled) {
        this.filled = true;
        if (this.held[0].start > c + this.lead && this.o.fetchTimeline) this.replay = { from: c + this.lead, until: this.held[0].start };
      }
      if (!this.paused) this.release(c + this.lead);
      this.fetch(c + this.lead);
    }
    this.schedule(c);
  }

  // jumped: the video clock went back, or ahead much faster than the wall
  // clock, since the last reading: a seek nobody announced.
  jumped(c) {
    if (!this.videoMode || !this.prev) return false;
    const wall = this.env.now() - this.prev.wall;
    return c < this.prev.clock - this.o.seekBackMs || c - this.prev.clock > 2 * wall + this.o.seekForwardMs;
  }

  // seek moves the display to program time t: what lies before it is
  // skipped (a jump ahead), what was shown after it is shown again from
  // the timeline (a jump back).
  seek(t) {
    const passed = this.held.filter((x) => x.end <= t);
    if (passed.length) {
      this.held = this.held.slice(passed.length);
      this.o.onSkip({ from: passed[0].start, to: passed[passed.length - 1].end, windows: passed.length, reason: "seek" });
    }
    this.replayQ = this.replayQ.filter((x) => x.end > t);
    if (this.replay && this.replay.from < t) this.replay.from = t;
    if (this.lastEnd > t && this.o.fetchTimeline) {
      this.replay = { from: t, until: Math.max(this.lastEnd, this.replay ? this.replay.until : -Infinity) };
      this.replayQ = [];
    }
    if (this.replay && this.replay.from >= this.replay.until) this.replay = null;
    this.lastEnd = t;
    this.gen++;
    this.fetching = false;
    this.retryAt = 0;
  }

  // release shows, in order, every window whose end is at or before t.
  release(t) {
    for (;;) {
      const q = this.replayQ.length && (!this.held.length || this.replayQ[0].end <= this.held[0].end) ? this.replayQ : this.held;
      if (!q.length || q[0].end > t) return;
      const x = q.shift();
      if (x.end <= this.lastEnd) continue; // a timeline window a later one overtook
      if (x.source === "timeline" && x.end < t - this.o.maxLateMs) {
        this.o.onSkip({ from: x.start, to: x.end, windows: 1, reason: "late" });
        continue;
      }
      this.lastEnd = x.end;
      this.o.onDisplay(x);
    }
  }

  // fetch reads the next chunk of the replay range from the timeline once
  // it is within a chunk's half of t.
  fetch(t) {
    const r = this.replay;
    if (!r || this.fetching || !this.o.fetchTimeline || this.env.now() < this.retryAt) return;
    const w = this.o.windowMs;
    if (r.from > t + (this.o.chunkWindows * w) / 2 || this.replayQ.length >= this.o.chunkWindows / 2) return;
    if (r.from < t - this.o.maxLateMs) { // passed while nobody could read it
      const from = r.from;
      r.from = Math.floor((t - this.o.maxLateMs) / w) * w;
      if (r.from > from) this.o.onSkip({ from, to: r.from, windows: Math.ceil((r.from - from) / w), reason: "late" });
    }
    const from = r.from;
    const to = Math.min(r.until, Math.floor(from / w) * w + this.o.chunkWindows * w);
    if (to <= from) {
      this.replay = null;
      return;
    }
    const gen = this.gen;
    this.fetching = true;
    Promise.resolve().then(() => this.o.fetchTimeline(Math.floor(from / w) * w, to - 1)).then((steps) => {
      if (gen !== this.gen || this.stopped) return;
      this.fetching = false;
      this.failures = 0;
      const got = steps.filter((s) => s.end > from && s.end <= to && s.end > this.lastEnd)
        .map((s) => ({ ...s, source: "timeline" })).sort((a, b) => a.end - b.end); // once, whatever order it came in
      this.replayQ = merge(this.replayQ, got);
      if (this.replay === r) {
        r.from = to;
        if (r.from >= r.until) this.replay = null;
      }
      this.evaluate();
    }, (err) => {
      if (gen !== this.gen || this.stopped) return;
      this.fetching = false;
      this.failures++;
      this.retryAt = this.env.now() + Math.min(30000, 1000 * 2 ** (this.failures - 1));
      this.o.onError(err);
      this.evaluate();
    });
  }

  // schedule sleeps until the next window is due (a video clock is read
  // at least every pollMs), the next timeline read or its retry.
  schedule(c) {
    let wake = Infinity;
    if (c == null || this.videoMode) wake = this.o.pollMs;
    if (c != null) {
      const t = c + this.lead;
      const next = [this.replayQ[0], this.held[0]].filter(Boolean).map((x) => x.end);
      if (next.length && !this.paused) wake = Math.min(wake, Math.max(1, Math.min(...next) - t));
      const r = this.replay;
      if (r && !this.fetching && this.replayQ.length < this.o.chunkWindows / 2) {
        wake = Math.min(wake, Math.max(1, this.retryAt - this.env.now(), r.from - (this.o.chunkWindows * this.o.windowMs) / 2 - t));
      }
    }
    if (wake < Infinity) this.timer = this.env.setTimeout(() => this.evaluate(), wake);
  }
}

// reason is what a clock threw, as at most 200 characters of text: the
// app's value, whose toString may itself throw.
function reason(err) {
  try {
    return String(err instanceof Error ? err.message : err).slice(0, 200);
  } catch {
    return "(unprintable)";
  }
}

// merge merges b into a, both by window end (a's first among equal ends).
function merge(a, b) {
  if (!a.length) return b;
  const out = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) out.push(j >= b.length || (i < a.length && a[i].end <= b[j].end) ? a[i++] : b[j++]);
  return out;
}

// insert puts x into a by window end (almost always at the end).
function insert(a, x) {
  let i = a.length;
  while (i > 0 && a[i - 1].end > x.end) i--;
  a.splice(i, 0, x);
}
