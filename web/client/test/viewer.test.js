// The NATS connection and the viewer protocol's gap recovery against a
// scripted server (FakeNats) speaking the protocol's bytes, on a fake clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../src/nats.js";
import { Viewer } from "../src/viewer.js";
import { FakeEnv, FakeNats, swarmOf, settle } from "./helpers.js";

const M = "final-2026";
const T0 = Date.parse("2026-11-23T05:00:00Z");
const win = (i) => T0 + 2000 * i;

// setup starts a connection and a viewer of M; log records what it reports.
async function setup({ nats = new FakeNats(), conn: co = {}, viewer: vo = {}, start = true } = {}) {
  const env = new FakeEnv(T0 + 3600000);
  const conn = new Connection({ servers: ["ws://a", "ws://b"], WebSocket: nats.WebSocket, env, ...co });
  const log = { shown: [], gaps: [], drops: [], notes: [], status: [] };
  conn.on("status", (s) => log.status.push(s));
  const viewer = new Viewer({ conn, env, match: M, ...vo,
    onSwarm: (s) => log.shown.push(`${s.source}:${(s.start - T0) / 2000}`),
    onGap: (g) => log.gaps.push(g), onDrop: (r) => log.drops.push(r), onNote: (t) => log.notes.push(t) });
  if (start) {
    viewer.start();
    conn.start();
    await env.advance(0);
  }
  return { nats, env, conn, viewer, log };
}

const nexts = (nats) => nats.requests.filter((r) => r.subject === "$JS.API.DIRECT.GET.EMOSTREAM_SWARMS").length;

test("connects with headers and no_responders, credentials when given, and reports its states", async () => {
  const { nats, log, conn } = await setup({ conn: { user: "viewer", pass: "pw", name: "app" } });
  assert.equal(conn.connected, true);
  assert.deepEqual(log.status.map((s) => s.state), ["connected"]);
  const c = nats.connects[0];
  assert.equal(c.headers, true);
  assert.equal(c.no_responders, true);
  assert.equal(c.user, "viewer");
  assert.equal(c.pass, "pw");
  assert.equal(c.name, "app");
  assert.equal(c.auth_token, undefined);
  const t = await setup({ conn: { token: "s3cret" } });
  assert.equal(t.nats.connects[0].auth_token, "s3cret");
  assert.equal(t.nats.connects[0].user, undefined);
});

test("join: the latest stored swarm, then live ones in order; a quiet stretch costs no request", async () => {
  const nats = new FakeNats();
  nats.publish(swarmOf(M, win(0)), { live: false });
  nats.publish(swarmOf(M, win(1)), { live: false });
  const { log, env } = await setup({ nats });
  assert.deepEqual(log.shown, ["latest:1"]);
  nats.publish(swarmOf("other", win(2))); // another match: a hole in the sequences
  nats.publish(swarmOf(M, win(2)));
  nats.publish(swarmOf(M, win(7))); // windows 3-6 had no reactions
  await env.advance(0);
  assert.deepEqual(log.shown, ["latest:1", "live:2", "live:7"]);
  assert.equal(nexts(nats), 0);
  assert.deepEqual(log.gaps, []);
});

test("a live swarm after a missed one: the missed one is read by sequence and shown first", async () => {
  const nats = new FakeNats();
  nats.publish(swarmOf(M, win(0)), { live: false });
  const { log, env } = await setup({ nats });
  nats.publish(swarmOf(M, win(1)), { live: false }); // the live copy was lost
  nats.publish(swarmOf(M, win(2)), { live: false });
  nats.publish(swarmOf(M, win(3)));
  await env.advance(0);
  assert.deepEqual(log.shown, ["latest:0", "recovered:1", "recovered:2", "live:3"]);
  assert.deepEqual(log.gaps, []);
});

