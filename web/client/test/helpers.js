// Test helpers: a seeded random generator, a fake clock with timers, and a
// scripted NATS server behind a fake WebSocket that speaks the real
// protocol bytes (INFO, CONNECT, SUB, PUB, HMSG, direct gets).

// rng is mulberry32: the same seed gives the same numbers.
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// settle lets every pending promise and immediate run.
export async function settle(rounds = 10) {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

// FakeEnv is a clock that moves only when told; its timers fire in order.
export class FakeEnv {
  constructor(start = Date.parse("2026-11-23T05:00:00Z")) {
    this.t = start;
    this.timers = new Map();
    this.id = 0;
    this.now = () => this.t;
    this.setTimeout = (fn, ms) => {
      const id = ++this.id;
      this.timers.set(id, { at: this.t + Math.max(0, Number(ms) || 0), fn, id });
      return id;
    };
    this.clearTimeout = (id) => { this.timers.delete(id); };
    this.random = () => 0.5;
  }

  // advance moves the clock by ms, firing each timer due on the way at its
  // own time, and lets promises settle after each.
  async advance(ms) {
    const target = this.t + ms;
    for (;;) {
      await settle(3);
      let next = null;
      for (const x of this.timers.values()) if (x.at <= target && (!next || x.at < next.at || (x.at === next.at && x.id < next.id))) next = x;
      if (!next) break;
      this.timers.delete(next.id);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = target;
    await settle(3);
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();
export const iso = (ms) => new Date(ms).toISOString();

// swarmOf makes a swarm body (wire.Swarm JSON).
export function swarmOf(match, start, counts = { "🔥": 1 }, extra = {}) {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return { match_id: match, window_start: iso(start), window_end: iso(start + 2000), counts, total, ...extra };
}

// FakeNats is a scripted NATS server. Its WebSocket getter is a class to
// pass as the client's WebSocket. Stored swarms have stream sequences;
// direct gets are answered from them according to mode:
//   "ok"      as JetStream would (404 when none)
//   "none"    503 no responders
//   "silent"  no answer (the client times out)
export class FakeNats {
  constructor() {
    this.sockets = [];
    this.stored = []; // {seq, match, data}
    this.seq = 0;
    this.mode = "ok";
    this.requests = []; // {subject, body}
    this.refuse = false; // new sockets fail to open
    this.connects = []; // CONNECT options seen
    this.urls = [];
    const srv = this;
    this.WebSocket = class {
      constructor(url) {
        this.url = url;
        this.readyState = 0;
        this.buf = "";
        this.subs = new Map();
        srv.urls.push(url);
        queueMicrotask(() => srv.open(this));
      }
      send(bytes) {
        if (this.readyState !== 1) throw new Error("not open");
        this.buf += dec.decode(bytes);
        srv.input(this);
      }
      close() {
        if (this.readyState === 3) return;
        this.readyState = 3;
        srv.sockets = srv.sockets.filter((s) => s !== this);
        queueMicrotask(() => this.onclose && this.onclose({ code: 1000 }));
      }
    };
  }

  open(ws) {
    if (this.refuse) {
      ws.readyState = 3;
      if (ws.onerror) ws.onerror({});
      if (ws.onclose) ws.onclose({ code: 1006 });
      return;
    }
    ws.readyState = 1;
    this.sockets.push(ws);
    this.write(ws, 'INFO {"server_id":"fake","headers":true,"max_payload":1048576}\r\n');
  }

  write(ws, s) {
    if (ws.readyState !== 1 || !ws.onmessage) return;
    const b = typeof s === "string" ? enc.encode(s) : s;
    ws.onmessage({ data: b.buffer.slice(b.byteOffset, b.byteOffset + b.length) });
  }

  // input handles the client's whole operations.
  input(ws) {
    for (;;) {
      const i = ws.buf.indexOf("\r\n");
      if (i < 0) return;
      const line = ws.buf.slice(0, i);
      const [verb, ...f] = line.split(" ");
      if (verb === "PUB") {
        const size = Number(f[f.length - 1]);
        const body = enc.encode(ws.buf.slice(i + 2));
        if (body.length < size + 2) return;
        const payload = dec.decode(body.slice(0, size));
        ws.buf = dec.decode(body.slice(size + 2));
        this.request(ws, f[0], f.length === 3 ? f[1] : "", payload);
        continue;
      }
      ws.buf = ws.buf.slice(i + 2);
      if (verb === "CONNECT") this.connects.push(JSON.parse(line.slice(8)));
      else if (verb === "PING") this.write(ws, "PONG\r\n");
      else if (verb === "SUB") ws.subs.set(f[1], f[0]);
      else if (verb === "UNSUB") ws.subs.delete(f[0]);
    }
  }

  request(ws, subject, reply, body) {
    this.requests.push({ subject, body });
    if (this.onRequest && this.onRequest(ws, subject, reply, body)) return;
    if (this.mode === "silent") return;
    if (this.mode === "none") return this.deliver(ws, reply, "NATS/1.0 503\r\n\r\n", "");
    let found = null;
    const latest = /^\$JS\.API\.DIRECT\.GET\.EMOSTREAM_SWARMS\.emostream\.swarm\.(.+)$/.exec(subject);
    if (latest) {
      const mine = this.stored.filter((x) => x.match === latest[1]);
      found = mine[mine.length - 1] || null;
    } else if (subject === "$JS.API.DIRECT.GET.EMOSTREAM_SWARMS") {
      const q = JSON.parse(body);
      const match = q.next_by_subj.replace("emostream.swarm.", "");
      found = this.stored.find((x) => x.match === match && x.seq >= q.seq) || null;
    }
    if (!found) return this.deliver(ws, reply, "NATS/1.0 404 Message Not Found\r\n\r\n", "");
    this.deliver(ws, reply, `NATS/1.0\r\nNats-Stream: EMOSTREAM_SWARMS\r\nNats-Sequence: ${found.seq}\r\n\r\n`, found.data);
  }

  // deliver writes an HMSG to every subscription of ws matching subject.
  deliver(ws, subject, headers, data) {
    for (const [sid, pattern] of ws.subs) {
      if (!matches(pattern, subject)) continue;
      const h = enc.encode(headers);
      const d = enc.encode(data);
      this.write(ws, `HMSG ${subject} ${sid} ${h.length} ${h.length + d.length}\r\n${headers}${data}\r\n`);
    }
  }

  // store keeps a swarm in the "stream" (without publishing it); another
  // match's swarm may be stored between to make holes in the sequences.
  store(swarm) {
    const seq = ++this.seq;
    const prev = this.stored.filter((x) => x.match === swarm.match_id).pop();
    this.stored.push({ seq, match: swarm.match_id, data: JSON.stringify(swarm), prev: prev ? prev.seq : 0 });
    return seq;
  }

  // publish stores a swarm and sends it live, as the stream's RePublish
  // does (Nats-Sequence, Nats-Last-Sequence).
  publish(swarm, { live = true } = {}) {
    const seq = this.store(swarm);
    const x = this.stored[this.stored.length - 1];
    if (live) this.sendLive(swarm.match_id, `NATS/1.0\r\nNats-Sequence: ${seq}\r\nNats-Last-Sequence: ${x.prev}\r\n\r\n`, x.data);
    return seq;
  }

  sendLive(match, headers, data) {
    for (const ws of this.sockets) this.deliver(ws, `emostream.live.${match}`, headers, data);
  }

  // forget drops stored swarms of a match up to seq (retention).
  forget(upto) {
    this.stored = this.stored.filter((x) => x.seq > upto);
  }

  // cut closes every socket from the server side.
  cut() {
    for (const ws of this.sockets.slice()) ws.close();
  }
}

function matches(pattern, subject) {
  const p = pattern.split(".");
  const s = subject.split(".");
  if (p[p.length - 1] === ">") return s.length >= p.length && p.slice(0, -1).every((t, i) => t === "*" || t === s[i]);
  return p.length === s.length && p.every((t, i) => t === "*" || t === s[i]);
}
