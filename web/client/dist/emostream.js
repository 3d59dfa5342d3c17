// EmoStream client 0.1.0 (Apache-2.0). Built by web/client/build.mjs from web/client/src; do not edit.

// src/protocol.js
var CR = 13;
var LF = 10;
var enc = new TextEncoder();
var dec = new TextDecoder();
var LIMITS = {
  maxControlLine: 16384,
  // INFO can list a cluster's URLs
  maxPayload: 1 << 20,
  // nats-server's default max_payload
  maxHeaders: 64
  // header lines in one HMSG
};
var ProtocolError = class extends Error {
  constructor(message) {
    super(`nats protocol: ${message}`);
    this.name = "ProtocolError";
  }
};
var MsgHeaders = class {
  constructor() {
    this.map = /* @__PURE__ */ new Map();
  }
  get(name) {
    const v = this.map.get(String(name).toLowerCase());
    return v ? v[0] : null;
  }
  append(name, value) {
    const k = name.toLowerCase();
    const v = this.map.get(k);
    if (v) v.push(value);
    else this.map.set(k, [value]);
  }
  get size() {
    return this.map.size;
  }
};
function parseHeaders(bytes2, maxHeaders = LIMITS.maxHeaders) {
  const lines = dec.decode(bytes2).split("\r\n");
  const first = /^NATS\/1\.0(?: +(\d{3})(?: +(.*))?)? *$/.exec(lines[0]);
  if (!first) throw new ProtocolError("bad header block");
  const headers = new MsgHeaders();
  let n = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === "") continue;
    if (++n > maxHeaders) throw new ProtocolError(`more than ${maxHeaders} headers`);
    const colon = line.indexOf(":");
    if (colon <= 0) throw new ProtocolError("bad header line");
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return { headers, status: first[1] ? Number(first[1]) : 0, description: first[2] || "" };
}
var SIZE = /^\d{1,10}$/;
function size(s) {
  if (!SIZE.test(s)) throw new ProtocolError(`bad size ${JSON.stringify(s.slice(0, 16))}`);
  return Number(s);
}
var Parser = class {
  constructor(onOp, limits = {}) {
    this.onOp = onOp;
    this.lim = { ...LIMITS, ...limits };
    this.parts = [];
    this.len = 0;
    this.pending = null;
    this.failed = false;
  }
  feed(chunk) {
    if (this.failed) throw new ProtocolError("parser failed before");
    if (typeof chunk === "string") chunk = enc.encode(chunk);
    else if (!(chunk instanceof Uint8Array)) chunk = new Uint8Array(chunk);
    this.parts.push(chunk);
    this.len += chunk.length;
    if (this.pending && this.len < this.pending.need + 2) return;
    let buf = chunk;
    if (this.parts.length > 1) {
      buf = new Uint8Array(this.len);
      let o = 0;
      for (const p of this.parts) {
        buf.set(p, o);
        o += p.length;
      }
    }
    try {
      const rest = buf.subarray(this.drain(buf));
      this.parts = rest.length ? [rest.slice()] : [];
      this.len = rest.length;
    } catch (err) {
      this.failed = true;
      this.parts = [];
      this.len = 0;
      throw err instanceof ProtocolError ? err : new ProtocolError(err.message);
    }
  }
  // drain handles every whole operation in buf and returns the bytes used.
  drain(buf) {
    let at = 0;
    for (; ; ) {
      if (this.pending) {
        const p = this.pending;
        if (buf.length - at < p.need + 2) return at;
        if (buf[at + p.need] !== CR || buf[at + p.need + 1] !== LF) throw new ProtocolError("payload not followed by CRLF");
        const payload = buf.subarray(at, at + p.need);
        at += p.need + 2;
        this.pending = null;
        this.message(p, payload);
        continue;
      }
      const lf = buf.indexOf(LF, at);
      const limit = this.lim.maxControlLine;
      if (lf < 0) {
        if (buf.length - at > limit) throw new ProtocolError(`control line over ${limit} bytes`);
        return at;
      }
      if (lf - at > limit) throw new ProtocolError(`control line over ${limit} bytes`);
      const end = lf > at && buf[lf - 1] === CR ? lf - 1 : lf;
      const line = dec.decode(buf.subarray(at, end));
      at = lf + 1;
      this.control(line);
    }
  }
  control(line) {
    const m = /^([A-Za-z+-]+)(?:[ \t]+(.*))?$/s.exec(line);
    if (!m) throw new ProtocolError(`unknown operation ${JSON.stringify(line.slice(0, 32))}`);
    const verb = m[1].toUpperCase();
    const rest = m[2] || "";
    switch (verb) {
      case "PING":
      case "PONG":
        return this.onOp({ op: verb });
      case "+OK":
        return this.onOp({ op: "OK" });
      case "-ERR":
        return this.onOp({ op: "ERR", message: rest.replace(/^'(.*)'$/s, "$1") });
      case "INFO": {
        let info;
        try {
          info = JSON.parse(rest);
        } catch {
          throw new ProtocolError("INFO is not JSON");
        }
        if (!info || typeof info !== "object" || Array.isArray(info)) throw new ProtocolError("INFO is not an object");
        return this.onOp({ op: "INFO", info });
      }
      case "MSG":
      case "HMSG":
        return this.msgLine(verb === "HMSG", rest);
    }
    throw new ProtocolError(`unknown operation ${JSON.stringify(verb.slice(0, 16))}`);
  }
  msgLine(hmsg, rest) {
    const f = rest.split(/[ \t]+/).filter(Boolean);
    const n = hmsg ? 4 : 3;
    if (f.length !== n && f.length !== n + 1) throw new ProtocolError(`bad ${hmsg ? "HMSG" : "MSG"} line`);
    const total = size(f[f.length - 1]);
    const hdr = hmsg ? size(f[f.length - 2]) : 0;
    if (hdr > total) throw new ProtocolError("header size over total size");
    if (total > this.lim.maxPayload) throw new ProtocolError(`message of ${total} bytes over ${this.lim.maxPayload}`);
    this.pending = { subject: f[0], sid: f[1], reply: f.length === n + 1 ? f[2] : "", hdr, need: total, hmsg };
  }
  message(p, payload) {
    let h = { headers: null, status: 0, description: "" };
    if (p.hmsg) {
      if (p.hdr < 12) throw new ProtocolError("header block too short");
      h = parseHeaders(payload.subarray(0, p.hdr), this.lim.maxHeaders);
    }
    this.onOp({ op: "MSG", msg: {
      subject: p.subject,
      sid: p.sid,
      reply: p.reply,
      ...h,
      data: payload.slice(p.hdr)
    } });
  }
};
var TOKEN = /^[!-~]{1,256}$/;
function checkSubject(s) {
  if (typeof s !== "string" || !TOKEN.test(s)) throw new TypeError(`bad NATS subject ${JSON.stringify(String(s).slice(0, 64))}`);
  return s;
}
var encode = {
  connect: (opts) => enc.encode(`CONNECT ${JSON.stringify(opts)}\r
`),
  ping: () => enc.encode("PING\r\n"),
  pong: () => enc.encode("PONG\r\n"),
  sub: (subject, sid) => enc.encode(`SUB ${checkSubject(subject)} ${sid}\r
`),
  unsub: (sid) => enc.encode(`UNSUB ${sid}\r
`),
  pub(subject, reply, data) {
    const body = typeof data === "string" ? enc.encode(data) : data || new Uint8Array(0);
    const head = enc.encode(`PUB ${checkSubject(subject)}${reply ? " " + checkSubject(reply) : ""} ${body.length}\r
`);
    const out = new Uint8Array(head.length + body.length + 2);
    out.set(head);
    out.set(body, head.length);
    out.set([CR, LF], head.length + body.length);
    return out;
  }
};
var text = (bytes2) => dec.decode(bytes2);