test("after a reconnect the windows stored meanwhile are recovered, on the other URL", async () => {
  const nats = new FakeNats();
  nats.publish(swarmOf(M, win(0)), { live: false });
  const { log, env, conn } = await setup({ nats });
  nats.cut();
  nats.refuse = true;
  await env.advance(0);
  assert.equal(log.status.at(-1).state, "reconnecting");
  for (let i = 1; i <= 3; i++) nats.publish(swarmOf(M, win(i)));
  nats.refuse = false;
  await env.advance(20000);
  assert.equal(conn.connected, true);
  assert.equal(log.status.at(-1).state, "connected");
  assert.equal(log.status.at(-1).reconnected, true);
  assert.deepEqual(log.shown, ["latest:0", "recovered:1", "recovered:2", "recovered:3"]);
  assert.ok(new Set(nats.urls).size === 2, `dialled ${nats.urls}`);
  nats.publish(swarmOf(M, win(4)));
  await env.advance(0);
  assert.deepEqual(log.shown.at(-1), "live:4");
  assert.deepEqual(log.gaps, []);
});

test("windows the stream no longer holds are reported as a gap, once", async () => {
  const nats = new FakeNats();
  nats.publish(swarmOf(M, win(0)), { live: false });
  const { log, env } = await setup({ nats });
  nats.cut();
  nats.refuse = true;
  await env.advance(0);
  for (let i = 1; i <= 5; i++) nats.publish(swarmOf(M, win(i)));
  nats.forget(3); // retention dropped windows 0, 1, 2
  nats.refuse = false;
  await env.advance(20000);
  assert.deepEqual(log.shown, ["latest:0", "recovered:3", "recovered:4", "recovered:5"]);
  assert.equal(log.gaps.length, 1);
  assert.deepEqual({ ...log.gaps[0] }, { from: win(1), to: win(3), windows: 2, reason: "no longer stored" });
});

test("an unanswered recovery keeps live swarms waiting, reads again every second, and shows them in order", async () => {
  const nats = new FakeNats();
  nats.publish(swarmOf(M, win(0)), { live: false });
  const { log, env } = await setup({ nats });
  nats.mode = "none"; // no responders: the stream out of reach
  nats.publish(swarmOf(M, win(1)), { live: false });
  nats.publish(swarmOf(M, win(2)));
  nats.publish(swarmOf(M, win(3)));
  await env.advance(0);
  assert.deepEqual(log.shown, ["latest:0"], "live swarms wait for the missed one");
  const before = nexts(nats);
  await env.advance(3000);
  assert.ok(nexts(nats) >= before + 2, "read again every second");
  nats.mode = "ok";
  await env.advance(1000);
  assert.deepEqual(log.shown, ["latest:0", "recovered:1", "recovered:2", "recovered:3"]);
  assert.deepEqual(log.gaps, []);
});

test("a recovery that times out is not a loss either", async () => {
  const nats = new FakeNats();
  nats.publish(swarmOf(M, win(0)), { live: false });
  const { log, env } = await setup({ nats });
  nats.mode = "silent";
  nats.publish(swarmOf(M, win(1)), { live: false });
  nats.publish(swarmOf(M, win(2)));
  await env.advance(3000); // the request's timeout
  assert.deepEqual(log.shown, ["latest:0"]);
  nats.mode = "ok";
  await env.advance(5000);
  assert.deepEqual(log.shown, ["latest:0", "recovered:1", "recovered:2"]);
  assert.deepEqual(log.gaps, []);
});

test("past 10 waiting live swarms the recovery is given up: a gap, then the swarms", async () => {
  const nats = new FakeNats();
  nats.publish(swarmOf(M, win(0)), { live: false });
  const { log, env } = await setup({ nats });
  nats.mode = "none";
  nats.publish(swarmOf(M, win(1)), { live: false });
  for (let i = 2; i <= 12; i++) nats.publish(swarmOf(M, win(i)));
  await env.advance(0);
  assert.equal(log.shown.length, 12, log.shown.join());
  assert.deepEqual(log.shown.slice(0, 2), ["latest:0", "live:2"]);
  assert.equal(log.gaps.length, 1);
  assert.equal(log.gaps[0].from, win(1));
  assert.match(log.gaps[0].reason, /stream not answering \(11 live swarms waited\)/);
});

