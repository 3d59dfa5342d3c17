// A minimal NATS client over WebSocket, enough for the viewer protocol:
// CONNECT (user/pass or token), PING/PONG keepalive, SUB/UNSUB, messages
// with headers, request/reply through one inbox per connection, -ERR, and
// reconnecting with backoff across several URLs. It follows only the URLs
// it was given (an INFO's connect_urls are ignored, so a server cannot
// send it elsewhere).
import { Parser, checkSubject, encode, text } from "./protocol.js";
import { Emitter, clientError, defaultEnv, randomHex, withDefaults } from "./env.js";

const OPEN = 1;
const VERSION = "0.1.0";

// Connection states, reported as "status" events {state, server, error}:
// connecting (before the first connection), connected, reconnecting
// (after a connection was lost), closed (by close()).
export class Connection extends Emitter {
  constructor(opts) {
    super();
    if (!opts.servers || !opts.servers.length) throw new TypeError("emostream: no WebSocket URLs to connect to");
    this.o = withDefaults({
      pingMs: 20000, maxPingsOut: 2, connectTimeoutMs: 5000, requestTimeoutMs: 3000, maxPending: 16,
      backoffMs: 250, maxBackoffMs: 10000, stableMs: 10000,
    }, opts);
    this.env = opts.env || defaultEnv;
    this.WS = opts.WebSocket || globalThis.WebSocket;
    if (!this.WS) throw new TypeError("emostream: no WebSocket in this environment (pass one as WebSocket)");
    this.servers = opts.servers.slice();
    this.next = 0; // index of the next server to dial
    this.fails = 0; // dials since the last stable connection
    this.cur = null; // the live socket's state
    this.everUp = false;
    this.closed = false;
    this.subs = new Map(); // sid -> {subject, cb}
    this.sid = 0;
    this.pending = new Map(); // request token -> {resolve, reject, timer}
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

  send(c, bytes) {
    if (!c.dead && c.ws && c.ws.readyState === OPEN) c.ws.send(bytes);
  }

  op(c, op) {
    if (c.dead) return;
    switch (op.op) {
      case "INFO":
        if (c.gotInfo) return; // a later INFO (cluster changes) changes nothing here
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
    const o = { verbose: false, pedantic: false, headers: true, no_responders: true, protocol: 1,
      lang: "emostream.js", version: VERSION, name: this.o.name || "emostream-client" };
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
      try { c.ws.close(); } catch { /* already closed */ }
    }
    this.cur = null;
    for (const [, p] of this.pending) p.fail(clientError("disconnected", "connection lost"));
    if (this.closed) return;
    if (c.ready && this.env.now() - c.since >= this.o.stableMs) this.fails = 0;
    else this.fails++;
    const n = this.servers.length;
    const delay = this.fails === 0 ? 0
      : Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** Math.floor((this.fails - 1) / n)) * (0.75 + this.env.random() / 2);
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
      },
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
        resolve: (m) => { this.pending.delete(token); this.env.clearTimeout(p.timer); resolve(m); },
        fail: (err) => { this.pending.delete(token); this.env.clearTimeout(p.timer); reject(err); },
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
}

// wrap gives a parsed message its readers.
function wrap(m) {
  m.string = () => text(m.data);
  m.json = () => JSON.parse(text(m.data));
  return m;
}