// src/env.js
var defaultEnv = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t),
  random: () => Math.random()
};
function randomHex(n) {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}
var Emitter = class {
  constructor() {
    this.listeners = /* @__PURE__ */ new Map();
  }
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, /* @__PURE__ */ new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }
  emit(type, value) {
    for (const fn of this.listeners.get(type) || []) {
      try {
        fn(value);
      } catch (err) {
        if (type !== "error") this.emit("error", err);
      }
    }
    for (const fn of this.listeners.get("*") || []) {
      try {
        fn(type, value);
      } catch {
      }
    }
  }
};
function clientError(code, message, extra) {
  const err = new Error(message);
  err.code = code;
  return Object.assign(err, extra);
}
function withDefaults(defs, o) {
  const out = { ...defs };
  for (const k of Object.keys(o || {})) if (o[k] !== void 0) out[k] = o[k];
  return out;
}

// src/nats.js
var OPEN = 1;
var VERSION = "0.1.0";
var Connection = class extends Emitter {
  constructor(opts) {
    super();
    if (!opts.servers || !opts.servers.length) throw new TypeError("emostream: no WebSocket URLs to connect to");
    this.o = withDefaults({
      pingMs: 2e4,
      maxPingsOut: 2,
      connectTimeoutMs: 5e3,
      requestTimeoutMs: 3e3,
      maxPending: 16,
      backoffMs: 250,
      maxBackoffMs: 1e4,
      stableMs: 1e4
    }, opts);
    this.env = opts.env || defaultEnv;
    this.WS = opts.WebSocket || globalThis.WebSocket;
    if (!this.WS) throw new TypeError("emostream: no WebSocket in this environment (pass one as WebSocket)");
    this.servers = opts.servers.slice();
    this.next = 0;
    this.fails = 0;
    this.cur = null;
    this.everUp = false;
    this.closed = false;
    this.subs = /* @__PURE__ */ new Map();
    this.sid = 0;
    this.pending = /* @__PURE__ */ new Map();
    this.reqId = 0;
    this.inbox = "";
    this.state = "connecting";
  }
  get connected() {
    return !!(this.cur && this.cur.ready);
  }
  start() {
    if (!this.cur && !this.redial && !this.closed) this.dial();
    return this;
  }
  status(state, extra = {}) {
    this.state = state;
    this.emit("status", { state, ...extra });
  }
  dial() {
    this.redial = 0;
    if (this.closed) return;
    const url = this.servers[this.next++ % this.servers.length];
    const c = { url, ready: false, dead: false, pingsOut: 0, since: 0, gotInfo: false };
    c.parser = new Parser((op) => this.op(c, op), this.o.limits);
    this.cur = c;
    c.timer = this.env.setTimeout(() => this.drop(c, clientError("timeout", "connect timeout")), this.o.connectTimeoutMs);
    try {
      c.ws = new this.WS(url);
    } catch (err) {
      return this.drop(c, err);
    }
    c.ws.binaryType = "arraybuffer";
    c.ws.onmessage = (ev) => {
      if (c.dead) return;
      try {
        c.parser.feed(typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data));
      } catch (err) {
        this.drop(c, err);
      }
    };
    c.ws.onclose = (ev) => this.drop(c, clientError("disconnected", `connection closed${ev && ev.code ? ` (${ev.code})` : ""}`));
    c.ws.onerror = () => this.drop(c, clientError("disconnected", "WebSocket error"));
  }
  send(c, bytes2) {
    if (!c.dead && c.ws && c.ws.readyState === OPEN) c.ws.send(bytes2);
  }
  op(c, op) {
    if (c.dead) return;
    switch (op.op) {
      case "INFO":
        if (c.gotInfo) return;
        c.gotInfo = true;
        this.send(c, encode.connect(this.connectOptions()));
        for (const [sid, s] of this.subs) this.send(c, encode.sub(s.subject, sid));
        this.send(c, encode.ping());
        return;
      case "PING":
        return this.send(c, encode.pong());
      case "PONG":
        c.pingsOut = 0;
        if (!c.ready) this.ready(c);
        return;
      case "ERR":
        if (!c.ready) return this.drop(c, clientError("refused", `server refused: ${op.message}`));
        return this.emit("error", clientError("server", `server: ${op.message}`));
      case "MSG": {
        const s = this.subs.get(op.msg.sid);
        if (!s) return;
        try {
          s.cb(wrap(op.msg));
        } catch (err) {
          this.emit("error", err);
        }
      }
    }
  }
  connectOptions() {
    const o = {
      verbose: false,
      pedantic: false,
      headers: true,
      no_responders: true,
      protocol: 1,
      lang: "emostream.js",
      version: VERSION,
      name: this.o.name || "emostream-client"
    };
    if (this.o.user != null) Object.assign(o, { user: this.o.user, pass: this.o.pass || "" });
    if (this.o.token != null) o.auth_token = this.o.token;
    return o;
  }
  ready(c) {
    this.env.clearTimeout(c.timer);
    c.ready = true;
    c.since = this.env.now();
    const reconnected = this.everUp;
    this.everUp = true;
    this.status("connected", { server: c.url, reconnected });
    this.keepalive(c);
  }
  keepalive(c) {
    c.timer = this.env.setTimeout(() => {
      if (c.dead) return;
      if (c.pingsOut >= this.o.maxPingsOut) return this.drop(c, clientError("stale", "stale connection: no PONG"));
      c.pingsOut++;
      this.send(c, encode.ping());
      this.keepalive(c);
    }, this.o.pingMs);
  }
  // drop ends socket c and, unless closed, dials the next server after a
  // backoff that doubles with each round of failed servers.
  drop(c, err) {
    if (c.dead || c !== this.cur) return;
    c.dead = true;
    this.env.clearTimeout(c.timer);
    if (c.ws) {
      c.ws.onmessage = c.ws.onclose = c.ws.onerror = null;
      try {
        c.ws.close();
      } catch {
      }
    }
    this.cur = null;
    for (const [, p] of this.pending) p.fail(clientError("disconnected", "connection lost"));
    if (this.closed) return;
    if (c.ready && this.env.now() - c.since >= this.o.stableMs) this.fails = 0;
    else this.fails++;
    const n = this.servers.length;
    const delay = this.fails === 0 ? 0 : Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** Math.floor((this.fails - 1) / n)) * (0.75 + this.env.random() / 2);
    this.status(this.everUp ? "reconnecting" : "connecting", { server: c.url, error: err && err.message, retryInMs: Math.round(delay) });
    this.redial = this.env.setTimeout(() => this.dial(), delay);
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    this.env.clearTimeout(this.redial);
    if (this.cur) this.drop(this.cur, clientError("closed", "closed"));
    for (const [, p] of this.pending) p.fail(clientError("closed", "connection closed"));
    this.status("closed");
  }
  // subscribe calls cb with each message on subject until unsubscribed;
  // it lasts across reconnects.
  subscribe(subject, cb) {
    checkSubject(subject);
    const sid = String(++this.sid);
    this.subs.set(sid, { subject, cb });
    if (this.connected) this.send(this.cur, encode.sub(subject, sid));
    return {
      unsubscribe: () => {
        if (!this.subs.delete(sid)) return;
        if (this.connected) this.send(this.cur, encode.unsub(sid));
      }
    };
  }
  // request publishes data to subject with a reply subject in this
  // connection's inbox and resolves to the first answer (which may be a
  // status message: msg.status 503 is "no responders"). It rejects with
  // err.code "timeout", "disconnected", "busy" (maxPending requests wait)
  // or "closed".
  request(subject, data, timeoutMs = this.o.requestTimeoutMs) {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(clientError("closed", "connection closed"));
      if (!this.connected) return reject(clientError("disconnected", "not connected"));
      if (this.pending.size >= this.o.maxPending) return reject(clientError("busy", `${this.o.maxPending} requests already wait`));
      if (!this.inbox) {
        this.inbox = `_INBOX.${randomHex(11)}`;
        this.subscribe(`${this.inbox}.*`, (m) => this.reply(m));
      }
      const token = (++this.reqId).toString(36);
      const p = {
        resolve: (m) => {
          this.pending.delete(token);
          this.env.clearTimeout(p.timer);
          resolve(m);
        },
        fail: (err) => {
          this.pending.delete(token);
          this.env.clearTimeout(p.timer);
          reject(err);
        }
      };
      p.timer = this.env.setTimeout(() => p.fail(clientError("timeout", `no answer from ${subject} within ${timeoutMs} ms`)), timeoutMs);
      this.pending.set(token, p);
      this.send(this.cur, encode.pub(subject, `${this.inbox}.${token}`, data));
    });
  }
  reply(m) {
    const p = this.pending.get(m.subject.slice(this.inbox.length + 1));
    if (p) p.resolve(m);
  }
};
function wrap(m) {
  m.string = () => text(m.data);
  m.json = () => JSON.parse(text(m.data));
  return m;
}