test("a recovery makes at most 150 requests, reports the rest and goes on with the latest", async () => {
  const nats = new FakeNats();
  nats.publish(swarmOf(M, win(0)), { live: false });
  const { log, env } = await setup({ nats });
  nats.cut();
  nats.refuse = true;
  await env.advance(0);
  for (let i = 1; i <= 200; i++) nats.publish(swarmOf(M, win(i)), { live: false });
  nats.refuse = false;
  const before = nexts(nats);
  await env.advance(20000);
  assert.equal(nexts(nats) - before, 150);
  assert.equal(log.shown.length, 1 + 149 + 1);
  assert.equal(log.shown.at(-1), "latest:200");
  assert.equal(log.gaps.length, 1);
  assert.match(log.gaps[0].reason, /recovery bound reached \(150 requests\)/);
  assert.deepEqual([log.gaps[0].from, log.gaps[0].to], [win(150), win(200)]);
});

test("a join that found nothing stored reads every later swarm from the first", async () => {
  const nats = new FakeNats();
  const { log, env } = await setup({ nats });
  assert.deepEqual(log.shown, []);
  assert.ok(log.notes.some((n) => /no stored swarm/.test(n)));
  nats.publish(swarmOf(M, win(0)), { live: false }); // stored before the live subject reached us
  nats.publish(swarmOf(M, win(1)));
  await env.advance(0);
  assert.deepEqual(log.shown, ["recovered:0", "live:1"]);
});

test("a join with no responders is read again every second until answered", async () => {
  const nats = new FakeNats();
  nats.mode = "none";
  nats.publish(swarmOf(M, win(0)), { live: false });
  const { log, env } = await setup({ nats });
  assert.deepEqual(log.shown, []);
  await env.advance(2000);
  assert.ok(nats.requests.length >= 3);
  nats.mode = "ok";
  await env.advance(1000);
  assert.deepEqual(log.shown, ["latest:0"]);
});

test("verification: another match, a repeat, an undecodable or far-future swarm is dropped and starts no request", async () => {
  const nats = new FakeNats();
  nats.publish(swarmOf(M, win(5)), { live: false });
  const { log, env } = await setup({ nats });
  const before = nats.requests.length;
  const h = (seq, last) => `NATS/1.0\r\nNats-Sequence: ${seq}\r\nNats-Last-Sequence: ${last}\r\n\r\n`;
  nats.sendLive(M, h(99, 98), JSON.stringify(swarmOf("other", win(9)))); // a reply aimed at our live subject
  nats.sendLive(M, h(1, 0), JSON.stringify(swarmOf(M, win(5)))); // a repeat
  nats.sendLive(M, h(99, 98), JSON.stringify(swarmOf(M, win(3)))); // older
  nats.sendLive(M, h(99, 98), "{not json");
  nats.sendLive(M, h(99, 98), JSON.stringify({ ...swarmOf(M, win(9)), window_end: "2026-11-23T04:00:00Z" }));
  nats.sendLive(M, h(99, 98), JSON.stringify({ ...swarmOf(M, win(9)), counts: { "🔥": -5 } }));
  nats.sendLive(M, h(99, 98), JSON.stringify(swarmOf(M, Date.parse("9999-01-01T00:00:00Z"))));
  await env.advance(0);
  assert.deepEqual(log.shown, ["latest:5"]);
  // the repeat (its sequence already shown) is ignored without a word: recovered swarms come live again
  assert.deepEqual(log.drops, ["other match", "not newer", "undecodable", "undecodable", "undecodable", "from the future"]);
  assert.equal(nats.requests.length, before, "an injected message never starts a recovery");
  nats.publish(swarmOf(M, win(6)));
  await env.advance(0);
  assert.deepEqual(log.shown, ["latest:5", "live:6"], "the real next window is still shown");
});

test("an answer before the sequence asked for is not believed", async () => {
  const nats = new FakeNats();
  nats.publish(swarmOf(M, win(0)), { live: false });
  const { log, env } = await setup({ nats });
  nats.onRequest = (ws, subject, reply) => {
    if (subject !== "$JS.API.DIRECT.GET.EMOSTREAM_SWARMS") return false;
    nats.deliver(ws, reply, "NATS/1.0\r\nNats-Sequence: 1\r\n\r\n", JSON.stringify(swarmOf(M, win(0))));
    return true;
  };
  nats.publish(swarmOf(M, win(1)), { live: false });
  nats.publish(swarmOf(M, win(2)));
  await env.advance(0);
  assert.deepEqual(log.shown, ["latest:0"]);
  assert.ok(log.notes.some((n) => /answer 1 to a read from 2/.test(n)), log.notes.join("\n"));
  nats.onRequest = null;
  await env.advance(1000);
  assert.deepEqual(log.shown, ["latest:0", "recovered:1", "recovered:2"]);
});

