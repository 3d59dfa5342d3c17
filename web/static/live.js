// The viewer side (docs/api.md, "Viewer protocol"): a NATS WebSocket
// connection to a leaf cluster or an edge that subscribes to
// emostream.live.<match>, reads the match's latest stored swarm on join
// ("latest"), and after a reconnect or a live window that comes after a gap
// reads the missed ones ("next", from the last shown sequence). It shows a
// swarm only if it is the match's and newer than the last shown.
import { wsconnect, Empty } from "./vendor/nats.js";

const STREAM = "EMOSTREAM_SWARMS";
const SEQ = "Nats-Sequence";
const LAST_SEQ = "Nats-Last-Sequence"; // on republished live messages: the match's previous stored swarm
const MAX_RECOVERY = 150; // "next" requests per recovery
const MAX_WAITING = 10; // live swarms waiting for an unanswered recovery
const liveSubject = (match) => `emostream.live.${match}`;
const storedSubject = (match) => `emostream.swarm.${match}`;
const directGetSubject = (match) => `$JS.API.DIRECT.GET.${STREAM}.${storedSubject(match)}`;
const nextSubject = `$JS.API.DIRECT.GET.${STREAM}`;

// Live reports through callbacks:
//   onStatus(state, detail)   state: connecting | connected | reconnecting | disconnected
//   onSwarm(swarm, source)    source: "live", "latest" (the stored one on join) or "recovered"
//   onDrop(reason)            a message not shown: "other match", "not newer", "undecodable"
//   onGap(gap)                {from, to (ms), windows, reason}: windows not recovered
//   onNote(text)              something worth a log line
export class Live {
  constructor({ servers, onStatus, onSwarm, onNote, onDrop = () => {}, onGap = () => {} }) {
    this.servers = servers;
    this.onStatus = onStatus;
    this.onSwarm = onSwarm;
    this.onNote = onNote;
    this.onDrop = onDrop;
    this.onGap = onGap;
    this.queue = Promise.resolve(); // messages are handled one at a time, in order
    this.resetShown();
    this.nc = null;
    this.sub = null;
    this.match = "";
    this.dialing = false;    // a first connection is pending
    this.cancelled = false;  // disconnect was pressed while dialing
  }

  // connect dials the leaf clusters (any of servers, failing over and
  // reconnecting on its own) and watches the current match. While the first
  // connection is pending (the servers may be down), disconnect gives up.
  async connect() {
    if (this.nc) return;
    this.cancelled = false;
    this.onStatus("connecting", this.servers.join(", "));
    if (this.dialing) return; // the pending dial goes on
    this.dialing = true;
    let nc;
    try {
      nc = await wsconnect({ servers: this.servers, name: "emostream-web",
        maxReconnectAttempts: -1, reconnectTimeWait: 1000, waitOnFirstConnect: true });
    } catch (err) {
      this.onStatus("disconnected", `could not connect: ${err.message}`);
      return;
    } finally {
      this.dialing = false;
    }
    if (this.cancelled) {
      nc.close();
      return;
    }
    this.nc = nc;
    this.onStatus("connected", nc.getServer());
    this.followStatus(nc);
    nc.closed().then((err) => {
      if (this.nc !== nc) return;
      this.nc = null;
      this.sub = null;
      this.onStatus("disconnected", err ? err.message : "closed");
    });
    if (this.match) this.subscribe();
  }

  async followStatus(nc) {
    for await (const s of nc.status()) {
      if (this.nc !== nc) return;
      if (s.type === "disconnect") this.onStatus("reconnecting", `lost ${s.server || "server"}`);
      if (s.type === "reconnect") {
        this.onStatus("connected", nc.getServer());
        const match = this.match;
        this.enqueue(() => this.recover(match));
      }
    }
  }

  // disconnect drains the subscription and closes the connection.
  async disconnect() {
    if (this.dialing) {
      this.cancelled = true;
      this.onStatus("disconnected", "by you");
      return;
    }
    const nc = this.nc;
    if (!nc) return;
    this.nc = null;
    this.sub = null;
    try { await nc.drain(); } catch { await nc.close(); }
    this.onStatus("disconnected", "by you");
  }

  // watch switches to another match.
  watch(match) {
    if (this.sub) this.sub.unsubscribe();
    this.sub = null;
    if (match !== this.match) this.resetShown();
    this.match = match;
    if (this.nc) this.subscribe();
  }