// src/viewer.js
var STREAM = "EMOSTREAM_SWARMS";
var SEQ = "Nats-Sequence";
var LAST_SEQ = "Nats-Last-Sequence";
var MATCH_ID = /^[A-Za-z0-9_-]{1,64}$/;
var subjects = {
  live: (m) => `emostream.live.${m}`,
  stored: (m) => `emostream.swarm.${m}`,
  latest: (m) => `$JS.API.DIRECT.GET.${STREAM}.emostream.swarm.${m}`,
  next: `$JS.API.DIRECT.GET.${STREAM}`
};
var MAX_WINDOW_MS = 36e5;
var MAX_FUTURE_MS = 864e5;
var Viewer = class {
  constructor(o) {
    if (!MATCH_ID.test(o.match)) throw new TypeError(`emostream: bad match id ${JSON.stringify(o.match)}`);
    this.o = withDefaults({
      maxRecovery: 150,
      maxWaiting: 10,
      retryMs: 1e3,
      maxQueued: 1e3,
      requestTimeoutMs: 3e3,
      onGap() {
      },
      onDrop() {
      },
      onNote() {
      }
    }, o);
    this.conn = o.conn;
    this.env = o.env;
    this.match = o.match;
    this.queue = Promise.resolve();
    this.queued = 0;
    this.stopped = false;
    this.last = { start: -Infinity, end: -Infinity, seq: 0 };
    this.lost = "";
    this.joined = false;
    this.empty = false;
    this.due = false;
    this.waiting = [];
  }
  start() {
    this.sub = this.conn.subscribe(subjects.live(this.match), (m) => {
      if (this.queued >= this.o.maxQueued) return this.o.onDrop("overloaded");
      this.enqueue(() => this.live(m));
    });
    this.offStatus = this.conn.on("status", (s) => {
      if (s.state === "connected") this.enqueue(() => this.recover());
    });
    if (this.conn.connected) this.enqueue(() => this.recover());
    this.tick();
    return this;
  }
  stop() {
    this.stopped = true;
    this.env.clearTimeout(this.timer);
    if (this.sub) this.sub.unsubscribe();
    if (this.offStatus) this.offStatus();
  }
  // tick reads again every retryMs while a recovery or the join got no
  // answer (no responders, a timeout): the stream may still hold them.
  tick() {
    this.timer = this.env.setTimeout(() => {
      if (this.stopped) return;
      if (this.conn.connected && !this.retrying && (this.due || !this.joined && !this.last.seq)) {
        this.retrying = true;
        this.enqueue(async () => {
          this.retrying = false;
          if (this.due) await this.recover();
          else if (!this.joined && !this.last.seq) await this.latest();
        });
      }
      this.tick();
    }, this.o.retryMs);
  }
  enqueue(fn) {
    this.queued++;
    this.queue = this.queue.then(() => this.stopped ? void 0 : fn()).catch((err) => this.o.onNote(`viewer: ${err.message}`)).finally(() => this.queued--);
  }
  // recover reads the stored swarms after the last shown one up to the
  // newest (the waiting live swarms are among them), then shows any
  // waiting one left over.
  async recover() {
    if (!await this.catchUp(0)) return;
    this.due = false;
    this.showWaiting();
  }
  // live handles one live message: first the windows missing before it.
  async live(m) {
    const s = this.parse(m);
    if (this.due) return this.wait(s);
    if (this.missedBefore(s) && !await this.catchUp(s.seq || Infinity)) return this.wait(s);
    this.show(s, "live");
  }
  // wait keeps the live swarm s until the unanswered recovery is answered;
  // past maxWaiting it gives the recovery up: the windows before the
  // waiting swarms are reported as a gap and the swarms shown.
  wait(s) {
    if (!this.valid(s) || !(s.start > this.last.start)) return this.show(s, "live");
    const newest = this.waiting.length ? this.waiting[this.waiting.length - 1].start : this.last.start;
    if (!(s.start > newest)) return this.o.onDrop("not newer");
    this.waiting.push(s);
    if (this.waiting.length <= this.o.maxWaiting) return;
    this.due = false;
    this.lost = `stream not answering (${this.waiting.length} live swarms waited)`;
    this.showWaiting();
  }
  showWaiting() {
    const reason2 = this.lost;
    for (const s of this.waiting) {
      if (reason2 && this.missedBefore(s)) this.lost = reason2;
      this.show(s, "live");
    }
    this.waiting = [];
  }
  // missedBefore: stored swarms may be missing between the last shown one
  // and the live swarm s. Its Nats-Last-Sequence (set by the stream's
  // RePublish) is the match's previous stored swarm, so a quiet stretch
  // costs no request. With nothing shown yet, only a join that found
  // nothing stored knows a later swarm (Nats-Last-Sequence not 0) was missed.
  missedBefore(s) {
    if (!this.valid(s) || !(s.start > this.last.end)) return false;
    if (!this.last.seq) return this.empty && s.prev !== null && s.prev > 0;
    if (s.prev !== null) return s.prev > this.last.seq;
    return s.seq !== this.last.seq + 1;
  }
  // valid: s is a swarm of the match watched, not from the far future. Only
  // a valid swarm may start a recovery or be shown.
  valid(s) {
    return !!s && s.swarm.match_id === this.match && s.start <= this.env.now() + MAX_FUTURE_MS;
  }
  // show hands s on if it passes verification and is newer than the last shown.
  show(s, source) {
    if (!s) return this.o.onDrop("undecodable");
    if (s.swarm.match_id !== this.match) return this.o.onDrop("other match");
    if (!this.valid(s)) return this.o.onDrop("from the future");
    if (!(s.start > this.last.start)) {
      if (s.seq && s.seq <= this.last.seq) return;
      return this.o.onDrop("not newer");
    }
    if (this.lost && this.last.end > -Infinity && s.start > this.last.end) {
      const len = Math.max(1, this.last.end - this.last.start);
      this.o.onGap({ from: this.last.end, to: s.start, windows: Math.ceil((s.start - this.last.end) / len), reason: this.lost });
    }
    this.lost = "";
    this.last = { start: s.start, end: s.end, seq: Math.max(this.last.seq, s.seq) };
    this.o.onSwarm({ ...s, source });
  }
  // catchUp shows the stored swarms after the last shown one, up to (not
  // including) sequence until (0: the newest); with nothing shown yet, the
  // latest one, unless the join found nothing stored: then every stored one
  // from the first. Its first request asks for the last shown sequence: the
  // stream drops a match's swarms oldest first, so while that one is
  // stored, every later one is too. It returns false when a read got no
  // answer (no responders, a timeout, the connection down): then nothing
  // is declared lost, and the recovery is due again.
  async catchUp(until) {
    if (!this.conn.connected) return this.unanswered("not connected");
    if (!this.last.seq && !this.empty) {
      if (!until) await this.latest();
      return true;
    }
    const anchor = this.last.seq;
    let from = Math.max(anchor, 1);
    for (let i = 0; i < this.o.maxRecovery; i++) {
      let s;
      try {
        s = await this.get(subjects.next, JSON.stringify({ seq: from, next_by_subj: subjects.stored(this.match) }));
      } catch (err) {
        return this.unanswered(err.message);
      }
      if (this.stopped) return true;
      if (!s && this.noStream) return this.unanswered("swarm stream out of reach");
      if (s && !(s.seq >= from)) {
        this.o.onNote(`recovery: answer ${s.seq} to a read from ${from}; ignored`);
        return this.unanswered("bad answer");
      }
      if (i === 0 && anchor) this.lost = s && s.seq === anchor ? "" : "no longer stored";
      if (!s || until && s.seq >= until) return true;
      if (s.seq !== anchor) this.show(s.parsed, "recovered");
      from = s.seq + 1;
    }
    this.lost = `recovery bound reached (${this.o.maxRecovery} requests)`;
    if (!until) await this.latest();
    return true;
  }
  unanswered(why) {
    this.due = true;
    this.o.onNote(`recovery interrupted: ${why}; reading again`);
    return false;
  }
  // latest shows the match's last stored swarm and notes that the join
  // was answered; a 404 with nothing shown notes that it found none.
  async latest() {
    let s;
    try {
      s = await this.get(subjects.latest(this.match), "");
    } catch (err) {
      return this.o.onNote(`latest swarm unavailable: ${err.message}`);
    }
    if (this.stopped) return;
    if (!s && this.noStream) return this.o.onNote(`swarm stream out of reach; reading ${this.match} again`);
    this.joined = true;
    if (!s) {
      this.empty = !this.last.seq;
      return this.o.onNote(`no stored swarm for ${this.match} yet`);
    }
    this.show(s.parsed, "latest");
  }
  // get sends a direct get: {seq, parsed} or null for none (404, or 503
  // no responders: no stream yet or none reachable, noted in noStream).
  async get(subject, body) {
    this.noStream = false;
    const m = await this.conn.request(subject, body, this.o.requestTimeoutMs);
    if (m.status === 503) {
      this.noStream = true;
      return null;
    }
    if (m.status === 404) return null;
    if (m.status) throw clientError("status", `status ${m.status} ${m.description}`);
    const parsed = this.parse(m);
    return { seq: parsed ? parsed.seq : seqOf(m.headers && m.headers.get(SEQ)), parsed };
  }
  // parse reads a swarm message: {swarm, start, end (ms), seq, prev} or
  // null (prev: Nats-Last-Sequence, null when absent).
  parse(m) {
    let swarm;
    try {
      swarm = m.json();
    } catch {
      return null;
    }
    if (!swarm || typeof swarm !== "object" || typeof swarm.match_id !== "string") return null;
    const start = Date.parse(swarm.window_start);
    const end = Date.parse(swarm.window_end);
    if (!(end > start) || end - start > MAX_WINDOW_MS) return null;
    if (!cleanCounts(swarm.counts) || !cleanCounts(swarm.swarm)) return null;
    const h = m.headers;
    const last = h && h.get(LAST_SEQ);
    return { swarm, start, end, seq: seqOf(h && h.get(SEQ)), prev: last != null && /^\d{1,16}$/.test(last) ? Number(last) : null };
  }
};
function seqOf(v) {
  return v && /^\d{1,16}$/.test(v) ? Number(v) : 0;
}
function cleanCounts(c) {
  if (c == null) return true;
  if (typeof c !== "object" || Array.isArray(c)) return false;
  const k = Object.keys(c);
  return k.length <= 1e3 && k.every((e) => Number.isSafeInteger(c[e]) && c[e] >= 0);
}

