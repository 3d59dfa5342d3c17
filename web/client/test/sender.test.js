// Sending reactions: batching by the server's limits, retries with the
// same event_ids, Retry-After and backoff, refusals, tokens; and the
// timeline and config readers. fetch is scripted; time is a fake clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "../src/index.js";
import { ApiError } from "../src/api.js";
import { FakeEnv, settle } from "./helpers.js";

const CONFIG = { ws_urls: ["ws://127.0.0.1:9222"], window_ms: 2000, swarm_threshold: 1000, emoji_types: ["🔥", "👏"],
  limits: { max_events: 1000, user_rate: 20, user_burst: 100, ip_rate: 10000, ip_burst: 20000 } };

const json = (status, body, headers = {}) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
const refusal = (status, code, index, headers) => json(status, { error: { code, message: `${code} here`, index } }, headers);

// server answers each POST with the next scripted answer (a Response, an
// Error to throw, or a function of the request); 202 when none is left.
function server(script = []) {
  const calls = [];
  const fetch = async (url, init = {}) => {
    const body = init.body ? JSON.parse(init.body) : null;
    const call = { url, method: init.method || "GET", headers: init.headers || {}, body, at: env.now() };
    calls.push(call);
    let a = script.shift();
    if (typeof a === "function") a = a(call);
    if (a instanceof Error) throw a;
    return a || json(202, { accepted: Array.isArray(body) ? body.length : 1, windows: [1795410000000] });
  };
  const env = new FakeEnv();
  return { calls, fetch, env };
}

function client(s, o = {}) {
  return createClient({ baseURL: "http://ingest.test", fetch: s.fetch, env: s.env, config: CONFIG, userId: "u-1", ...o });
}

test("reactions of one moment go in one request; those sent meanwhile in the next", async () => {
  const s = server([() => new Promise((r) => setTimeout(() => r(json(202, { accepted: 3, windows: [1] })), 20))]);
  const c = client(s);
  const first = ["🔥", "👏", "🔥"].map((e) => c.react({ matchId: "m1", emoji: e }));
  await settle();
  const later = [c.react({ matchId: "m1", emoji: "👏" }), c.react({ matchId: "m1", emoji: "🔥", videoTs: 1795409990123 })];
  const got = await Promise.all([...first, ...later]);
  assert.equal(s.calls.length, 2);
  assert.equal(s.calls[0].url, "http://ingest.test/v1/emojis");
  assert.equal(s.calls[0].headers["Content-Type"], "application/json");
  assert.equal(s.calls[0].body.length, 3);
  assert.equal(s.calls[1].body.length, 2);
  const ev = s.calls[1].body[1];
  assert.deepEqual(Object.keys(ev).sort(), ["emoji_type", "event_id", "match_id", "user_id", "video_ts"]);
  assert.equal(ev.video_ts, 1795409990123);
  assert.equal("video_ts" in s.calls[1].body[0], false, "video_ts only when given");
  assert.match(ev.event_id, /^[0-9a-f]{32}$/);
  assert.equal(new Set(s.calls.flatMap((c) => c.body.map((e) => e.event_id))).size, 5);
  assert.deepEqual(got[0], { eventId: s.calls[0].body[0].event_id, accepted: 3, windows: [1] });
});

test("batches follow the server's limits: max_events, and user_burst per user", async () => {
  const s = server();
  const c = client(s, { config: { ...CONFIG, limits: { max_events: 4, user_burst: 3, ip_burst: 0 } } });
  const ps = [];
  for (let i = 0; i < 5; i++) ps.push(c.react({ matchId: "m1", emoji: "🔥", userId: "a" }));
  for (let i = 0; i < 2; i++) ps.push(c.react({ matchId: "m1", emoji: "🔥", userId: "b" }));
  await Promise.all(ps);
  assert.deepEqual(s.calls.map((x) => x.body.map((e) => e.user_id).join("")), ["aaab", "aab"]);
  // with a token every event is the token's user
  const t = server();
  const tc = client(t, { userId: undefined, token: () => "jwt", config: { ...CONFIG, limits: { max_events: 1000, user_burst: 2 } } });
  await Promise.all([1, 2, 3, 4, 5].map(() => tc.react({ matchId: "m1", emoji: "🔥" })));
  assert.deepEqual(t.calls.map((x) => x.body.length), [2, 2, 1]);
});

