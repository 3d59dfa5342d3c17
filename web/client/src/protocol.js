// The NATS client protocol as bytes: a streaming parser for what a server
// sends (INFO, MSG, HMSG, PING, PONG, +OK, -ERR) and encoders for what a
// viewer sends (CONNECT, PING, PONG, SUB, UNSUB, PUB). The input is
// untrusted (a hostile edge, injected messages): every buffer is bounded,
// a violation throws ProtocolError and the connection is dropped; nothing
// is ever evaluated.

const CR = 13;
const LF = 10;
const enc = new TextEncoder();
const dec = new TextDecoder();

export const LIMITS = {
  maxControlLine: 16384, // INFO can list a cluster's URLs
  maxPayload: 1 << 20, // nats-server's default max_payload
  maxHeaders: 64, // header lines in one HMSG
};

export class ProtocolError extends Error {
  constructor(message) {
    super(`nats protocol: ${message}`);
    this.name = "ProtocolError";
  }
}

// Headers of an HMSG: names compared without case, as NATS does.
export class MsgHeaders {
  constructor() {
    this.map = new Map();
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
}

// parseHeaders reads a header block "NATS/1.0[ code[ text]]\r\n(K: v\r\n)*\r\n"
// into {headers, status, description}.
export function parseHeaders(bytes, maxHeaders = LIMITS.maxHeaders) {
  const lines = dec.decode(bytes).split("\r\n");
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

const SIZE = /^\d{1,10}$/;

function size(s) {
  if (!SIZE.test(s)) throw new ProtocolError(`bad size ${JSON.stringify(s.slice(0, 16))}`);
  return Number(s);
}

// Parser turns the server's bytes, cut anywhere, into operations passed
// to onOp in order:
//   {op:"INFO", info} {op:"MSG", msg} {op:"PING"} {op:"PONG"} {op:"OK"}
//   {op:"ERR", message}
// A msg is {subject, sid, reply, headers (MsgHeaders or null), status,
// description, data (Uint8Array)}. It holds at most one control line and
// one payload: a line past maxControlLine, a payload past maxPayload or more
// than maxHeaders headers throws ProtocolError, after which the parser is
// unusable (drop the connection).
export class Parser {
  constructor(onOp, limits = {}) {
    this.onOp = onOp;
    this.lim = { ...LIMITS, ...limits };
    this.parts = []; // bytes received and not yet handled
    this.len = 0;
    this.pending = null; // a MSG/HMSG whose payload is awaited: {need, ...}
    this.failed = false;
  }

  feed(chunk) {
    if (this.failed) throw new ProtocolError("parser failed before");
    if (typeof chunk === "string") chunk = enc.encode(chunk);
    else if (!(chunk instanceof Uint8Array)) chunk = new Uint8Array(chunk);
    this.parts.push(chunk);
    this.len += chunk.length;
    // A payload cut into many frames is joined once, when it is whole.
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
    for (;;) {
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
      case "PING": case "PONG": return this.onOp({ op: verb });
      case "+OK": return this.onOp({ op: "OK" });
      case "-ERR": return this.onOp({ op: "ERR", message: rest.replace(/^'(.*)'$/s, "$1") });
      case "INFO": {
        let info;
        try { info = JSON.parse(rest); } catch { throw new ProtocolError("INFO is not JSON"); }
        if (!info || typeof info !== "object" || Array.isArray(info)) throw new ProtocolError("INFO is not an object");
        return this.onOp({ op: "INFO", info });
      }
      case "MSG": case "HMSG": return this.msgLine(verb === "HMSG", rest);
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
      if (p.hdr < 12) throw new ProtocolError("header block too short"); // "NATS/1.0\r\n\r\n"
      h = parseHeaders(payload.subarray(0, p.hdr), this.lim.maxHeaders);
    }
    this.onOp({ op: "MSG", msg: { subject: p.subject, sid: p.sid, reply: p.reply, ...h,
      data: payload.slice(p.hdr) } });
  }
}

// Subjects and sids written on a control line: printable, no spaces.
const TOKEN = /^[!-~]{1,256}$/;

export function checkSubject(s) {
  if (typeof s !== "string" || !TOKEN.test(s)) throw new TypeError(`bad NATS subject ${JSON.stringify(String(s).slice(0, 64))}`);
  return s;
}

export const encode = {
  connect: (opts) => enc.encode(`CONNECT ${JSON.stringify(opts)}\r\n`),
  ping: () => enc.encode("PING\r\n"),
  pong: () => enc.encode("PONG\r\n"),
  sub: (subject, sid) => enc.encode(`SUB ${checkSubject(subject)} ${sid}\r\n`),
  unsub: (sid) => enc.encode(`UNSUB ${sid}\r\n`),
  pub(subject, reply, data) {
    const body = typeof data === "string" ? enc.encode(data) : data || new Uint8Array(0);
    const head = enc.encode(`PUB ${checkSubject(subject)}${reply ? " " + checkSubject(reply) : ""} ${body.length}\r\n`);
    const out = new Uint8Array(head.length + body.length + 2);
    out.set(head);
    out.set(body, head.length);
    out.set([CR, LF], head.length + body.length);
    return out;
  },
};

export const text = (bytes) => dec.decode(bytes);