// src/sync.js
var MIN_LEAD = -3e5;
var Sync = class {
  constructor(o) {
    const windowMs = o.windowMs || 2e3;
    this.o = withDefaults({
      windowMs,
      video: null,
      lead: 0,
      delayMs: 0,
      unknown: "live",
      maxBuffered: 300,
      chunkWindows: 60,
      pollMs: 250,
      seekBackMs: 1e3,
      seekForwardMs: 5e3,
      maxLateMs: windowMs,
      fillOnJoin: true,
      onDisplay() {
      },
      onSkip() {
      },
      onOverflow() {
      },
      onError() {
      }
    }, o);
    this.env = o.env;
    this.setLead(this.o.lead, true);
    this.held = [];
    this.replayQ = [];
    this.replay = null;
    this.lastEnd = -Infinity;
    this.paused = false;
    this.pausedAt = 0;
    this.offset = this.o.delayMs;
    this.known = false;
    this.clockThrew = false;
    this.seekPending = false;
    this.prev = null;
    this.gen = 0;
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
        this.clockThrew = true;
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
    if (!this.videoMode) this.offset += this.env.now() - this.pausedAt;
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
    for (; ; ) {
      const q = this.replayQ.length && (!this.held.length || this.replayQ[0].end <= this.held[0].end) ? this.replayQ : this.held;
      if (!q.length || q[0].end > t) return;
      const x = q.shift();
      if (x.end <= this.lastEnd) continue;
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
    if (r.from > t + this.o.chunkWindows * w / 2 || this.replayQ.length >= this.o.chunkWindows / 2) return;
    if (r.from < t - this.o.maxLateMs) {
      const from2 = r.from;
      r.from = Math.floor((t - this.o.maxLateMs) / w) * w;
      if (r.from > from2) this.o.onSkip({ from: from2, to: r.from, windows: Math.ceil((r.from - from2) / w), reason: "late" });
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
      const got = steps.filter((s) => s.end > from && s.end <= to && s.end > this.lastEnd).map((s) => ({ ...s, source: "timeline" })).sort((a, b) => a.end - b.end);
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
      this.retryAt = this.env.now() + Math.min(3e4, 1e3 * 2 ** (this.failures - 1));
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
        wake = Math.min(wake, Math.max(1, this.retryAt - this.env.now(), r.from - this.o.chunkWindows * this.o.windowMs / 2 - t));
      }
    }
    if (wake < Infinity) this.timer = this.env.setTimeout(() => this.evaluate(), wake);
  }
};
function reason(err) {
  try {
    return String(err instanceof Error ? err.message : err).slice(0, 200);
  } catch {
    return "(unprintable)";
  }
}
function merge(a, b) {
  if (!a.length) return b;
  const out = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) out.push(j >= b.length || i < a.length && a[i].end <= b[j].end ? a[i++] : b[j++]);
  return out;
}
function insert(a, x) {
  let i = a.length;
  while (i > 0 && a[i - 1].end > x.end) i--;
  a.splice(i, 0, x);
}

