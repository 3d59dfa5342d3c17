// Sending reactions: POST /v1/emojis in batches (group commit: one request
// in flight, the reactions that arrive meanwhile go together in the next),
// split by the server's limits, retried with the same event_ids on 429,
// 502-504 and no answer (Retry-After honoured, else a doubling backoff),
// with a token from the app's provider. A refusal that names one event
// fails that reaction only and the rest are sent again.
import { ApiError, errorOf, readJSON, badField } from "./api.js";
import { randomHex, withDefaults } from "./env.js";
import { MATCH_ID } from "./viewer.js";

const utf8 = new TextEncoder();
const bytes = (s) => utf8.encode(s).length;

// One event's refusals that leave the others valid.
const ONE_EVENT = new Set(["bad_field", "unknown_emoji", "forbidden", "bad_video_ts"]);
// Refusals about an event's match: every event of that match fails.
const ITS_MATCH = new Set(["unknown_match", "match_not_live"]);

export class Sender {
  // o: {http, env, limits: () => Promise<limits|null>, token, userId,
  //     maxQueued [10000], maxAttempts [8], backoffMs [500], maxBackoffMs [30000]}
  constructor(o) {
    this.o = withDefaults({ maxQueued: 10000, maxAttempts: 8, backoffMs: 500, maxBackoffMs: 30000 }, o);
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
        Promise.resolve().then(() => this.pump()); // reactions of the same tick go together
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
        const limits = (await this.o.limits().catch(() => null)) || {};
        await this.send(this.take(limits));
      }
    } finally {
      this.busy = false;
    }
  }

  // take removes the next batch: at most max_events events, ip_burst in
  // all and user_burst of one user (with a token, all are the token's user).
  take(l) {
    const cap = Math.min(l.maxEvents || 1000, l.ipBurst || Infinity);
    const perUser = l.userBurst || Infinity;
    const users = new Map();
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
        try { data = await readJSON(res, 65536); } catch { /* taken all the same */ }
        for (const x of batch) x.resolve({ eventId: x.ev.event_id, accepted: num(data.accepted), windows: Array.isArray(data.windows) ? data.windows : [] });
        return;
      }
      if (res) err = await errorOf(res, this.env.now());
      if (err.code === "token") return fail(batch, err);
      if (err.status === 401 && this.o.token && !refresh) {
        refresh = true; // once with a new token
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
      this.queue = batch.slice(i).concat(this.queue); // the events past the burst go next
      return batch.slice(0, i);
    }
    if (err.status === 413 && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      this.queue = batch.slice(half).concat(this.queue);
      return batch.slice(0, half);
    }
    if (named && err.code === "bad_video_ts" && batch[i].stamped) {
      delete batch[i].ev.video_ts; // the video clock was off the server's bounds: counted where it arrives
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
      this.wake = () => { this.env.clearTimeout(t); resolve(); };
    });
  }

  // close fails every waiting reaction, those waiting to be tried again too.
  close() {
    this.closed = true;
    if (this.wake) this.wake();
    fail(this.queue, new ApiError(0, "closed", "sender closed"));
    this.queue = [];
  }
}

function fail(list, err, keep = []) {
  for (const x of list) x.reject(err);
  return keep;
}

const num = (v) => (Number.isFinite(v) ? v : 0);
