// A Watch end to end: GET /v1/config, the scripted NATS server, the video
// clock and the timeline, through the public API only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient, hlsClock, bindMedia } from "../src/index.js";
import { FakeEnv, FakeNats, swarmOf, iso } from "./helpers.js";

const M = "final-2026";
const T0 = Date.parse("2026-11-23T05:00:00Z");
const win = (i) => T0 + 2000 * i;

function setup(o = {}) {
  const env = new FakeEnv(T0);
  const nats = new FakeNats();
  const gets = [];
  const fetch = async (url) => {
    gets.push(url);
    if (url.endsWith("/v1/config")) {
      return Response.json({ ws_urls: ["ws://edge-1", "ws://edge-2"], window_ms: 2000, swarm_threshold: 1000, emoji_types: ["🔥"] });
    }
    const q = new URL(url).searchParams;
    const from = Number(q.get("from"));
    const to = Number(q.get("to"));
    const steps = [];
    for (let s = from; s <= to; s += 2000) steps.push({ start: iso(s), end: iso(s + 2000), counts: { "🔥": 2500 }, total: 2500 });
    return Response.json({ match_id: M, step: "2s", steps, moments: [{ match_id: M, window_start: iso(from), window_end: iso(from + 2000), size: 2500, rule: "total" }] });
  };
  const c = createClient({ baseURL: "http://ingest.test", fetch, env, WebSocket: nats.WebSocket });
  let program = o.program ?? null;
  const base = env.now();
  const w = c.watch(M, { video: o.video === false ? undefined : () => (program == null ? null : program + (env.now() - base)), ...o.watch });
  const ev = { swarm: [], status: [], viewers: [], gap: [], all: [] };
  for (const k of Object.keys(ev)) if (k !== "all") w.on(k, (v) => ev[k].push(v));
  w.on("*", (type) => ev.all.push(type));
  return { env, nats, c, w, ev, gets, setProgram: (p) => { program = p; } };
}

test("a watch connects, joins, follows the video and reports occupancy", async () => {
  const s = setup({ program: win(0) });
  s.nats.publish(swarmOf(M, win(0), { "🔥": 3500 }, { viewers: 41, swarm: { "🔥": 3 } }), { live: false });
  await s.env.advance(0);
  assert.equal(s.gets[0], "http://ingest.test/v1/config");
  assert.deepEqual(s.ev.status.map((x) => x.state), ["connected"]);
  assert.deepEqual(s.ev.viewers, [41], "occupancy on receipt: it is not a spoiler");
  assert.deepEqual(s.ev.swarm, [], "window 0 is not on screen yet");
  s.nats.publish(swarmOf(M, win(1), { "🔥": 10 }, { viewers: 42 }));
  await s.env.advance(2000);
  assert.equal(s.ev.swarm.length, 1);
  const d = s.ev.swarm[0];
  assert.deepEqual({ start: d.start, end: d.end, source: d.source, total: d.total, units: d.units, viewers: d.viewers, matchId: d.matchId },
    { start: win(0), end: win(1), source: "latest", total: 3500, units: { "🔥": 3 }, viewers: 41, matchId: M });
  await s.env.advance(2000);
  assert.deepEqual(s.ev.swarm.map((x) => x.source), ["latest", "live"]);
  assert.deepEqual(s.ev.viewers, [41, 42]);
  s.w.close();
  assert.equal(s.ev.status.at(-1).state, "closed");
  assert.equal(s.nats.sockets.length, 0, "the last watch closed the connection");
});

test("a late joiner's screen: the stretch before the first swarm comes from the timeline, units from counts", async () => {
  const s = setup({ program: win(-5) }); // the video is 10 s behind window 0
  s.nats.publish(swarmOf(M, win(0)), { live: false });
  await s.env.advance(0);
  assert.equal(s.gets.length, 2);
  assert.match(s.gets[1], /\/v1\/matches\/final-2026\/timeline\?format=json&from=\d+&to=\d+&step=2s$/);
  await s.env.advance(12000);
  assert.deepEqual(s.ev.swarm.map((x) => x.source), ["timeline", "timeline", "timeline", "timeline", "timeline", "latest"]);
  assert.deepEqual(s.ev.swarm[0].units, { "🔥": 2 });
  assert.equal(s.ev.swarm[0].moments.length, 1);
  assert.equal(s.ev.swarm[0].swarm, null);
});