  resetShown() {
    this.last = { start: -Infinity, end: -Infinity, seq: 0 };
    this.lost = ""; // why windows after the last shown may be missing
    this.joined = false; // the late join's read was answered (a swarm or 404)
    this.empty = false; // it found nothing stored: every stored swarm came after the join
    this.due = false; // a recovery got no answer: read again every second
    this.waiting = []; // live swarms received meanwhile, in order
  }

  subscribe() {
    const match = this.match;
    const sub = this.nc.subscribe(liveSubject(match));
    this.sub = sub;
    (async () => {
      for await (const m of sub) this.enqueue(() => this.live(m, match));
    })().catch((err) => this.onNote(`subscription ended: ${err.message}`));
    this.enqueue(() => this.recover(match)); // late join, or recovery after a fresh connect
    this.retryJoin(match);
    this.retryRecovery(match);
  }

  // retryRecovery reads again every second while a recovery got no answer
  // (no responders, a timeout): the stream may still hold the windows.
  retryRecovery(match) {
    clearInterval(this.recoveryTimer);
    this.recoveryTimer = setInterval(() => {
      if (match !== this.match) return clearInterval(this.recoveryTimer);
      if (!this.due || !this.nc || this.recoveryQueued) return;
      this.recoveryQueued = true;
      this.enqueue(async () => {
        this.recoveryQueued = false;
        if (this.due) await this.recover(match);
      });
    }, 1000);
  }

  // recover reads the stored swarms after the last shown one up to the
  // newest (the waiting live swarms are among them), then shows any
  // waiting one left over.
  async recover(match) {
    if (!(await this.catchUp(match, 0)) || match !== this.match) return;
    this.due = false;
    this.showWaiting(match);
  }

  // wait keeps the live swarm s until the unanswered recovery is
  // answered; past MAX_WAITING it gives the recovery up: the windows before
  // the waiting swarms are reported as a gap and the swarms shown.
  wait(s, match) {
    if (!s || s.swarm.match_id !== match || !(s.start > this.last.start)) return this.show(s, match, "live");
    const newest = this.waiting.length ? this.waiting[this.waiting.length - 1].start : this.last.start;
    if (!(s.start > newest)) return this.onDrop("not newer");
    this.waiting.push(s);
    if (this.waiting.length <= MAX_WAITING) return;
    this.due = false;
    this.lost = `stream not answering (${this.waiting.length} live swarms waited)`;
    this.showWaiting(match);
  }

  // showWaiting shows the waiting live swarms; one whose predecessors may
  // be missing and not shown is preceded by a gap.
  showWaiting(match) {
    const reason = this.lost;
    for (const s of this.waiting) {
      if (reason && this.missedBefore(s, match)) this.lost = reason;
      this.show(s, match, "live");
    }
    this.waiting = [];
  }

  // retryJoin reads "latest" again every second while the join got no
  // answer (the stream out of reach: no responders, a timeout) and nothing
  // was shown: the windows stored meanwhile came after the join.
  retryJoin(match) {
    clearInterval(this.joinTimer);
    this.joinTimer = setInterval(() => {
      if (match !== this.match || this.joined || this.last.seq) return clearInterval(this.joinTimer);
      if (!this.nc || this.joinQueued) return;
      this.joinQueued = true;
      this.enqueue(async () => {
        this.joinQueued = false;
        if (match === this.match && !this.joined && !this.last.seq) await this.latest(match);
      });
    }, 1000);
  }

  enqueue(fn) {
    this.queue = this.queue.then(fn).catch((err) => this.onNote(`viewer: ${err.message}`));
  }

  // live handles one live message: first the windows missing before it.
  async live(m, match) {
    if (match !== this.match) return;
    const s = parse(m);
    if (this.due) return this.wait(s, match);
    if (this.missedBefore(s, match) && !(await this.catchUp(match, s.seq || Infinity))) return this.wait(s, match);
    this.show(s, match, "live");
  }

  // missedBefore: stored swarms may be missing between the last shown one
  // and the live swarm s. Its Nats-Last-Sequence (set by the stream's
  // RePublish) is the match's previous stored swarm, so a quiet stretch
  // (windows without reactions have no swarm) costs no request.
  // With nothing shown yet, only a join that found nothing stored knows a
  // later swarm (Nats-Last-Sequence not 0) was missed.
  missedBefore(s, match) {
    if (!s || s.swarm.match_id !== match || !(s.start > this.last.end)) return false;
    if (!this.last.seq) return this.empty && s.prev !== null && s.prev > 0;
    if (s.prev !== null) return s.prev > this.last.seq;
    return s.seq !== this.last.seq + 1;
  }

