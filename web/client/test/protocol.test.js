// The NATS protocol parser: whole and split frames, headers, -ERR, PING,
// the bounds, and random input (property tests with a seeded generator).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Parser, ProtocolError, encode, parseHeaders, text } from "../src/protocol.js";
import { rng } from "./helpers.js";

const enc = new TextEncoder();

function parseAll(chunks, limits) {
  const ops = [];
  const p = new Parser((op) => ops.push(op), limits);
  for (const c of chunks) p.feed(c);
  return ops.map(simple);
}

// simple makes an op comparable: headers as a plain object, data as text.
function simple(op) {
  if (op.op !== "MSG") return op;
  const m = op.msg;
  const h = m.headers ? Object.fromEntries(m.headers.map) : null;
  return { op: "MSG", subject: m.subject, sid: m.sid, reply: m.reply, status: m.status, description: m.description, headers: h, data: text(m.data) };
}

// hmsg writes an HMSG with the right sizes.
function hmsg(subjectSid, headers, data) {
  const h = enc.encode(headers).length;
  return `HMSG ${subjectSid} ${h} ${h + enc.encode(data).length}\r\n${headers}${data}\r\n`;
}

const swarm = JSON.stringify({ match_id: "final-2026", counts: { "🔥": 12345 } });
const hdr = "NATS/1.0\r\nNats-Sequence: 42\r\nNats-Last-Sequence: 40\r\n\r\n";
const STREAM = [
  'INFO {"server_id":"x","headers":true,"max_payload":1048576}\r\n',
  "PING\r\n",
  "+OK\r\n",
  `MSG emostream.live.final-2026 1 ${enc.encode(swarm).length}\r\n${swarm}\r\n`,
  `HMSG emostream.live.final-2026 1 ${hdr.length} ${hdr.length + enc.encode(swarm).length}\r\n${hdr}${swarm}\r\n`,
  hmsg("_INBOX.abc.1 2", "NATS/1.0 503 No Responders\r\n\r\n", ""),
  "MSG _INBOX.abc.2 2 reply.to 0\r\n\r\n",
  "-ERR 'Permissions Violation for Publish to \"x\"'\r\n",
  "PONG\r\n",
].join("");

test("parses every operation of a whole stream", () => {
  const ops = parseAll([STREAM]);
  assert.deepEqual(ops.map((o) => o.op), ["INFO", "PING", "OK", "MSG", "MSG", "MSG", "MSG", "ERR", "PONG"]);
  assert.equal(ops[0].info.max_payload, 1048576);
  assert.equal(ops[3].data, swarm);
  assert.equal(ops[3].headers, null);
  assert.deepEqual(ops[4].headers, { "nats-sequence": ["42"], "nats-last-sequence": ["40"] });
  assert.equal(ops[4].data, swarm);
  assert.equal(ops[5].status, 503);
  assert.equal(ops[5].description, "No Responders");
  assert.equal(ops[5].data, "");
  assert.equal(ops[6].reply, "reply.to");
  assert.equal(ops[7].message, 'Permissions Violation for Publish to "x"');
});

test("a stream cut anywhere parses the same (every single cut, and random cuts)", () => {
  const bytes = enc.encode(STREAM);
  const want = parseAll([bytes]);
  for (let i = 0; i <= bytes.length; i++) {
    assert.deepEqual(parseAll([bytes.slice(0, i), bytes.slice(i)]), want, `cut at ${i}`);
  }
  const r = rng(1);
  for (let n = 0; n < 300; n++) {
    const chunks = [];
    for (let at = 0; at < bytes.length;) {
      const len = 1 + Math.floor(r() * 40);
      chunks.push(bytes.slice(at, at + len));
      at += len;
    }
    assert.deepEqual(parseAll(chunks), want);
  }
});

test("byte by byte, the emoji payload (multi-byte UTF-8) stays whole", () => {
  const bytes = enc.encode(STREAM);
  assert.deepEqual(parseAll(Array.from(bytes, (b) => new Uint8Array([b]))), parseAll([bytes]));
});

test("headers: case-insensitive names, repeated values, status lines", () => {
  const h = parseHeaders(enc.encode("NATS/1.0 404 Message Not Found\r\nA: 1\r\na: 2\r\nNats-Sequence:7\r\n\r\n"));
  assert.equal(h.status, 404);
  assert.equal(h.description, "Message Not Found");
  assert.equal(h.headers.get("a"), "1");
  assert.deepEqual(h.headers.map.get("a"), ["1", "2"]);
  assert.equal(h.headers.get("NATS-SEQUENCE"), "7");
  assert.equal(h.headers.get("missing"), null);
  assert.equal(parseHeaders(enc.encode("NATS/1.0\r\n\r\n")).status, 0);
});

test("verbs are case-insensitive and tabs separate fields", () => {
  const ops = parseAll(["ping\r\nmsg\tsub\t1\t2\r\nhi\r\n"]);
  assert.deepEqual(ops.map((o) => o.op), ["PING", "MSG"]);
  assert.equal(ops[1].data, "hi");
});

const refused = [
  ["an unknown verb", "HELLO\r\n"],
  ["INFO that is not JSON", "INFO {nope\r\n"],
  ["INFO that is not an object", "INFO [1]\r\n"],
  ["a MSG without a size", "MSG a 1\r\n"],
  ["a negative size", "MSG a 1 -1\r\n"],
  ["a size with letters", "MSG a 1 1e3\r\n"],
  ["a huge size", "MSG a 1 99999999999\r\n"],
  ["a payload not ended by CRLF", "MSG a 1 2\r\nhiXX"],
  ["a header size over the total", "HMSG a 1 20 10\r\n"],
  ["a header block too short", "HMSG a 1 4 4\r\nNATS\r\n"],
  ["a header block without NATS/1.0", hmsg("a 1", "HTTP/1.1 200\r\n\r\n", "")],
  ["a header line without a colon", hmsg("a 1", "NATS/1.0\r\nnocolon\r\n\r\n", "x")],
  ["a status that is not 3 digits", hmsg("a 1", "NATS/1.0 5030\r\n\r\n", "")],
];