test("503 and no answer are retried with the same event_ids after a doubling backoff", async () => {
  const s = server([refusal(503, "kafka_unavailable"), new TypeError("fetch failed"), refusal(503, "kafka_unavailable")]);
  const c = client(s);
  const p = c.react({ matchId: "m1", emoji: "🔥" });
  await s.env.advance(0);
  assert.equal(s.calls.length, 1);
  await s.env.advance(499);
  assert.equal(s.calls.length, 1);
  await s.env.advance(1);
  assert.equal(s.calls.length, 2);
  await s.env.advance(1000);
  assert.equal(s.calls.length, 3);
  await s.env.advance(2000);
  assert.equal(s.calls.length, 4);
  const r = await p;
  assert.equal(r.accepted, 1);
  const ids = s.calls.map((x) => JSON.stringify(x.body));
  assert.equal(new Set(ids).size, 1, "every try sent the same body, the same event_id");
});

test("429 waits as long as Retry-After says, in seconds or as a date", async () => {
  const s = server([refusal(429, "rate_limited", undefined, { "Retry-After": "3" }),
    (call) => refusal(429, "rate_limited", undefined, { "Retry-After": new Date(call.at + 5000).toUTCString() })]);
  const c = client(s);
  const p = c.react({ matchId: "m1", emoji: "🔥" });
  await s.env.advance(2999);
  assert.equal(s.calls.length, 1);
  await s.env.advance(1);
  assert.equal(s.calls.length, 2);
  await s.env.advance(4000);
  assert.equal(s.calls.length, 2);
  await s.env.advance(1000);
  assert.equal(s.calls.length, 3);
  await p;
  assert.deepEqual(s.calls.map((x) => x.at - s.calls[0].at), [0, 3000, 8000]);
});

test("retries end after maxAttempts with a retryable ApiError", async () => {
  const s = server(Array.from({ length: 10 }, () => refusal(503, "kafka_unavailable", undefined, { "Retry-After": "1" })));
  const c = client(s, { send: { maxAttempts: 3 } });
  const p = c.react({ matchId: "m1", emoji: "🔥" });
  const outcome = p.catch((e) => e);
  await s.env.advance(5000);
  const err = await outcome;
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 503);
  assert.equal(err.code, "kafka_unavailable");
  assert.equal(err.retryable, true);
  assert.equal(s.calls.length, 3);
});

test("a refusal naming one event fails that reaction; the others go again with their ids", async () => {
  const s = server([refusal(400, "unknown_emoji", 1)]);
  const c = client(s);
  const ps = ["🔥", "🐍", "👏"].map((e) => c.react({ matchId: "m1", emoji: e }).then((r) => r.eventId, (e) => e));
  const [a, b, d] = await Promise.all(ps);
  assert.ok(b instanceof ApiError);
  assert.equal(b.code, "unknown_emoji");
  assert.equal(b.index, 1);
  assert.equal(b.retryable, false);
  assert.deepEqual(s.calls[1].body.map((e) => e.event_id), [a, d]);
  assert.deepEqual(s.calls[1].body.map((e) => e.emoji_type), ["🔥", "👏"]);
});

test("a videoTs the app gave and the server refuses (bad_video_ts) fails that reaction only", async () => {
  const s = server([refusal(400, "bad_video_ts", 1)]);
  const c = client(s);
  const ps = [{ emoji: "🔥" }, { emoji: "👏", videoTs: 1795409000000 }, { emoji: "🔥" }].map((r) =>
    c.react({ matchId: "m1", ...r }).then((x) => x.eventId, (e) => e));
  const [a, b, d] = await Promise.all(ps);
  assert.ok(b instanceof ApiError);
  assert.equal(b.code, "bad_video_ts");
  assert.deepEqual(s.calls[1].body.map((e) => e.event_id), [a, d]);
  await assert.rejects(c.react({ matchId: "m1", emoji: "🔥", videoTs: 0 }), (e) => e.code === "bad_field");
});

