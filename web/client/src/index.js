// EmoStream's embeddable client: live swarms with gap recovery and
// occupancy, shown in step with the viewer's video; reactions; the
// timeline. docs/client.md is its manual; emostream.d.ts its types.
import { Connection } from "./nats.js";
import { Viewer, MATCH_ID } from "./viewer.js";
import { Sync } from "./sync.js";
import { Sender } from "./sender.js";
import { ApiError, Http, configOf, timelineOf } from "./api.js";
import { Emitter, defaultEnv } from "./env.js";

export { ApiError };
export { ProtocolError } from "./protocol.js";

const STEPS = new Set(["2s", "10s", "1m", "5m"]);

export function createClient(options) {
  return new Client(options);
}

export class Client {
  constructor(o = {}) {
    this.o = o;
    this.env = o.env || defaultEnv;
    this.http = new Http({ baseURL: o.baseURL || "", fetch: o.fetch, env: this.env, timeoutMs: o.timeoutMs });
    this.sender = new Sender({ http: this.http, env: this.env, token: o.token, userId: o.userId,
      limits: async () => (await this.config()).limits, ...o.send });
    this.conn = null;
    this.refs = 0;
    this.watches = new Set(); // open: close() ends them
  }

  // config reads GET /v1/config once (options.config stands in for it).
  config() {
    if (!this.cfg) {
      this.cfg = (this.o.config ? Promise.resolve(this.o.config) : this.http.getJSON("/v1/config")).then(configOf);
      this.cfg.catch(() => { this.cfg = null; }); // read again next time
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
      if (!(Number.isSafeInteger(v) || (typeof v === "string" && v.length <= 64))) throw new ApiError(0, "bad_field", `${k}: Unix ms or RFC 3339`);
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
    for (const w of this.watches) w.close(); // their timers stop, and each releases the connection
    if (this.conn) this.conn.close();
    this.conn = null;
    this.refs = 0;
  }
}

// Watch follows one match: events "swarm" (a window to show now), "status",
// "viewers", "gap", "skip", "overflow", "drop", "note", "error"; also an
// async iterator of {type, value}.
export class Watch extends Emitter {
  constructor(client, matchId, o) {
    super();
    if (!MATCH_ID.test(matchId)) throw new TypeError(`emostream: bad match id ${JSON.stringify(matchId)}`);
    this.client = client;
    this.matchId = matchId;
    this.o = o;
    this.viewers = null;
    this.state = "connecting";
    this.threshold = 1000;
    this.closed = false;
    this.sync = new Sync({
      env: client.env, video: o.video, lead: o.lead, delayMs: o.delayMs, unknown: o.unknownClock,
      maxBuffered: o.maxBuffered, pollMs: o.pollMs, fillOnJoin: o.fillOnJoin,
      fetchTimeline: o.replay === false ? null : (from, to) => this.replaySteps(from, to),
      onDisplay: (x) => this.emit("swarm", this.display(x)),
      onSkip: (s) => this.emit("skip", s),
      onOverflow: (s) => this.emit("overflow", s),
      onError: (err) => this.emit("error", err),
    });
    // ready rejects when the config could not be read (after the "error"
    // event and the closed status); a watch nobody awaits rejects unseen.
    this.ready = client.config().then((cfg) => this.begin(cfg)).catch((err) => {
      this.emit("error", err);
      this.status({ state: "closed", error: err.message });
      throw err;
    });
    this.ready.catch(() => {});
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
      conn: this.conn, env: this.client.env, match: this.matchId, ...this.o.recovery,
      onSwarm: (item) => this.received(item),
      onGap: (g) => this.emit("gap", g),
      onDrop: (reason) => this.emit("drop", reason),
      onNote: (text) => this.emit("note", text),
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
    const counts = s ? s.counts || {} : x.counts;
    const units = {};
    if (s && s.swarm) Object.assign(units, s.swarm);
    else for (const [e, n] of Object.entries(counts)) if (n >= this.threshold) units[e] = Math.floor(n / this.threshold);
    return {
      matchId: this.matchId, start: x.start, end: x.end, source: x.source, counts,
      total: s ? (Number.isFinite(s.total) ? s.total : 0) : x.total, units,
      moments: (s ? s.moments : x.moments) || [], viewers: s && Number.isSafeInteger(s.viewers) ? s.viewers : undefined,
      seq: x.seq || 0, swarm: s || null,
    };
  }

  // replaySteps reads the timeline's windows ending in (from, to + 1].
  async replaySteps(from, to) {
    const t = await this.client.timeline(this.matchId, { from, to, step: stepOf(this.windowMs), by: this.o.replayBy });
    return momentsInSteps(t.steps, t.moments);
  }

  play() { this.sync.play(); }
  pause() { this.sync.pause(); }
  seeked(programMs) { this.sync.seeked(programMs); }
  setLead(ms) { this.sync.setLead(ms); }
  setDelay(ms) { this.sync.setDelay(ms); }
  setVideoClock(fn) { this.sync.setVideo(fn); }

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
      const t = Math.floor(this.sync.videoTime()); // a clock that throws sends none, as an unknown one
      if (Number.isSafeInteger(t) && t > 0) { // a clock off that scale (ns) sends none, as an unknown one
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
    const waiting = []; // resolvers of next() calls not answered yet
    let done = false;
    this.iteratorDropped = 0;
    const end = () => ({ value: undefined, done: true });
    const off = this.on("*", (type, value) => {
      if (waiting.length) return waiting.shift()({ value: { type, value }, done: false });
      q.push({ type, value });
      if (q.length > 1000) { q.shift(); this.iteratorDropped++; }
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
      return: async () => { finish(); return end(); },
      [Symbol.asyncIterator]() { return this; },
    };
  }
}

// momentsInSteps gives each step the moments that start in it: each
// moment goes to the latest-starting step containing it (steps do not
// overlap; a hostile answer's that do cost no more), found by binary
// search: O((steps + moments) log steps), not steps × moments.
function momentsInSteps(steps, moments) {
  const out = steps.map((s) => ({ ...s, moments: [] }));
  const by = out.slice().sort((a, b) => a.start - b.start);
  for (const m of moments) {
    const at = Date.parse(m.window_start);
    let lo = 0;
    let hi = by.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (by[mid].start <= at) lo = mid + 1;
      else hi = mid;
    }
    const s = by[lo - 1];
    if (s && at < s.end) s.moments.push(m);
  }
  return out;
}

function stepOf(ms) {
  return { 2000: "2s", 10000: "10s", 60000: "1m", 300000: "5m" }[ms] || "2s";
}

// hlsClock is a video clock from hls.js: the program time of the frame on
// screen, from the stream's EXT-X-PROGRAM-DATE-TIME (hls.playingDate).
export function hlsClock(hls) {
  return () => {
    const d = hls.playingDate;
    return d ? d.getTime() : null;
  };
}

// bindMedia tells w when media (a <video>) plays, pauses and seeks; it
// returns a function that unbinds.
export function bindMedia(media, w) {
  const on = { play: () => w.play(), playing: () => w.play(), pause: () => w.pause(), ended: () => w.pause(), seeked: () => w.seeked() };
  for (const [k, f] of Object.entries(on)) media.addEventListener(k, f);
  if (media.paused) w.pause();
  return () => { for (const [k, f] of Object.entries(on)) media.removeEventListener(k, f); };
}
