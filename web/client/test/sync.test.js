// The playback-synced scheduler on a fake clock and a fake video: lead,
// pause, seek back (replay from the timeline) and forward (skip), the
// buffer bound, the fallback to live with a manual delay, and a property
// test: no window is ever shown before its moment is on screen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sync } from "../src/sync.js";
import { FakeEnv, rng } from "./helpers.js";

const W = 2000;
const LIVE = Date.parse("2026-11-23T05:00:00Z");
const item = (i) => ({ start: LIVE + W * i, end: LIVE + W * (i + 1), source: "live", swarm: { i } });
const idx = (x) => (x.start - LIVE) / W;

// FakeVideo plays program time at 1x from where it was put.
class FakeVideo {
  constructor(env, program) {
    this.env = env;
    this.base = program;
    this.wall = env.now();
    this.playing = true;
    this.clock = () => (this.playing ? this.base + (this.env.now() - this.wall) : this.base);
  }
  pause() { if (this.playing) { this.base = this.clock(); this.playing = false; } }
  play() { if (!this.playing) { this.wall = this.env.now(); this.playing = true; } }
  seek(p) { this.base = p; this.wall = this.env.now(); }
}

// timeline answers from windows 0..n-1, each with counts {"🔥": i}.
function timeline(calls, { fail = () => false } = {}) {
  return async (from, to) => {
    calls.push([idx({ start: from }), (to - LIVE) / W]);
    if (fail()) throw new Error("timeline down");
    const out = [];
    for (let s = Math.floor((from - LIVE) / W); LIVE + s * W <= to; s++) {
      if (s >= 0) out.push({ start: LIVE + s * W, end: LIVE + (s + 1) * W, counts: { "🔥": s }, total: s });
    }
    return out;
  };
}

function setup(o = {}) {
  const env = new FakeEnv(LIVE);
  const video = o.video === false ? null : new FakeVideo(env, o.program ?? LIVE);
  const log = { shown: [], skips: [], overflows: [], errors: [], calls: [] };
  const sync = new Sync({ env, windowMs: W, video: video && video.clock,
    fetchTimeline: o.fetch === false ? null : timeline(log.calls, o), ...o.sync,
    onDisplay: (x) => log.shown.push({ i: idx(x), src: x.source, at: env.now(), clock: sync.clock() }),
    onSkip: (s) => log.skips.push(s), onOverflow: (s) => log.overflows.push(idx(s)), onError: (e) => log.errors.push(e) });
  return { env, video, sync, log };
}

test("a window is shown when the video reaches its end, not before", async () => {
  const { env, sync, log } = setup({ program: LIVE }); // the video shows window 0's start now
  for (let i = 0; i < 5; i++) sync.push(item(i));
  await env.advance(1999);
  assert.deepEqual(log.shown, []);
  await env.advance(1);
  assert.deepEqual(log.shown.map((s) => [s.i, s.at - LIVE]), [[0, 2000]]);
  await env.advance(8000);
  assert.deepEqual(log.shown.map((s) => [s.i, s.at - LIVE]), [[0, 2000], [1, 4000], [2, 6000], [3, 8000], [4, 10000]]);
  for (const s of log.shown) assert.ok(s.clock >= LIVE + W * (s.i + 1));
});

test("lead: negative shows later, positive earlier, at most one window early", async () => {
  for (const [lead, want] of [[-500, 2500], [700, 1300], [5000, 0], [-400000, 302000]]) {
    const { env, sync, log } = setup({ sync: { lead } });
    sync.push(item(0));
    await env.advance(400000);
    assert.equal(log.shown[0].at - LIVE, want, `lead ${lead}`);
  }
});

test("pausing holds the windows; playing shows them at their moment", async () => {
  const { env, video, sync, log } = setup();
  for (let i = 0; i < 3; i++) sync.push(item(i));
  await env.advance(2000);
  video.pause();
  sync.pause();
  await env.advance(30000);
  assert.deepEqual(log.shown.map((s) => s.i), [0]);
  video.play();
  sync.play();
  await env.advance(1999);
  assert.deepEqual(log.shown.map((s) => s.i), [0]);
  await env.advance(1);
  assert.deepEqual(log.shown.map((s) => [s.i, s.at - LIVE]), [[0, 2000], [1, 34000]]);
});

test("while paused a window that arrives late waits for play", async () => {
  const { env, video, sync, log } = setup();
  await env.advance(5000);
  video.pause();
  sync.pause();
  sync.push(item(0)); // its end is behind the paused frame
  await env.advance(1000);
  assert.deepEqual(log.shown, []);
  video.play();
  sync.play();
  await env.advance(0);
  assert.deepEqual(log.shown.map((s) => s.i), [0]);
});