test("an unknown or ended match fails every reaction to it; the other matches go on", async () => {
  const s = server([refusal(409, "match_not_live", 1)]);
  const c = client(s);
  const ps = [["m1", "🔥"], ["old", "🔥"], ["m1", "👏"], ["old", "👏"]].map(([m, e]) =>
    c.react({ matchId: m, emoji: e }).then(() => "ok", (err) => err.code));
  assert.deepEqual(await Promise.all(ps), ["ok", "match_not_live", "ok", "match_not_live"]);
  assert.deepEqual(s.calls[1].body.map((e) => e.match_id), ["m1", "m1"]);
});

test("burst_exceeded splits the request where the server points; 413 halves it", async () => {
  const s = server([refusal(400, "burst_exceeded", 2), undefined, refusal(413, "body_too_large")]);
  const c = client(s, { config: { ...CONFIG, limits: null } });
  await Promise.all([1, 2, 3, 4, 5].map(() => c.react({ matchId: "m1", emoji: "🔥" })));
  assert.deepEqual(s.calls.map((x) => x.body.length), [5, 2, 3, 2, 1]);
});

test("other refusals fail the whole request with the server's code and message", async () => {
  const s = server([refusal(403, "forbidden"), json(500, { error: { code: "internal", message: "a bug" } })]);
  const c = client(s);
  const errs = await Promise.all([c.react({ matchId: "m1", emoji: "🔥" }), c.react({ matchId: "m1", emoji: "👏" })].map((p) => p.catch((e) => e)));
  assert.deepEqual(errs.map((e) => [e.status, e.code]), [[403, "forbidden"], [403, "forbidden"]]);
  assert.match(errs[0].message, /403 forbidden: forbidden here/);
  const e500 = await c.react({ matchId: "m1", emoji: "🔥" }).catch((e) => e);
  assert.deepEqual([e500.status, e500.code, e500.retryable], [500, "internal", false]);
});

test("a token provider: Bearer on every request, a fresh one once after 401, its failure named", async () => {
  const s = server([refusal(401, "unauthorized")]);
  const asked = [];
  const c = client(s, { userId: undefined, token: async ({ refresh }) => { asked.push(refresh); return refresh ? "new" : "old"; } });
  await c.react({ matchId: "m1", emoji: "🔥" });
  assert.deepEqual(asked, [false, true]);
  assert.deepEqual(s.calls.map((x) => x.headers.Authorization), ["Bearer old", "Bearer new"]);
  assert.equal("user_id" in s.calls[0].body[0], false, "with a token the server takes the token's user");
  const s2 = server([refusal(401, "unauthorized"), refusal(401, "unauthorized")]);
  const c2 = client(s2, { token: () => "t" });
  assert.equal((await c2.react({ matchId: "m1", emoji: "🔥" }).catch((e) => e)).status, 401);
  const c3 = client(server(), { token: () => { throw new Error("signed out"); } });
  const e3 = await c3.react({ matchId: "m1", emoji: "🔥" }).catch((e) => e);
  assert.equal(e3.code, "token");
  assert.match(e3.message, /signed out/);
});

test("bad input is refused before anything is sent", async () => {
  const s = server();
  const c = client(s);
  for (const r of [{ matchId: "a b", emoji: "🔥" }, { matchId: "m\r\n", emoji: "🔥" }, { matchId: "x".repeat(65), emoji: "🔥" },
    { matchId: "m1", emoji: "" }, { matchId: "m1", emoji: 5 }, { matchId: "m1", emoji: "🔥", videoTs: 1.5 },
    { matchId: "m1", emoji: "🔥", videoTs: -1 }, { matchId: "m1", emoji: "🔥", videoTs: "1795409990123" },
    { matchId: "m1", emoji: "🔥", eventId: "x".repeat(65) }, { matchId: "m1", emoji: "🔥", userId: "" }]) {
    const err = await c.react(r).catch((e) => e);
    assert.equal(err.code, "bad_field", JSON.stringify(r));
  }
  assert.equal(s.calls.length, 0);
});