test("a flood of live messages is bounded while a recovery waits", async () => {
  const nats = new FakeNats();
  nats.publish(swarmOf(M, win(0)), { live: false });
  const { log, env } = await setup({ nats, viewer: { maxQueued: 50 } });
  nats.mode = "silent";
  nats.publish(swarmOf(M, win(1)), { live: false });
  nats.publish(swarmOf(M, win(2)));
  for (let i = 0; i < 500; i++) nats.sendLive(M, "NATS/1.0\r\nNats-Sequence: 1\r\n\r\n", JSON.stringify(swarmOf("x", win(3))));
  await env.advance(0);
  assert.ok(log.drops.filter((d) => d === "overloaded").length >= 400);
  nats.mode = "ok";
  await env.advance(5000);
  assert.deepEqual(log.shown, ["latest:0", "recovered:1", "recovered:2"]);
});

test("reconnects with a backoff that doubles per round of URLs, capped", async () => {
  const nats = new FakeNats();
  nats.refuse = true;
  const { env, log } = await setup({ nats, conn: { backoffMs: 100, maxBackoffMs: 1000 } });
  await env.advance(10000);
  const delays = log.status.filter((s) => s.state === "connecting").map((s) => s.retryInMs);
  assert.deepEqual(delays.slice(0, 8), [100, 100, 200, 200, 400, 400, 800, 800]);
  assert.ok(delays.slice(8).every((d) => d === 1000));
  assert.deepEqual(nats.urls.slice(0, 4), ["ws://a", "ws://b", "ws://a", "ws://b"]);
  nats.refuse = false;
  await env.advance(1000);
  assert.equal(log.status.at(-1).state, "connected");
});

test("a server that stops answering PING is left, and one refusing CONNECT is retried later", async () => {
  const nats = new FakeNats();
  const { env, log, conn } = await setup({ nats, conn: { pingMs: 1000, maxPingsOut: 2 } });
  const [ws] = nats.sockets;
  ws.send = () => {}; // swallows everything from now on
  await env.advance(3000);
  assert.equal(log.status.at(-1).state, "reconnecting");
  assert.match(log.status.at(-1).error, /stale/);
  await env.advance(1000);
  assert.equal(conn.connected, true);
  // -ERR before the first PONG: refused
  const n2 = new FakeNats();
  const orig = n2.input.bind(n2);
  n2.input = (w) => { if (w.buf.startsWith("CONNECT")) { w.buf = ""; n2.write(w, "-ERR 'Authorization Violation'\r\n"); return; } orig(w); };
  const b = await setup({ nats: n2 });
  assert.equal(b.conn.connected, false);
  assert.match(b.log.status.at(-1).error, /Authorization Violation/);
});

test("a hostile server's bytes drop the connection, which comes back", async () => {
  const nats = new FakeNats();
  const { env, log, conn } = await setup({ nats });
  nats.write(nats.sockets[0], "MSG a 1 99999999\r\n");
  await env.advance(0);
  assert.match(log.status.at(-1).error, /nats protocol/);
  await env.advance(2000);
  assert.equal(conn.connected, true);
});

test("requests: bounded in number, failed on disconnect, answered by their own token only", async () => {
  const nats = new FakeNats();
  nats.mode = "silent";
  const { env, conn } = await setup({ nats, conn: { maxPending: 3 }, start: false });
  conn.start();
  await env.advance(0);
  const ps = [1, 2, 3].map(() => conn.request("x.y", "").catch((e) => e.code));
  await assert.rejects(conn.request("x.y", ""), { code: "busy" });
  nats.cut();
  await env.advance(0);
  assert.deepEqual(await Promise.all(ps), ["disconnected", "disconnected", "disconnected"]);
  await assert.rejects(conn.request("x.y", ""), { code: "disconnected" });
  assert.throws(() => conn.subscribe("a b", () => {}), TypeError);
});
