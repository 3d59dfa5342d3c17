// The viewer side: a NATS WebSocket connection to a leaf cluster that
// subscribes to emostream.live.<match> and, on join and after each reconnect,
// reads the match's latest stored swarm with a JetStream direct get.
import { wsconnect, Empty } from "./vendor/nats.js";

const STREAM = "EMOSTREAM_SWARMS";
const liveSubject = (match) => `emostream.live.${match}`;
const storedSubject = (match) => `emostream.swarm.${match}`;
const directGetSubject = (match) => `$JS.API.DIRECT.GET.${STREAM}.${storedSubject(match)}`;

// Live reports through callbacks:
//   onStatus(state, detail)   state: connecting | connected | reconnecting | disconnected
//   onSwarm(swarm, source)    source: "live" or "latest" (the stored one on join)
//   onNote(text)              something worth a log line
export class Live {
  constructor({ servers, onStatus, onSwarm, onNote }) {
    this.servers = servers;
    this.onStatus = onStatus;
    this.onSwarm = onSwarm;
    this.onNote = onNote;
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
        this.fetchLatest(this.match);
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
    this.match = match;
    if (this.nc) this.subscribe();
  }

  subscribe() {
    const match = this.match;
    const sub = this.nc.subscribe(liveSubject(match));
    this.sub = sub;
    (async () => {
      for await (const m of sub) this.deliver(m, match, "live");
    })().catch((err) => this.onNote(`subscription ended: ${err.message}`));
    this.fetchLatest(match);
  }

  // fetchLatest asks the stream for the match's last stored swarm.
  async fetchLatest(match) {
    const nc = this.nc;
    if (!nc || !match) return;
    try {
      const m = await nc.request(directGetSubject(match), Empty, { timeout: 3000 });
      const code = m.headers ? m.headers.code : 0;
      if (code === 404) return this.onNote(`no stored swarm for ${match} yet`);
      if (code >= 300) return this.onNote(`latest swarm: status ${code} ${m.headers.description || ""}`);
      this.deliver(m, match, "latest");
    } catch (err) {
      this.onNote(`latest swarm unavailable: ${err.message}`);
    }
  }

  deliver(m, match, source) {
    if (match !== this.match) return;
    let swarm;
    try { swarm = m.json(); } catch (err) {
      return this.onNote(`undecodable swarm on ${m.subject}: ${err.message}`);
    }
    this.onSwarm(swarm, source);
  }
}