test("a timeline answer's moments are matched to its steps in (steps + moments) log steps, not steps × moments", async () => {
  const n = 5000; // steps, 2 s apart from window -5 on
  const m = 2000; // moments, one every 5 windows
  const env = new FakeEnv(T0);
  const nats = new FakeNats();
  const fetch = async (url) => {
    if (url.endsWith("/v1/config")) return Response.json({ ws_urls: ["ws://a"], window_ms: 2000, swarm_threshold: 1000, emoji_types: ["🔥"] });
    const steps = [];
    for (let i = 0; i < n; i++) steps.push({ start: iso(win(i - 5)), end: iso(win(i - 4)), counts: { "🔥": i }, total: i });
    const moments = [];
    for (let k = 0; k < m; k++) moments.push({ match_id: M, window_start: iso(win(5 * k - 5)), window_end: iso(win(5 * k - 4)), size: k, rule: "total" });
    return Response.json({ match_id: M, step: "2s", steps, moments });
  };
  const c = createClient({ baseURL: "http://ingest.test", fetch, env, WebSocket: nats.WebSocket });
  const w = c.watch(M, { video: () => win(-5) + (env.now() - T0) }); // 10 s behind window 0: its stretch comes from the timeline
  const shown = [];
  w.on("swarm", (d) => shown.push([(d.start - T0) / 2000, d.moments.map((x) => x.size)]));
  nats.publish(swarmOf(M, win(0)), { live: false });
  const parse = Date.parse;
  let parsed = 0;
  Date.parse = (x) => { parsed++; return parse(x); };
  try {
    await env.advance(0);
  } finally {
    Date.parse = parse;
  }
  assert.ok(parsed < 10 * (n + m), `${parsed} dates read for ${n} steps and ${m} moments`);
  await env.advance(10000);
  assert.deepEqual(shown, [[-5, [0]], [-4, []], [-3, []], [-2, []], [-1, []]]);
  w.close();
});

test("replayBy is passed to the timeline as by", async () => {
  const s = setup({ program: win(-2), watch: { replayBy: "program" } });
  s.nats.publish(swarmOf(M, win(0)), { live: false });
  await s.env.advance(0);
  assert.match(s.gets[1], /&by=program$/);
});

test("no video clock: live with a manual delay; the async iterator sees every event", async () => {
  const s = setup({ video: false, watch: { delayMs: 4000, fillOnJoin: false } });
  const it = s.w[Symbol.asyncIterator]();
  await s.env.advance(0);
  s.nats.publish(swarmOf(M, win(0)));
  await s.env.advance(5999);
  assert.equal(s.ev.swarm.length, 0);
  await s.env.advance(1);
  assert.equal(s.ev.swarm.length, 1);
  const seen = [];
  for (;;) {
    const { value } = await it.next();
    seen.push(value.type);
    if (value.type === "swarm") break;
  }
  assert.deepEqual(seen, ["status", "note", "swarm"]);
  s.w.close();
  assert.equal((await it.next()).value.type, "status");
  assert.equal((await it.next()).done, true);
});

test("overlapping next() calls of the async iterator are answered in order, and close ends the ones still waiting", async () => {
  const s = setup({ video: false, watch: { fillOnJoin: false } });
  await s.env.advance(0);
  const it = s.w[Symbol.asyncIterator]();
  const got = [];
  const calls = [1, 2, 3, 4].map((n) => it.next().then((r) => got.push([n, r.done ? "done" : r.value.type])));
  s.nats.publish(swarmOf(M, win(0), { "🔥": 1 }, { viewers: 7 })); // "viewers" on receipt, "swarm" at the window's end
  await s.env.advance(2000);
  assert.deepEqual(got, [[1, "viewers"], [2, "swarm"]]);
  s.w.close();
  await Promise.all(calls);
  assert.deepEqual(got, [[1, "viewers"], [2, "swarm"], [3, "status"], [4, "done"]]);
  assert.equal((await it.next()).done, true);
});