// src/api.js
var ApiError = class extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryable = false;
    Object.assign(this, extra);
  }
};
var MAX_RETRY_AFTER_MS = 3e5;
function retryAfterMs(res, now) {
  const v = res && res.headers && res.headers.get("Retry-After");
  if (!v) return null;
  let ms = /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) * 1e3 : Date.parse(v) - now;
  if (!Number.isFinite(ms)) return null;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}
async function readJSON(res, maxBytes) {
  const len = Number(res.headers.get("Content-Length"));
  if (len > maxBytes) throw new ApiError(res.status, "bad_answer", `answer of ${len} bytes over ${maxBytes}`);
  let text2 = "";
  if (res.body && res.body.getReader) {
    const reader = res.body.getReader();
    const dec2 = new TextDecoder();
    let n = 0;
    for (; ; ) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > maxBytes) {
        reader.cancel().catch(() => {
        });
        throw new ApiError(res.status, "bad_answer", `answer over ${maxBytes} bytes`);
      }
      text2 += dec2.decode(value, { stream: true });
    }
    text2 += dec2.decode();
  } else {
    text2 = await res.text();
    if (text2.length > maxBytes) throw new ApiError(res.status, "bad_answer", `answer over ${maxBytes} bytes`);
  }
  try {
    return JSON.parse(text2);
  } catch {
    throw new ApiError(res.status, "bad_answer", `answer is not JSON (HTTP ${res.status})`);
  }
}
async function errorOf(res, now) {
  let e = {};
  try {
    const body = await readJSON(res, 65536);
    if (body && typeof body.error === "object" && body.error) e = body.error;
  } catch {
  }
  const code = typeof e.code === "string" ? e.code : `http_${res.status}`;
  const message = typeof e.message === "string" ? e.message.slice(0, 500) : `HTTP ${res.status}`;
  const wait = retryAfterMs(res, now);
  return new ApiError(res.status, code, `${res.status} ${code}: ${message}`, {
    index: Number.isInteger(e.index) ? e.index : void 0,
    retryable: res.status === 429 || res.status === 502 || res.status === 503 || res.status === 504,
    retryAfterMs: wait == null ? void 0 : wait
  });
}
var toMs = (v) => typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : NaN;
var num = (v) => Number.isFinite(v) ? v : 0;
function counts(c) {
  const out = {};
  if (!c || typeof c !== "object") return out;
  for (const k of Object.keys(c).slice(0, 1e3)) if (Number.isSafeInteger(c[k]) && c[k] >= 0) out[k] = c[k];
  return out;
}
function configOf(raw) {
  if (!raw || typeof raw !== "object") throw new ApiError(200, "bad_answer", "GET /v1/config: not an object");
  const urls = Array.isArray(raw.ws_urls) ? raw.ws_urls.filter((u) => typeof u === "string" && /^wss?:\/\//.test(u)) : [];
  const l = raw.limits && typeof raw.limits === "object" ? raw.limits : null;
  return {
    wsURLs: urls.slice(0, 64),
    windowMs: Number.isSafeInteger(raw.window_ms) && raw.window_ms > 0 ? raw.window_ms : 2e3,
    swarmThreshold: Number.isSafeInteger(raw.swarm_threshold) && raw.swarm_threshold > 0 ? raw.swarm_threshold : 1e3,
    emojiTypes: Array.isArray(raw.emoji_types) ? raw.emoji_types.filter((e) => typeof e === "string").slice(0, 1e3) : [],
    limits: l && {
      maxEvents: num(l.max_events),
      userRate: num(l.user_rate),
      userBurst: num(l.user_burst),
      ipRate: num(l.ip_rate),
      ipBurst: num(l.ip_burst)
    },
    auth: raw.auth === "jwt" ? "jwt" : "none",
    sessions: raw.sessions === true
  };
}
function timelineOf(raw) {
  if (!raw || typeof raw !== "object" || !Array.isArray(raw.steps)) throw new ApiError(200, "bad_answer", "timeline: no steps");
  const steps = [];
  for (const s of raw.steps.slice(0, 5e4)) {
    const start = toMs(s && s.start);
    const end = toMs(s && s.end);
    if (end > start) steps.push({ start, end, counts: counts(s.counts), total: num(s.total) });
  }
  const moments = Array.isArray(raw.moments) ? raw.moments.slice(0, 1e4).filter((m) => m && typeof m === "object") : [];
  return {
    matchId: String(raw.match_id || ""),
    step: String(raw.step || ""),
    from: toMs(raw.from),
    to: toMs(raw.to),
    steps,
    totals: counts(raw.totals),
    total: num(raw.total),
    moments
  };
}
var Http = class {
  constructor({ baseURL = "", fetch: f, env, timeoutMs = 1e4 }) {
    this.base = baseURL.replace(/\/+$/, "");
    this.fetch = f || ((...a) => globalThis.fetch(...a));
    this.env = env;
    this.timeoutMs = timeoutMs;
  }
  // call runs fetch with a timeout; a failure is ApiError network/timeout.
  async call(path, init = {}) {
    const ctl = new AbortController();
    const abort = () => ctl.abort();
    if (init.signal) {
      if (init.signal.aborted) throw new ApiError(0, "aborted", "aborted");
      init.signal.addEventListener("abort", abort, { once: true });
    }
    let timedOut = false;
    const timer = this.env.setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, this.timeoutMs);
    try {
      return await this.fetch(this.base + path, { ...init, signal: ctl.signal });
    } catch (err) {
      if (timedOut) throw new ApiError(0, "timeout", `${path}: no answer within ${this.timeoutMs} ms`, { retryable: true });
      if (init.signal && init.signal.aborted) throw new ApiError(0, "aborted", "aborted");
      throw new ApiError(0, "network", `${path}: ${err.message}`, { retryable: true });
    } finally {
      this.env.clearTimeout(timer);
      if (init.signal) init.signal.removeEventListener("abort", abort);
    }
  }
  async getJSON(path, { signal, maxBytes = 1 << 20, attempts = 3 } = {}) {
    for (let i = 1; ; i++) {
      let err;
      try {
        const res = await this.call(path, { headers: { Accept: "application/json" }, signal });
        if (res.ok) return await readJSON(res, maxBytes);
        err = await errorOf(res, this.env.now());
      } catch (e) {
        err = e;
      }
      if (!err.retryable || i >= attempts) throw err;
      await sleep(this.env, err.retryAfterMs ?? 500 * 2 ** (i - 1));
    }
  }
};
function sleep(env, ms) {
  return new Promise((resolve) => env.setTimeout(resolve, ms));
}
var badField = (message) => new ApiError(0, "bad_field", message);