for (const [name, input] of refused) {
  test(`refuses ${name}`, () => {
    const p = new Parser(() => {});
    assert.throws(() => p.feed(input), ProtocolError);
    assert.throws(() => p.feed("PING\r\n"), ProtocolError, "a failed parser stays failed");
  });
}

test("bounds: a control line, a payload and a header count past their limits", () => {
  const lim = { maxControlLine: 64, maxPayload: 100, maxHeaders: 3 };
  assert.throws(() => new Parser(() => {}, lim).feed("INFO " + "x".repeat(100)), /control line over 64/); // no CRLF yet
  assert.throws(() => new Parser(() => {}, lim).feed(`INFO {"a":"${"x".repeat(100)}"}\r\n`), /control line over 64/);
  assert.throws(() => new Parser(() => {}, lim).feed("MSG a 1 101\r\n"), /over 100/);
  const h = "NATS/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
  assert.throws(() => new Parser(() => {}, lim).feed(`HMSG a 1 ${h.length} ${h.length}\r\n${h}\r\n`), /more than 3 headers/);
  // a slow drip of a line without CRLF is refused once it passes the bound
  const p = new Parser(() => {}, lim);
  assert.throws(() => { for (let i = 0; i < 100; i++) p.feed("x"); }, /control line/);
});

test("a payload in many frames is held until whole, within the bound", () => {
  const ops = [];
  const p = new Parser((op) => ops.push(op), { maxPayload: 10000 });
  p.feed("MSG a 1 10000\r\n");
  for (let i = 0; i < 100; i++) p.feed("y".repeat(100));
  assert.equal(ops.length, 0);
  assert.ok(p.len <= 10002);
  p.feed("\r\n");
  assert.equal(ops.length, 1);
  assert.equal(ops[0].msg.data.length, 10000);
});

test("encoders write the protocol and refuse subjects that would inject a line", () => {
  assert.equal(text(encode.sub("emostream.live.m", "1")), "SUB emostream.live.m 1\r\n");
  assert.equal(text(encode.pub("a.b", "_INBOX.x.1", "{}")), "PUB a.b _INBOX.x.1 2\r\n{}\r\n");
  assert.equal(text(encode.pub("a.b", "", "🔥")), "PUB a.b 4\r\n🔥\r\n");
  for (const bad of ["a b", "a\r\nPUB x 0", "", "x".repeat(300), "é"]) {
    assert.throws(() => encode.sub(bad, "1"), TypeError);
  }
  assert.match(text(encode.connect({ user: "u", pass: "p" })), /^CONNECT \{"user":"u","pass":"p"\}\r\n$/);
});

test("property: random operations and garbage either parse or throw ProtocolError, within the bounds", () => {
  const r = rng(7);
  const ops = ["PING\r\n", "PONG\r\n", "+OK\r\n", "-ERR 'x'\r\n", 'INFO {"a":1}\r\n', "MSG a 1 3\r\nabc\r\n",
    "MSG a 1 r 0\r\n\r\n", hmsg("a 1", "NATS/1.0\r\nK: v\r\n\r\n", "{}"), hmsg("a 1", "NATS/1.0 404 Not Found\r\n\r\n", ""),
    "MSG a 1 99999\r\n", "HMSG a 1 5 3\r\n", "\r\n", " ", "INFO", "{", "NATS/1.0"];
  const lim = { maxControlLine: 256, maxPayload: 512, maxHeaders: 8 };
  let parsed = 0;
  let refusedN = 0;
  for (let n = 0; n < 3000; n++) {
    const p = new Parser((op) => { parsed++; assert.ok(["INFO", "MSG", "PING", "PONG", "OK", "ERR"].includes(op.op)); }, lim);
    const parts = [];
    for (let k = Math.floor(r() * 12); k > 0; k--) {
      if (r() < 0.85) parts.push(enc.encode(ops[Math.floor(r() * ops.length)]));
      else parts.push(Uint8Array.from({ length: 1 + Math.floor(r() * 8) }, () => Math.floor(r() * 256)));
    }
    const bytes = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
    parts.reduce((at, b) => (bytes.set(b, at), at + b.length), 0);
    try {
      for (let at = 0; at < bytes.length;) {
        const len = 1 + Math.floor(r() * 64);
        p.feed(bytes.slice(at, at + len));
        at += len;
        assert.ok(p.len <= lim.maxControlLine + lim.maxPayload + 2, `held ${p.len} bytes`);
      }
    } catch (err) {
      assert.ok(err instanceof ProtocolError, `threw ${err && err.name}: ${err && err.message}`);
      refusedN++;
    }
  }
  assert.ok(parsed > 1000 && refusedN > 100, `parsed ${parsed}, refused ${refusedN}`);
});

test("property: a valid stream with random bytes changed never throws anything but ProtocolError", () => {
  const r = rng(11);
  const base = enc.encode(STREAM);
  for (let n = 0; n < 3000; n++) {
    const b = base.slice();
    const flips = 1 + Math.floor(r() * 4);
    for (let i = 0; i < flips; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    const p = new Parser(() => {});
    try {
      p.feed(b);
    } catch (err) {
      assert.ok(err instanceof ProtocolError, `${err && err.name}: ${err && err.message}`);
    }
  }
});