test("ready rejects when the config could not be read, after the error event and the closed status", async () => {
  const env = new FakeEnv(T0);
  let up = false;
  const fetch = async () => (up
    ? Response.json({ ws_urls: ["ws://a"], window_ms: 2000, swarm_threshold: 1000, emoji_types: ["🔥"] })
    : Response.json({ error: { code: "not_found", message: "no config here" } }, { status: 404 }));
  const nats = new FakeNats();
  const c = createClient({ fetch, env, WebSocket: nats.WebSocket });
  const w = c.watch(M);
  const seen = [];
  w.on("*", (type, v) => seen.push(type === "status" ? v.state : type));
  const unawaited = c.watch(M); // a page that never looks at ready: no unhandled rejection
  await assert.rejects(w.ready, (err) => err.status === 404);
  assert.deepEqual(seen, ["error", "closed"]);
  assert.equal(w.state, "closed");
  await env.advance(0);
  assert.equal(unawaited.state, "closed");
  up = true; // the config is read again for the next watch
  const next = c.watch(M);
  await next.ready;
  await env.advance(0);
  assert.equal(next.state, "connected");
  next.close();
});

test("windows lost while away are reported as a gap event", async () => {
  const s = setup({ video: false });
  s.nats.publish(swarmOf(M, win(0)), { live: false });
  await s.env.advance(0);
  s.nats.cut();
  s.nats.refuse = true;
  await s.env.advance(0);
  for (let i = 1; i <= 4; i++) s.nats.publish(swarmOf(M, win(i)));
  s.nats.forget(2);
  s.nats.refuse = false;
  await s.env.advance(20000);
  assert.deepEqual(s.ev.status.map((x) => x.state).slice(-2), ["reconnecting", "connected"]);
  assert.deepEqual(s.ev.gap.map((g) => [g.from, g.to, g.windows]), [[win(1), win(2), 1]]);
  assert.deepEqual(s.ev.swarm.map((x) => `${x.source}:${(x.start - T0) / 2000}`), ["latest:0", "recovered:2", "recovered:3", "recovered:4"]);
});

test("watch.react stamps the frame's program time unless sendVideoTs is false; a stamp refused as out of bounds goes again without", async () => {
  const posts = [];
  const env = new FakeEnv(T0);
  const fetch = async (url, init) => {
    const body = JSON.parse(init.body);
    posts.push(body);
    if (body[0].video_ts === T0 - 90000) { // a stream further behind live than the server takes
      return Response.json({ error: { code: "bad_video_ts", message: "video_ts: 90000 ms behind", index: 0 } }, { status: 400 });
    }
    return Response.json({ accepted: body.length, windows: [] }, { status: 202 });
  };
  const c = createClient({ fetch, env, config: { ws_urls: ["ws://a"] }, userId: "u", WebSocket: new FakeNats().WebSocket });
  const stamped = c.watch(M, { video: () => T0 - 20000 });
  const off = c.watch(M, { video: () => T0 - 20000, sendVideoTs: false });
  const unknown = c.watch(M, { video: () => null });
  const behind = c.watch(M, { video: () => T0 - 90000 });
  await env.advance(0);
  await stamped.react("🔥");
  await off.react("🔥");
  await unknown.react("🔥");
  const r = await behind.react("🔥");
  assert.equal(posts[0][0].video_ts, T0 - 20000);
  assert.equal("video_ts" in posts[1][0], false);
  assert.equal("video_ts" in posts[2][0], false);
  assert.equal(posts[3][0].video_ts, T0 - 90000);
  assert.equal("video_ts" in posts[4][0], false); // sent again without, same event_id
  assert.equal(posts[4][0].event_id, posts[3][0].event_id);
  assert.equal(r.eventId, posts[3][0].event_id);
});

test("a video clock off the scale of Unix ms (nanoseconds) sends the reaction without a stamp, not fails it", async () => {
  const posts = [];
  const env = new FakeEnv(T0);
  const fetch = async (url, init) => {
    const body = JSON.parse(init.body);
    posts.push(body);
    return Response.json({ accepted: body.length, windows: [] }, { status: 202 });
  };
  const c = createClient({ fetch, env, config: { ws_urls: ["ws://a"] }, userId: "u", WebSocket: new FakeNats().WebSocket });
  const w = c.watch(M, { video: () => T0 * 1e6 }); // a player reporting nanoseconds
  await env.advance(0);
  const r = await w.react("🔥");
  assert.equal(posts.length, 1);
  assert.equal("video_ts" in posts[0][0], false);
  assert.equal(r.eventId, posts[0][0].event_id);
  w.close();
});