// src/sender.js
var utf8 = new TextEncoder();
var bytes = (s) => utf8.encode(s).length;
var ONE_EVENT = /* @__PURE__ */ new Set(["bad_field", "unknown_emoji", "forbidden", "bad_video_ts"]);
var ITS_MATCH = /* @__PURE__ */ new Set(["unknown_match", "match_not_live"]);
var Sender = class {
  // o: {http, env, limits: () => Promise<limits|null>, token, userId,
  //     maxQueued [10000], maxAttempts [8], backoffMs [500], maxBackoffMs [30000]}
  constructor(o) {
    this.o = withDefaults({ maxQueued: 1e4, maxAttempts: 8, backoffMs: 500, maxBackoffMs: 3e4 }, o);
    this.env = o.env;
    this.queue = [];
    this.busy = false;
    this.closed = false;
  }
  // react queues one reaction and resolves when the server took it:
  // {eventId, accepted, windows}; it rejects with an ApiError. stamped says
  // the client, not the app, gave videoTs (a Watch's video clock): a
  // bad_video_ts refusal of it sends the reaction again without, counted
  // where it arrives, rather than failing it.
  react(r, stamped = false) {
    let ev;
    try {
      ev = this.event(r || {});
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closed) return Promise.reject(new ApiError(0, "closed", "sender closed"));
    if (this.queue.length >= this.o.maxQueued) {
      return Promise.reject(new ApiError(0, "queue_full", `${this.o.maxQueued} reactions already wait`, { retryable: true }));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ ev, resolve, reject, stamped: stamped && ev.video_ts != null });
      if (!this.busy) {
        this.busy = true;
        Promise.resolve().then(() => this.pump());
      }
    });
  }
  // event builds and checks the wire event; bad input throws ApiError bad_field.
  event(r) {
    const matchId = r.matchId;
    if (typeof matchId !== "string" || !MATCH_ID.test(matchId)) throw badField(`matchId: 1-64 of A-Z a-z 0-9 _ -, got ${JSON.stringify(matchId)}`);
    if (typeof r.emoji !== "string" || !r.emoji || bytes(r.emoji) > 64) throw badField("emoji: a non-empty string");
    const ev = { match_id: matchId, emoji_type: r.emoji, event_id: r.eventId ?? randomHex(16) };
    if (typeof ev.event_id !== "string" || !ev.event_id || bytes(ev.event_id) > 64) throw badField("eventId: 1-64 bytes");
    const user = r.userId ?? this.o.userId;
    if (user != null) {
      if (typeof user !== "string" || !user || bytes(user) > 128) throw badField("userId: 1-128 bytes");
      ev.user_id = user;
    }
    if (r.videoTs != null) {
      if (!Number.isSafeInteger(r.videoTs) || r.videoTs <= 0) throw badField("videoTs: Unix milliseconds (a whole positive number)");
      ev.video_ts = r.videoTs;
    }
    if (r.timestamp != null) {
      if (!Number.isSafeInteger(r.timestamp) || r.timestamp < 0) throw badField("timestamp: Unix milliseconds");
      ev.timestamp = r.timestamp;
    }
    return ev;
  }
  async pump() {
    try {
      while (this.queue.length && !this.closed) {
        const limits = await this.o.limits().catch(() => null) || {};
        await this.send(this.take(limits));
      }
    } finally {
      this.busy = false;
    }
  }
  // take removes the next batch: at most max_events events, ip_burst in
  // all and user_burst of one user (with a token, all are the token's user).
  take(l) {
    const cap = Math.min(l.maxEvents || 1e3, l.ipBurst || Infinity);
    const perUser = l.userBurst || Infinity;
    const users = /* @__PURE__ */ new Map();
    const batch = [];
    const rest = [];
    for (const x of this.queue) {
      const u = this.o.token ? "" : x.ev.user_id ?? "";
      const n = users.get(u) || 0;
      if (batch.length < cap && n < perUser) {
        batch.push(x);
        users.set(u, n + 1);
      } else rest.push(x);
    }
    this.queue = rest;
    return batch;
  }
  // send posts one batch until it is taken, refused, or the tries run out.
  async send(batch) {
    let tries = 0;
    let refresh = false;
    while (batch.length) {
      let res;
      let err;
      try {
        res = await this.post(batch, refresh);
      } catch (e) {
        err = e;
      }
      if (res && res.status === 202) {
        let data = {};
        try {
          data = await readJSON(res, 65536);
        } catch {
        }
        for (const x of batch) x.resolve({ eventId: x.ev.event_id, accepted: num2(data.accepted), windows: Array.isArray(data.windows) ? data.windows : [] });
        return;
      }
      if (res) err = await errorOf(res, this.env.now());
      if (err.code === "token") return fail(batch, err);
      if (err.status === 401 && this.o.token && !refresh) {
        refresh = true;
        continue;
      }
      refresh = false;
      if (err.retryable) {
        if (++tries >= this.o.maxAttempts || this.closed) return fail(batch, err);
        const backoff = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** (tries - 1)) * (0.75 + this.env.random() / 2);
        await this.nap(err.retryAfterMs ?? backoff);
        if (this.closed) return fail(batch, new ApiError(0, "closed", "sender closed"));
        continue;
      }
      batch = this.narrow(batch, err);
    }
  }
  // narrow fails what a refusal names and returns the events to send again
  // (their event_ids unchanged); with nothing named, all fail.
  narrow(batch, err) {
    const i = err.index;
    const named = Number.isInteger(i) && i >= 0 && i < batch.length;
    if (err.code === "burst_exceeded" && named && i > 0) {
      this.queue = batch.slice(i).concat(this.queue);
      return batch.slice(0, i);
    }
    if (err.status === 413 && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      this.queue = batch.slice(half).concat(this.queue);
      return batch.slice(0, half);
    }
    if (named && err.code === "bad_video_ts" && batch[i].stamped) {
      delete batch[i].ev.video_ts;
      batch[i].stamped = false;
      return batch;
    }
    if (named && ONE_EVENT.has(err.code)) {
      batch[i].reject(err);
      return batch.filter((_, j) => j !== i);
    }
    if (named && ITS_MATCH.has(err.code)) {
      const m = batch[i].ev.match_id;
      return fail(batch.filter((x) => x.ev.match_id === m), err, batch.filter((x) => x.ev.match_id !== m));
    }
    return fail(batch, err);
  }
  async post(batch, refresh) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (this.o.token) {
      let t;
      try {
        t = await this.o.token({ refresh });
      } catch (e) {
        throw new ApiError(0, "token", `token provider: ${e && e.message}`);
      }
      if (t) headers.Authorization = `Bearer ${t}`;
    }
    const body = JSON.stringify(batch.map((x) => x.ev));
    return this.o.http.call("/v1/emojis", { method: "POST", headers, body });
  }
  // nap waits ms, or until close().
  nap(ms) {
    return new Promise((resolve) => {
      const t = this.env.setTimeout(resolve, ms);
      this.wake = () => {
        this.env.clearTimeout(t);
        resolve();
      };
    });
  }
  // close fails every waiting reaction, those waiting to be tried again too.
  close() {
    this.closed = true;
    if (this.wake) this.wake();
    fail(this.queue, new ApiError(0, "closed", "sender closed"));
    this.queue = [];
  }
};
function fail(list, err, keep = []) {
  for (const x of list) x.reject(err);
  return keep;
}
var num2 = (v) => Number.isFinite(v) ? v : 0;