test("seeking back replays the sought stretch from the 2s timeline, then the held swarms", async () => {
  const { env, video, sync, log } = setup();
  for (let i = 0; i < 8; i++) sync.push(item(i));
  await env.advance(10000); // windows 0-4 shown
  assert.deepEqual(log.shown.map((s) => s.i), [0, 1, 2, 3, 4]);
  video.seek(LIVE + 3000); // back into window 1
  sync.seeked();
  await env.advance(0);
  assert.deepEqual(log.calls, [[1, 4.9995]], "one read for the windows ending after the sought point up to the last shown");
  await env.advance(20000);
  assert.deepEqual(log.shown.slice(5).map((s) => `${s.src}:${s.i}`),
    ["timeline:1", "timeline:2", "timeline:3", "timeline:4", "live:5", "live:6", "live:7"]);
  for (const s of log.shown) assert.ok(s.clock >= LIVE + W * (s.i + 1), `window ${s.i} shown at ${s.clock}`);
  assert.equal(log.shown[5].at - LIVE, 10000 + 1000, "window 1 again when the video reaches its end");
});

test("a seek back nobody announced is noticed from the clock", async () => {
  const { env, video, sync, log } = setup();
  for (let i = 0; i < 4; i++) sync.push(item(i));
  await env.advance(8000);
  video.seek(LIVE + 1000);
  await env.advance(300); // the next poll
  assert.equal(log.calls.length, 1);
  await env.advance(8000);
  assert.deepEqual(log.shown.slice(4).map((s) => `${s.src}:${s.i}`), ["timeline:0", "timeline:1", "timeline:2", "timeline:3"]);
});

test("seeking forward skips the windows jumped over", async () => {
  const { env, video, sync, log } = setup();
  for (let i = 0; i < 10; i++) sync.push(item(i));
  await env.advance(2000);
  video.seek(LIVE + 12500);
  sync.seeked();
  await env.advance(0);
  assert.deepEqual(log.skips, [{ from: LIVE + W, to: LIVE + 6 * W, windows: 5, reason: "seek" }]);
  await env.advance(1500);
  assert.deepEqual(log.shown.map((s) => s.i), [0, 6]);
  sync.push(item(3)); // a late recovered window the seek passed
  assert.equal(log.skips.at(-1).reason, "passed");
});

test("the buffer holds at most maxBuffered swarms; the oldest leave and come back from the timeline", async () => {
  const { env, sync, log } = setup({ program: LIVE - 60000, sync: { maxBuffered: 5 } }); // a minute behind
  for (let i = 0; i < 8; i++) sync.push(item(i));
  assert.deepEqual(log.overflows, [0, 1, 2]);
  await env.advance(60000 + 16000);
  assert.deepEqual(log.shown.map((s) => `${s.src}:${s.i}`),
    ["timeline:0", "timeline:1", "timeline:2", "live:3", "live:4", "live:5", "live:6", "live:7"]);
  for (const s of log.shown) assert.ok(s.clock >= LIVE + W * (s.i + 1));
});

test("without a timeline an overflow is a skip", async () => {
  const { sync, log } = setup({ fetch: false, sync: { maxBuffered: 2, fillOnJoin: false } });
  for (let i = 0; i < 4; i++) sync.push(item(i + 100));
  assert.deepEqual(log.skips.map((s) => s.reason), ["buffer full", "buffer full"]);
});

test("joining behind live: the stretch before the first swarm comes from the timeline", async () => {
  const { env, sync, log } = setup({ program: LIVE }); // the screen is 20 s behind the first swarm
  sync.push(item(10));
  await env.advance(0);
  assert.deepEqual(log.calls, [[0, 9.9995]]);
  await env.advance(22000);
  assert.deepEqual(log.shown.map((s) => `${s.src}:${s.i}`), [...Array.from({ length: 10 }, (_, i) => `timeline:${i}`), "live:10"]);
});

test("a long replay is read in chunks, just ahead of the video", async () => {
  const { env, video, sync, log } = setup({ program: LIVE });
  for (let i = 0; i < 200; i++) sync.push({ ...item(i), end: LIVE + W * (i + 1) });
  await env.advance(400000); // 200 windows shown
  video.seek(LIVE);
  sync.seeked();
  await env.advance(0);
  assert.equal(log.calls.length, 1);
  assert.deepEqual(log.calls[0], [0, 59.9995]);
  await env.advance(400000);
  assert.deepEqual(log.calls.map((c) => c[0]), [0, 60, 120, 180]);
  const replayed = log.shown.filter((s) => s.src === "timeline").map((s) => s.i);
  assert.deepEqual(replayed, Array.from({ length: 200 }, (_, i) => i));
});