test("the queue is bounded; close fails what waits", async () => {
  const s = server([() => new Promise(() => {})]); // the first request never ends
  const c = client(s, { send: { maxQueued: 3 } });
  const ps = [1, 2, 3, 4].map(() => c.react({ matchId: "m1", emoji: "🔥" }).catch((e) => e.code));
  await settle();
  const more = [5, 6, 7, 8].map(() => c.react({ matchId: "m1", emoji: "🔥" }).catch((e) => e.code));
  assert.equal(await more[3], "queue_full");
  c.close();
  assert.deepEqual(await Promise.all(more), ["closed", "closed", "closed", "queue_full"]);
  assert.equal(ps.length, 4);
});

test("close during a retry's wait fails the reaction and sends nothing more", async () => {
  const s = server([refusal(429, "rate_limited", undefined, { "Retry-After": "60" })]);
  const c = client(s);
  const outcome = c.react({ matchId: "m1", emoji: "🔥" }).then(() => "sent", (e) => e.code);
  await s.env.advance(1000);
  assert.equal(s.calls.length, 1);
  c.close();
  await settle();
  assert.equal(s.env.timers.size, 0, "the wait ends with close");
  await s.env.advance(60000);
  assert.equal(s.calls.length, 1, "no request after close");
  assert.equal(await outcome, "closed");
});

test("timeline: the query passed through, times as Unix ms, a bad answer refused", async () => {
  const body = { match_id: "m1", step: "2s", from: "2026-11-23T05:00:00Z", to: "2026-11-23T05:00:04Z",
    steps: [{ start: "2026-11-23T05:00:00Z", end: "2026-11-23T05:00:02Z", counts: { "🔥": 3, "bad": -1 }, total: 3 }, { start: "x" }],
    totals: { "🔥": 3 }, total: 3, moments: [{ window_start: "2026-11-23T05:00:00Z", rule: "total" }, 5] };
  const s = server([json(200, body), refusal(429, "rate_limited", undefined, { "Retry-After": "1" }), json(200, body), json(200, { nope: 1 })]);
  const c = client(s);
  const t = await c.timeline("m1", { from: 1795410000000, to: new Date(1795410004000), step: "2s", by: "program" });
  assert.equal(s.calls[0].url, "http://ingest.test/v1/matches/m1/timeline?format=json&from=1795410000000&to=1795410004000&step=2s&by=program");
  assert.deepEqual(t.steps, [{ start: Date.parse("2026-11-23T05:00:00Z"), end: Date.parse("2026-11-23T05:00:02Z"), counts: { "🔥": 3 }, total: 3 }]);
  assert.equal(t.moments.length, 1);
  assert.equal(t.from, Date.parse("2026-11-23T05:00:00Z"));
  const again = c.timeline("m1");
  await s.env.advance(1000);
  assert.equal((await again).total, 3, "429 retried after Retry-After");
  assert.equal((await c.timeline("m1").catch((e) => e)).code, "bad_answer");
  for (const q of [{ step: "3s" }, { by: "Program!" }, { from: 1.5 }]) {
    assert.equal((await c.timeline("m1", q).catch((e) => e)).code, "bad_field");
  }
  assert.equal((await c.timeline("../x").catch((e) => e)).code, "bad_field");
});

test("config: GET /v1/config read once and checked", async () => {
  const s = server([json(200, { ...CONFIG, ws_urls: ["ws://a", "javascript:alert(1)", "wss://b"], window_ms: -5 })]);
  const c = createClient({ baseURL: "http://ingest.test/", fetch: s.fetch, env: s.env });
  const cfg = await c.config();
  await c.config();
  assert.equal(s.calls.length, 1);
  assert.equal(s.calls[0].url, "http://ingest.test/v1/config");
  assert.deepEqual(cfg.wsURLs, ["ws://a", "wss://b"]);
  assert.equal(cfg.windowMs, 2000);
  assert.deepEqual(cfg.limits, { maxEvents: 1000, userRate: 20, userBurst: 100, ipRate: 10000, ipBurst: 20000 });
});

test("an answer larger than the bound is refused while it is read", async () => {
  const big = new ReadableStream({ pull(ctl) { ctl.enqueue(new Uint8Array(1 << 16).fill(32)); } }); // endless
  const s = server([new Response(big, { status: 200 })]);
  const c = client(s);
  const err = await c.timeline("m1").catch((e) => e);
  assert.equal(err.code, "bad_answer");
  assert.match(err.message, /over/);
});