test("a video clock that throws reads as unknown: the display goes on, react sends without a stamp, and one error tells the app", async () => {
  const posts = [];
  const env = new FakeEnv(T0);
  const nats = new FakeNats();
  const fetch = async (url, init) => {
    const body = JSON.parse(init.body);
    posts.push(body);
    return Response.json({ accepted: body.length, windows: [] }, { status: 202 });
  };
  const c = createClient({ fetch, env, config: { ws_urls: ["ws://a"] }, userId: "u", WebSocket: nats.WebSocket });
  let broken = false;
  const video = () => {
    if (broken) throw new TypeError("player detached"); // e.g. a player torn down under the clock
    return env.now(); // at live edge
  };
  const w = c.watch(M, { video, fillOnJoin: false });
  const shown = [];
  const errors = [];
  w.on("swarm", (d) => shown.push((d.start - T0) / 2000));
  w.on("error", (e) => errors.push(e));
  const it = w[Symbol.asyncIterator]();
  await env.advance(0);
  nats.publish(swarmOf(M, win(0)));
  await env.advance(0); // received; the clock answered
  broken = true;
  await env.advance(3000); // window 0 is due at 2000: held while the clock is unknown
  assert.deepEqual(shown, []);
  assert.equal(w.programTime(), null);
  await w.react("🔥");
  assert.equal(posts.length, 1);
  assert.equal("video_ts" in posts[0][0], false, "sent, without a stamp");
  assert.equal(errors.length, 1, "one error for twelve polls, programTime and react");
  assert.equal(errors[0].code, "video_clock");
  assert.ok(errors[0].cause instanceof TypeError);
  broken = false;
  await env.advance(250); // the loop still polls the clock
  assert.deepEqual(shown, [0]);
  await w.react("👏");
  assert.equal(posts[1][0].video_ts, T0 + 3250);
  broken = true;
  await env.advance(1000);
  assert.equal(errors.length, 2, "broken again after it answered: a new error");
  w.close();
  const types = [];
  for (let e = await it.next(); !e.done; e = await it.next()) types.push(e.value.type);
  assert.equal(types.filter((t) => t === "error").length, 2, "the iterator yields the errors too");
});

test("helpers: hlsClock reads hls.playingDate; bindMedia forwards play, pause and seeked", async () => {
  const hls = { playingDate: null };
  const clock = hlsClock(hls);
  assert.equal(clock(), null);
  hls.playingDate = new Date(T0);
  assert.equal(clock(), T0);
  const calls = [];
  const handlers = {};
  const media = { paused: true, addEventListener: (k, f) => { handlers[k] = f; }, removeEventListener: (k) => { delete handlers[k]; } };
  const unbind = bindMedia(media, { play: () => calls.push("play"), pause: () => calls.push("pause"), seeked: () => calls.push("seeked") });
  for (const k of ["playing", "seeked", "pause"]) handlers[k]();
  assert.deepEqual(calls, ["pause", "play", "seeked", "pause"]);
  unbind();
  assert.deepEqual(Object.keys(handlers), []);
});

test("client.close ends its watches: no timer left, and a later watch's connection is not closed by an old one", async () => {
  const s = setup({ program: win(0) });
  s.nats.publish(swarmOf(M, win(0)), { live: false });
  await s.env.advance(0);
  assert.equal(s.nats.sockets.length, 1);
  s.c.close(); // the app's unmount, without closing the watch first
  await s.env.advance(0);
  assert.equal(s.ev.status.at(-1).state, "closed");
  assert.equal(s.env.timers.size, 0, "no timer of the closed client's watch runs on");
  s.w.close(); // closing it again afterwards changes nothing
  const a = s.c.watch(M, { fillOnJoin: false });
  const b = s.c.watch(M, { fillOnJoin: false });
  await s.env.advance(0);
  assert.equal(s.nats.sockets.length, 1);
  a.close();
  await s.env.advance(0);
  assert.equal(s.nats.sockets.length, 1, "the connection stays while watch b uses it");
  assert.equal(b.state, "connected");
  b.close();
  assert.equal(s.nats.sockets.length, 0, "the last watch closed the connection");
});