test("a timeline read that fails is retried with a backoff, and windows it could not get in time are skipped", async () => {
  let down = true;
  const { env, video, sync, log } = setup({ fail: () => down });
  for (let i = 0; i < 5; i++) sync.push(item(i));
  await env.advance(10000);
  video.seek(LIVE);
  sync.seeked();
  await env.advance(0);
  assert.equal(log.errors.length, 1);
  await env.advance(1000);
  assert.equal(log.calls.length, 2, "retried after 1 s");
  await env.advance(2000);
  assert.equal(log.calls.length, 3, "then after 2 s");
  down = false;
  await env.advance(4000);
  assert.ok(log.skips.some((s) => s.reason === "late"), JSON.stringify(log.skips));
  const replayed = log.shown.filter((s) => s.src === "timeline");
  assert.ok(replayed.length >= 1);
  for (const s of replayed) assert.ok(s.clock >= LIVE + W * (s.i + 1) && s.clock - LIVE - W * (s.i + 1) <= W);
});

test("a hostile timeline answer in reverse order costs n log n comparisons, not n²", async () => {
  // 4000 steps, 30 ms apart, newest first, inside one chunk read on join;
  // each window end counts the comparisons it takes part in.
  const n = 4000;
  let compared = 0;
  const end = (ms) => ({ valueOf: () => { compared++; return ms; } });
  const env = new FakeEnv(LIVE);
  const video = new FakeVideo(env, LIVE);
  const shown = [];
  const sync = new Sync({ env, windowMs: W, video: video.clock,
    fetchTimeline: async (from, to) => {
      const out = [];
      for (let k = 0; k < n; k++) out.push({ start: to + 1 - 30 * (k + 1), end: end(to + 1 - 30 * k), counts: {}, total: 0 });
      return out;
    },
    onDisplay: (x) => shown.push(+x.end) });
  sync.push(item(70)); // the stretch before window 70 comes from the timeline: one chunk of 60 windows
  await env.advance(0);
  assert.equal(sync.replayQ.length, n);
  assert.ok(compared < 40 * n, `${compared} comparisons for ${n} steps`);
  await env.advance(60 * W);
  assert.equal(shown.length, n, "every step shown, in its time");
  assert.ok(shown.every((e, i) => i === 0 || e > shown[i - 1]), "in order");
});

test("without a video clock: live, or live less a manual delay; pausing adds to the delay", async () => {
  const { env, sync, log } = setup({ video: false });
  await env.advance(3000);
  sync.push(item(0));
  assert.deepEqual(log.shown.map((s) => [s.i, s.at - LIVE]), [[0, 3000]], "live: shown at once");
  const b = setup({ video: false, sync: { delayMs: 30000 } });
  b.sync.push(item(0));
  await b.env.advance(40000);
  assert.deepEqual(b.log.shown.map((s) => [s.i, s.at - LIVE]), [[0, 32000]]);
  const c = setup({ video: false, sync: { delayMs: 1000, fillOnJoin: false } });
  c.sync.push(item(0));
  c.sync.pause();
  await c.env.advance(10000);
  assert.deepEqual(c.log.shown, []);
  c.sync.play();
  await c.env.advance(2999);
  assert.deepEqual(c.log.shown, []);
  await c.env.advance(1);
  assert.deepEqual(c.log.shown.map((s) => [s.i, s.at - LIVE]), [[0, 13000]], "the paused 10 s were added");
  c.sync.setDelay(0); // back to live
  c.sync.push(item(5)); // ends at 12 s, before now (13 s)
  assert.equal(c.log.shown.length, 2);
});

test("a video clock that never answered: live by default, or hold; one that answered once holds while it is null", async () => {
  const env = new FakeEnv(LIVE + 10000);
  let v = null;
  const shown = [];
  const sync = new Sync({ env, windowMs: W, video: () => v, onDisplay: (x) => shown.push(idx(x)) });
  sync.push(item(0));
  assert.deepEqual(shown, [0], "null from the start: live");
  const held = new Sync({ env, windowMs: W, video: () => v, unknown: "hold", onDisplay: (x) => shown.push(10 + idx(x)) });
  held.push(item(0));
  await env.advance(1000);
  assert.deepEqual(shown, [0]);
  v = LIVE + 2000;
  await env.advance(250);
  assert.deepEqual(shown, [0, 10]);
  v = null; // the player lost its clock for a moment (a seek in progress, a new stream)
  sync.push(item(1));
  sync.push(item(2));
  await env.advance(1000);
  assert.deepEqual(shown, [0, 10, 1, 2], "the first sync never had a clock: live");
  v = LIVE;
  held.push(item(1));
  await env.advance(500);
  v = null;
  await env.advance(5000);
  assert.deepEqual(shown, [0, 10, 1, 2], "known once: null holds");
});

