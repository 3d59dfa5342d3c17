// The automated sender: simulated users reacting at a chosen rate through
// the client library, which batches them into array POSTs of at most the
// server's limits and retries 429, 503 and network failures with the same
// event ids (after Retry-After, else backing off). At most MAX_WAITING of
// its reactions wait at once: past that the sender skips, so a stalled
// server is not flooded later.

const TICK_MS = 250;
const MAX_WAITING = 8000; // under the library's queue bound (10,000)

export class Sender {
  // client is the library's client; getMatch returns the match to send to;
  // userOf(i) the user_id of simulated user i (undefined: the session's);
  // onResult({accepted, failed, error, ms}, events) is called once the
  // reactions of one tick are settled; onChange() after any state change.
  constructor({ client, getMatch, userOf, emojiTypes, onResult, onChange }) {
    this.client = client;
    this.getMatch = getMatch;
    this.userOf = userOf;
    this.emojis = emojiTypes;
    this.weights = cumulativeWeights(emojiTypes.length);
    this.onResult = onResult;
    this.onChange = onChange;
    this.rate = 200;
    this.users = 500;
    this.timer = 0;
    this.owed = 0;
    this.waiting = 0;
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
    // Owe at most one second of events.
    this.owed = Math.min(this.owed + this.rate * dt, Math.max(this.rate, 1));
    const n = Math.min(Math.floor(this.owed), MAX_WAITING - this.waiting);
    if (n < 1) return;
    this.owed -= n;
    this.send(n);
  }

  // send hands n reactions to the library and counts how they end.
  async send(n) {
    const match = this.getMatch();
    const start = performance.now();
    const sent = [];
    for (let i = 0; i < n; i++) {
      sent.push(this.client.react({ matchId: match, emoji: this.pick(), userId: this.userOf(Math.floor(Math.random() * this.users)) }));
    }
    this.waiting += n;
    this.stats.sent += n;
    const results = await Promise.allSettled(sent);
    this.waiting -= n;
    const failed = results.filter((r) => r.status === "rejected");
    this.stats.accepted += n - failed.length;
    this.stats.failed += failed.length;
    this.onResult({ accepted: n - failed.length, failed: failed.length, error: failed.length ? failed[0].reason : null,
      ms: performance.now() - start }, n);
    this.onChange();
  }

  // pick chooses an emoji, favouring the first ones (a few emojis dominate
  // a real crowd).
  pick() {
    const r = Math.random();
    const i = this.weights.findIndex((w) => r <= w);
    return this.emojis[i < 0 ? this.emojis.length - 1 : i];
  }
}

function cumulativeWeights(n) {
  const w = Array.from({ length: n }, (_, i) => 1 / (i + 1));
  const sum = w.reduce((a, b) => a + b, 0);
  let acc = 0;
  return w.map((x) => (acc += x / sum));
}