// src/index.js
var STEPS = /* @__PURE__ */ new Set(["2s", "10s", "1m", "5m"]);
function createClient(options) {
  return new Client(options);
}
var Client = class {
  constructor(o = {}) {
    this.o = o;
    this.env = o.env || defaultEnv;
    this.http = new Http({ baseURL: o.baseURL || "", fetch: o.fetch, env: this.env, timeoutMs: o.timeoutMs });
    this.sender = new Sender({
      http: this.http,
      env: this.env,
      token: o.token,
      userId: o.userId,
      limits: async () => (await this.config()).limits,
      ...o.send
    });
    this.conn = null;
    this.refs = 0;
    this.watches = /* @__PURE__ */ new Set();
  }
  // config reads GET /v1/config once (options.config stands in for it).
  config() {
    if (!this.cfg) {
      this.cfg = (this.o.config ? Promise.resolve(this.o.config) : this.http.getJSON("/v1/config")).then(configOf);
      this.cfg.catch(() => {
        this.cfg = null;
      });
    }
    return this.cfg;
  }
  react(r, stamped = false) {
    return this.sender.react(r, stamped);
  }
  send(list) {
    return Promise.all(list.map((r) => this.react(r)));
  }
  // timeline reads GET /v1/matches/{id}/timeline.
  async timeline(matchId, q = {}) {
    if (!MATCH_ID.test(matchId)) throw new ApiError(0, "bad_field", `bad match id ${JSON.stringify(matchId)}`);
    const p = new URLSearchParams({ format: "json" });
    for (const k of ["from", "to"]) {
      const v = q[k] instanceof Date ? q[k].getTime() : q[k];
      if (v == null) continue;
      if (!(Number.isSafeInteger(v) || typeof v === "string" && v.length <= 64)) throw new ApiError(0, "bad_field", `${k}: Unix ms or RFC 3339`);
      p.set(k, String(v));
    }
    if (q.step != null) {
      if (!STEPS.has(q.step)) throw new ApiError(0, "bad_field", "step: 2s, 10s, 1m or 5m");
      p.set("step", q.step);
    }
    if (q.by != null) {
      if (!/^[a-z_]{1,32}$/.test(q.by)) throw new ApiError(0, "bad_field", "by: a name of lower-case letters");
      p.set("by", q.by);
    }
    const raw = await this.http.getJSON(`/v1/matches/${matchId}/timeline?${p}`, { signal: q.signal, maxBytes: 32 << 20 });
    return timelineOf(raw);
  }
  watch(matchId, options) {
    const w = new Watch(this, matchId, options || {});
    this.watches.add(w);
    return w;
  }
  // acquire shares one NATS connection among the watches.
  acquire(cfg) {
    if (!this.conn) {
      const servers = this.o.wsURLs || cfg.wsURLs;
      this.conn = new Connection({ servers, WebSocket: this.o.WebSocket, env: this.env, ...this.o.nats }).start();
    }
    this.refs++;
    return this.conn;
  }
  release() {
    if (--this.refs > 0 || !this.conn) return;
    this.conn.close();
    this.conn = null;
  }
  close() {
    this.sender.close();
    for (const w of this.watches) w.close();
    if (this.conn) this.conn.close();
    this.conn = null;
    this.refs = 0;
  }
};
var Watch = class extends Emitter {
  constructor(client, matchId, o) {
    super();
    if (!MATCH_ID.test(matchId)) throw new TypeError(`emostream: bad match id ${JSON.stringify(matchId)}`);
    this.client = client;
    this.matchId = matchId;
    this.o = o;
    this.viewers = null;
    this.state = "connecting";
    this.threshold = 1e3;
    this.closed = false;
    this.sync = new Sync({
      env: client.env,
      video: o.video,
      lead: o.lead,
      delayMs: o.delayMs,
      unknown: o.unknownClock,
      maxBuffered: o.maxBuffered,
      pollMs: o.pollMs,
      fillOnJoin: o.fillOnJoin,
      fetchTimeline: o.replay === false ? null : (from, to) => this.replaySteps(from, to),
      onDisplay: (x) => this.emit("swarm", this.display(x)),
      onSkip: (s) => this.emit("skip", s),
      onOverflow: (s) => this.emit("overflow", s),
      onError: (err) => this.emit("error", err)
    });
    this.ready = client.config().then((cfg) => this.begin(cfg)).catch((err) => {
      this.emit("error", err);
      this.status({ state: "closed", error: err.message });
      throw err;
    });
    this.ready.catch(() => {
    });
  }
  begin(cfg) {
    if (this.closed) return;
    this.threshold = cfg.swarmThreshold;
    this.windowMs = cfg.windowMs;
    this.sync.o.windowMs = cfg.windowMs;
    this.sync.o.maxLateMs = this.o.maxLateMs ?? cfg.windowMs;
    this.sync.setLead(this.o.lead, true);
    this.conn = this.client.acquire(cfg);
    this.offStatus = this.conn.on("status", (s) => this.status(s));
    this.offError = this.conn.on("error", (e) => this.emit("error", e));
    if (this.conn.connected) this.status({ state: "connected" });
    this.viewer = new Viewer({
      conn: this.conn,
      env: this.client.env,
      match: this.matchId,
      ...this.o.recovery,
      onSwarm: (item) => this.received(item),
      onGap: (g) => this.emit("gap", g),
      onDrop: (reason2) => this.emit("drop", reason2),
      onNote: (text2) => this.emit("note", text2)
    }).start();
  }
  status(s) {
    this.state = s.state;
    this.emit("status", s);
  }
  received(item) {
    const v = item.swarm.viewers;
    if (Number.isSafeInteger(v) && v >= 0 && v !== this.viewers) {
      this.viewers = v;
      this.emit("viewers", v);
    }
    this.sync.push(item);
  }
  // display makes the public form of a window to show.
  display(x) {
    const s = x.swarm;
    const counts2 = s ? s.counts || {} : x.counts;
    const units = {};
    if (s && s.swarm) Object.assign(units, s.swarm);
    else for (const [e, n] of Object.entries(counts2)) if (n >= this.threshold) units[e] = Math.floor(n / this.threshold);
    return {
      matchId: this.matchId,
      start: x.start,
      end: x.end,
      source: x.source,
      counts: counts2,
      total: s ? Number.isFinite(s.total) ? s.total : 0 : x.total,
      units,
      moments: (s ? s.moments : x.moments) || [],
      viewers: s && Number.isSafeInteger(s.viewers) ? s.viewers : void 0,
      seq: x.seq || 0,
      swarm: s || null
    };
  }
  // replaySteps reads the timeline's windows ending in (from, to + 1].
  async replaySteps(from, to) {
    const t = await this.client.timeline(this.matchId, { from, to, step: stepOf(this.windowMs), by: this.o.replayBy });
    return momentsInSteps(t.steps, t.moments);
  }
  play() {
    this.sync.play();
  }
  pause() {
    this.sync.pause();
  }
  seeked(programMs) {
    this.sync.seeked(programMs);
  }
  setLead(ms) {
    this.sync.setLead(ms);
  }
  setDelay(ms) {
    this.sync.setDelay(ms);
  }
  setVideoClock(fn) {
    this.sync.setVideo(fn);
  }
  // programTime is the program time the display follows now (the video's,
  // or live less the delay), or null.
  programTime() {
    return this.sync.clock();
  }
  // react sends a reaction to this match; unless sendVideoTs is false,
  // stamped with the program time of the frame on screen when a video
  // clock knows it (the server counts it in that window of the timeline
  // by program time; one the server refuses as out of its bounds is sent
  // again without).
  react(emoji, extra = {}) {
    const r = { matchId: this.matchId, emoji, ...extra };
    let stamped = false;
    if (this.o.sendVideoTs !== false && r.videoTs == null && this.sync.o.video) {
      const t = Math.floor(this.sync.videoTime());
      if (Number.isSafeInteger(t) && t > 0) {
        r.videoTs = t;
        stamped = true;
      }
    }
    return this.client.react(r, stamped);
  }
  close() {
    if (this.closed) return;
    this.closed = true;
    this.sync.stop();
    if (this.viewer) this.viewer.stop();
    if (this.offStatus) this.offStatus();
    if (this.offError) this.offError();
    if (this.conn) this.client.release();
    this.client.watches.delete(this);
    this.emit("status", { state: "closed" });
    for (const w of this.iterators || []) w();
  }
  // Iterating yields {type, value} for every event; at most 1000 wait
  // (older ones are dropped, counted in iteratorDropped). Calls of next()
  // that overlap are answered in the order they were made.
  [Symbol.asyncIterator]() {
    const q = [];
    const waiting = [];
    let done = false;
    this.iteratorDropped = 0;
    const end = () => ({ value: void 0, done: true });
    const off = this.on("*", (type, value) => {
      if (waiting.length) return waiting.shift()({ value: { type, value }, done: false });
      q.push({ type, value });
      if (q.length > 1e3) {
        q.shift();
        this.iteratorDropped++;
      }
    });
    const finish = () => {
      if (done) return;
      done = true;
      off();
      for (const r of waiting.splice(0)) r(end());
    };
    (this.iterators ||= []).push(finish);
    return {
      next: () => {
        if (q.length) return Promise.resolve({ value: q.shift(), done: false });
        if (done) return Promise.resolve(end());
        return new Promise((r) => waiting.push(r));
      },
      return: async () => {
        finish();
        return end();
      },
      [Symbol.asyncIterator]() {
        return this;
      }
    };
  }
};
function momentsInSteps(steps, moments) {
  const out = steps.map((s) => ({ ...s, moments: [] }));
  const by = out.slice().sort((a, b) => a.start - b.start);
  for (const m of moments) {
    const at = Date.parse(m.window_start);
    let lo = 0;
    let hi = by.length;
    while (lo < hi) {
      const mid = lo + hi >> 1;
      if (by[mid].start <= at) lo = mid + 1;
      else hi = mid;
    }
    const s = by[lo - 1];
    if (s && at < s.end) s.moments.push(m);
  }
  return out;
}
function stepOf(ms) {
  return { 2e3: "2s", 1e4: "10s", 6e4: "1m", 3e5: "5m" }[ms] || "2s";
}
function hlsClock(hls) {
  return () => {
    const d = hls.playingDate;
    return d ? d.getTime() : null;
  };
}
function bindMedia(media, w) {
  const on = { play: () => w.play(), playing: () => w.play(), pause: () => w.pause(), ended: () => w.pause(), seeked: () => w.seeked() };
  for (const [k, f] of Object.entries(on)) media.addEventListener(k, f);
  if (media.paused) w.pause();
  return () => {
    for (const [k, f] of Object.entries(on)) media.removeEventListener(k, f);
  };
}
export {
  ApiError,
  Client,
  ProtocolError,
  Watch,
  bindMedia,
  createClient,
  hlsClock
};