test("a video clock that throws is reported once per run of throws, not once per reading", async () => {
  const env = new FakeEnv(LIVE);
  let fault = null;
  const errors = [];
  const shown = [];
  const sync = new Sync({ env, windowMs: W, onDisplay: (x) => shown.push(idx(x)), onError: (e) => errors.push(e),
    video: () => {
      if (fault) throw fault;
      return env.now();
    } });
  sync.push(item(0));
  await env.advance(0);
  fault = new TypeError("player detached");
  await env.advance(10000); // forty readings (pollMs 250) and more from clock()
  for (let i = 0; i < 100; i++) assert.equal(sync.clock(), null);
  assert.equal(errors.length, 1, "one error for the whole run");
  assert.equal(errors[0].code, "video_clock");
  assert.equal(errors[0].cause, fault);
  assert.match(errors[0].message, /video clock threw: player detached/);
  assert.deepEqual(shown, [], "held while the clock is unknown");
  fault = null;
  await env.advance(250);
  assert.deepEqual(shown, [0], "the clock answered again");
  fault = "not even an Error"; // a run of throws after an answer is a new failure
  await env.advance(5000);
  assert.equal(errors.length, 2);
  assert.equal(errors[1].cause, fault);
  sync.setVideo(() => { throw new RangeError("another player"); }); // a new clock that throws at once
  await env.advance(5000);
  assert.equal(errors.length, 3);
  assert.match(errors[2].message, /another player/);
  for (const odd of [new Error("x".repeat(1e6)), { toString() { throw new Error("no"); } }, Symbol("s"), undefined]) {
    sync.setVideo(() => { throw odd; });
    assert.equal(sync.videoTime(), null);
  }
  assert.equal(errors.length, 7);
  assert.ok(errors.slice(3).every((e) => e.code === "video_clock" && e.message.length < 300), "a message of at most 200 characters of what was thrown");
  sync.stop();
});

test("property: whatever the video does, no window is shown before its end is on screen, and order holds between seeks", async () => {
  const total = { shown: 0, timeline: 0, skipped: 0, overflow: 0 };
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(seed);
    const lead = Math.floor(r() * 4000) - 3000;
    const o = setup({ program: LIVE - Math.floor(r() * 40000), sync: { lead, maxBuffered: 1 + Math.floor(r() * 60) } });
    const { env, video, sync, log } = o;
    let next = 0;
    let lastShownEnd = -Infinity;
    let checked = 0;
    const trace = [];
    const orig = sync.o.onDisplay;
    sync.o.onDisplay = (x) => {
      orig(x);
      trace.push(`show ${x.source}:${idx(x)}@${(sync.clock() - LIVE) / 1000}`);
      const c = sync.clock();
      assert.ok(x.end <= c + sync.lead, `seed ${seed}: window ending ${x.end - LIVE} shown at clock ${c - LIVE} lead ${sync.lead}`);
      assert.ok(x.end > lastShownEnd, `seed ${seed}: out of order: ${idx(x)} ${x.source} after ${(lastShownEnd - LIVE) / W - 1}; ${trace.slice(-8).join(" ")}`);
      lastShownEnd = x.end;
      checked++;
    };
    for (let step = 0; step < 150; step++) {
      const a = r();
      if (a < 0.4) sync.push(item(next++));
      else if (a < 0.75) await env.advance(Math.floor(r() * 3000));
      else if (a < 0.82) { video.pause(); sync.pause(); }
      else if (a < 0.89) { video.play(); sync.play(); }
      else {
        video.seek(video.clock() + Math.floor((r() - 0.6) * 60000));
        trace.push(`seek ${(video.clock() - LIVE) / 1000}`);
        lastShownEnd = -Infinity; // a seek starts a new run
        if (r() < 0.7) sync.seeked(); // else found by polling
      }
    }
    await env.advance(120000);
    total.shown += checked;
    total.timeline += log.shown.filter((x) => x.src === "timeline").length;
    total.skipped += log.skips.length;
    total.overflow += log.overflows.length;
  }
  // the runs did exercise every path
  assert.ok(total.shown > 500 && total.shown - total.timeline > 100 && total.timeline > 100 && total.skipped > 10 && total.overflow > 10, JSON.stringify(total));
});
