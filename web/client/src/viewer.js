// The viewer protocol of docs/api.md ("Viewer protocol") on a Connection:
// live swarms of one match, the latest stored one on join, "next by
// sequence" reads after a reconnect or a gap, verification (the match
// watched, windows in order), and the documented bounds: at most
// maxRecovery requests per recovery, maxWaiting live swarms waiting for an
// unanswered one, a read again every retryMs while unanswered.
import { clientError, withDefaults } from "./env.js";

const STREAM = "EMOSTREAM_SWARMS";
const SEQ = "Nats-Sequence";
const LAST_SEQ = "Nats-Last-Sequence";
export const MATCH_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const subjects = {
  live: (m) => `emostream.live.${m}`,
  stored: (m) => `emostream.swarm.${m}`,
  latest: (m) => `$JS.API.DIRECT.GET.${STREAM}.emostream.swarm.${m}`,
  next: `$JS.API.DIRECT.GET.${STREAM}`,
};
const MAX_WINDOW_MS = 3600000; // a longer window is not a swarm
const MAX_FUTURE_MS = 86400000; // nor one that starts more than a day ahead of this clock

// Viewer reports through callbacks given to its constructor:
//   onSwarm({swarm, start, end, seq, source})  source: live | latest | recovered
//   onGap({from, to, windows, reason})       windows not recovered (ms)
//   onDrop(reason)                            a message not shown
//   onNote(text)                              worth a log line
export class Viewer {
  constructor(o) {
    if (!MATCH_ID.test(o.match)) throw new TypeError(`emostream: bad match id ${JSON.stringify(o.match)}`);
    this.o = withDefaults({ maxRecovery: 150, maxWaiting: 10, retryMs: 1000, maxQueued: 1000, requestTimeoutMs: 3000,
      onGap() {}, onDrop() {}, onNote() {} }, o);
    this.conn = o.conn;
    this.env = o.env;
    this.match = o.match;
    this.queue = Promise.resolve(); // messages are handled one at a time, in order
    this.queued = 0;
    this.stopped = false;
    this.last = { start: -Infinity, end: -Infinity, seq: 0 };
    this.lost = ""; // why windows after the last shown may be missing
    this.joined = false; // the late join's read was answered (a swarm or 404)
    this.empty = false; // it found nothing stored: every stored swarm came after the join
    this.due = false; // a recovery got no answer: read again every retryMs
    this.waiting = []; // live swarms received meanwhile, in order
  }

  start() {
    this.sub = this.conn.subscribe(subjects.live(this.match), (m) => {
      if (this.queued >= this.o.maxQueued) return this.o.onDrop("overloaded");
      this.enqueue(() => this.live(m));
    });
    this.offStatus = this.conn.on("status", (s) => {
      if (s.state === "connected") this.enqueue(() => this.recover()); // join, or recovery after a reconnect
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
      if (this.conn.connected && !this.retrying && (this.due || (!this.joined && !this.last.seq))) {
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
    this.queue = this.queue.then(() => (this.stopped ? undefined : fn()))
      .catch((err) => this.o.onNote(`viewer: ${err.message}`))
      .finally(() => this.queued--);
  }

  // recover reads the stored swarms after the last shown one up to the
  // newest (the waiting live swarms are among them), then shows any
  // waiting one left over.
  async recover() {
    if (!(await this.catchUp(0))) return;
    this.due = false;
    this.showWaiting();
  }

  // live handles one live message: first the windows missing before it.
  async live(m) {
    const s = this.parse(m);
    if (this.due) return this.wait(s);
    if (this.missedBefore(s) && !(await this.catchUp(s.seq || Infinity))) return this.wait(s);
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
    const reason = this.lost;
    for (const s of this.waiting) {
      if (reason && this.missedBefore(s)) this.lost = reason;
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
      if (s.seq && s.seq <= this.last.seq) return; // a repeat of a recovered swarm
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
      if (s && !(s.seq >= from)) { // an answer before what was asked: not the stream's
        this.o.onNote(`recovery: answer ${s.seq} to a read from ${from}; ignored`);
        return this.unanswered("bad answer");
      }
      if (i === 0 && anchor) this.lost = s && s.seq === anchor ? "" : "no longer stored";
      if (!s || (until && s.seq >= until)) return true;
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
}

function seqOf(v) {
  return v && /^\d{1,16}$/.test(v) ? Number(v) : 0;
}

// cleanCounts: absent, or an object of at most 1000 emojis to counts.
function cleanCounts(c) {
  if (c == null) return true;
  if (typeof c !== "object" || Array.isArray(c)) return false;
  const k = Object.keys(c);
  return k.length <= 1000 && k.every((e) => Number.isSafeInteger(c[e]) && c[e] >= 0);
}
