// The automated sender: simulated users reacting at a chosen rate, batched
// into array POSTs of at most 1,000 events, pausing as the API asks (429
// Retry-After) or when storage is down (503).
import { postEvents } from "./api.js";

const TICK_MS = 250;
const MAX_BATCH = 1000;
const MAX_IN_FLIGHT = 4;
const BACKOFF_503_MS = 2000;

export class Sender {
  // getMatch returns the match to send to; onResult(result, events) is
  // called after each request; onChange() after any state change.
  constructor({ getMatch, emojiTypes, onResult, onChange }) {
    this.getMatch = getMatch;
    this.emojis = emojiTypes;
    this.weights = cumulativeWeights(emojiTypes.length);
    this.onResult = onResult;
    this.onChange = onChange;
    this.rate = 200;
    this.users = 500;
    this.timer = 0;
    this.owed = 0;
    this.inFlight = 0;
    this.pausedUntil = 0;
    this.stats = { sent: 0, accepted: 0, failed: 0 };
  }

  get running() { return this.timer !== 0; }

  start() {
    if (this.running) return;
    this.last = performance.now();
    this.owed = 0;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.onChange();
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
    this.onChange();
  }

  tick() {
    const now = performance.now();
    const dt = (now - this.last) / 1000;
    this.last = now;
    if (Date.now() < this.pausedUntil) return;
    // Owe at most one second of events, so a stalled server is not flooded later.
    this.owed = Math.min(this.owed + this.rate * dt, Math.max(this.rate, 1));
    while (this.owed >= 1 && this.inFlight < MAX_IN_FLIGHT) {
      const n = Math.min(Math.floor(this.owed), MAX_BATCH);
      this.owed -= n;
      this.send(this.batch(n));
    }
  }

  batch(n) {
    const match = this.getMatch();
    const events = new Array(n);
    for (let i = 0; i < n; i++) {
      events[i] = {
        user_id: `sim-${Math.floor(Math.random() * this.users)}`,
        match_id: match,
        emoji_type: this.pick(),
      };
    }
    return events;
  }

  // pick chooses an emoji, favouring the first ones (a few emojis dominate
  // a real crowd).
  pick() {
    const r = Math.random();
    const i = this.weights.findIndex((w) => r <= w);
    return this.emojis[i < 0 ? this.emojis.length - 1 : i];
  }

  async send(events) {
    this.inFlight++;
    const res = await postEvents(events);
    this.inFlight--;
    this.stats.sent += events.length;
    if (res.ok) this.stats.accepted += res.accepted;
    else this.stats.failed += events.length;
    if (res.status === 429) this.pausedUntil = Date.now() + (res.retryAfterMs || 1000);
    if (res.status === 503 || res.status === 0) this.pausedUntil = Date.now() + BACKOFF_503_MS;
    this.onResult(res, events.length);
    this.onChange();
  }
}

function cumulativeWeights(n) {
  const w = Array.from({ length: n }, (_, i) => 1 / (i + 1));
  const sum = w.reduce((a, b) => a + b, 0);
  let acc = 0;
  return w.map((x) => (acc += x / sum));
}