  // show hands s on if it is the match's and newer than the last shown.
  show(s, match, source) {
    if (match !== this.match) return;
    if (!s) return this.onDrop("undecodable");
    if (s.swarm.match_id !== match) return this.onDrop("other match");
    if (!(s.start > this.last.start)) {
      if (s.seq && s.seq <= this.last.seq) return; // a repeat of a recovered swarm
      return this.onDrop("not newer");
    }
    if (this.lost && this.last.end > -Infinity && s.start > this.last.end) {
      const len = Math.max(1, this.last.end - this.last.start);
      this.onGap({ from: this.last.end, to: s.start, windows: Math.ceil((s.start - this.last.end) / len), reason: this.lost });
    }
    this.lost = "";
    this.last = { start: s.start, end: s.end, seq: Math.max(this.last.seq, s.seq) };
    this.onSwarm(s.swarm, source);
  }

  // catchUp shows the stored swarms after the last shown one, up to (not
  // including) sequence until (0: the newest); with nothing shown yet, the
  // latest one, unless the join found nothing stored: then every stored one
  // from the first. Its first request asks for the last shown sequence: the
  // stream drops a match's swarms oldest first, so while that one is
  // stored, every later one is too. It returns false when a read got no
  // answer (no responders, a timeout, the connection down): then nothing
  // is declared lost, and the recovery is due again.
  async catchUp(match, until) {
    if (match !== this.match) return true;
    if (!this.nc) return this.unanswered("not connected");
    if (!this.last.seq && !this.empty) {
      if (!until) await this.latest(match);
      return true;
    }
    const anchor = this.last.seq;
    let from = Math.max(anchor, 1);
    for (let i = 0; i < MAX_RECOVERY; i++) {
      let s;
      try {
        s = await this.get(nextSubject, JSON.stringify({ seq: from, next_by_subj: storedSubject(match) }));
      } catch (err) {
        return this.unanswered(err.message);
      }
      if (match !== this.match) return true;
      if (!s && this.noStream) return this.unanswered("swarm stream out of reach");
      if (i === 0 && anchor) this.lost = s && s.seq === anchor ? "" : "no longer stored";
      if (!s || s.seq >= until && until) return true;
      if (s.seq !== anchor) this.show(s.parsed, match, "recovered");
      from = s.seq + 1;
    }
    this.lost = `recovery bound reached (${MAX_RECOVERY} requests)`;
    if (!until) await this.latest(match);
    return true;
  }

  // unanswered notes a recovery that got no answer; it is read again from
  // the last shown swarm every second.
  unanswered(why) {
    this.due = true;
    this.onNote(`recovery interrupted: ${why}; reading again`);
    return false;
  }

  // latest shows the match's last stored swarm and notes that the join
  // was answered; a 404 with nothing shown notes that it found none.
  async latest(match) {
    try {
      const s = await this.get(directGetSubject(match), Empty);
      if (match !== this.match) return;
      if (!s && this.noStream) return this.onNote(`swarm stream out of reach; reading ${match} again`);
      this.joined = true;
      if (!s) {
        this.empty = !this.last.seq;
        return this.onNote(`no stored swarm for ${match} yet`);
      }
      this.show(s.parsed, match, "latest");
    } catch (err) {
      this.onNote(`latest swarm unavailable: ${err.message}`);
    }
  }

  // get sends a direct get: {seq, parsed} or null for none (404, or no
  // responders: no stream yet or none reachable, noted in noStream).
  async get(subject, body) {
    const nc = this.nc;
    if (!nc) throw new Error("not connected");
    this.noStream = false;
    let m;
    try {
      m = await nc.request(subject, body, { timeout: 3000 });
    } catch (err) {
      if (/no responders/i.test(err.message)) {
        this.noStream = true;
        return null;
      }
      throw err;
    }
    const code = m.headers ? m.headers.code : 0;
    if (code === 404) return null;
    if (code >= 300) throw new Error(`status ${code} ${m.headers.description || ""}`);
    const parsed = parse(m);
    return { seq: parsed ? parsed.seq : Number(m.headers?.get(SEQ)) || 0, parsed };
  }
}

// parse reads a swarm message: {swarm, start, end (ms), seq, prev} or null
// (prev: Nats-Last-Sequence, null when absent).
function parse(m) {
  let swarm;
  try { swarm = m.json(); } catch { return null; }
  const start = Date.parse(swarm?.window_start);
  const end = Date.parse(swarm?.window_end);
  if (!(end > start)) return null;
  const seq = Number(m.headers?.get(SEQ)) || 0;
  const last = m.headers?.get(LAST_SEQ);
  const prev = last && /^\d+$/.test(last) ? Number(last) : null;
  return { swarm, start, end, seq, prev };
}
