// The page: builds the emoji buttons, sends reactions, shows the live swarm
// of one match (after the spoiler-free delay), the match's story
// (story.js), and logs what went in and came out. The connection, gap
// recovery, verification, the delay, sending and the timeline are the
// embeddable client's (client/emostream.min.js, docs/client.md).
import { createClient } from "./client/emostream.min.js";
import { describe, getConfig, getMatches } from "./api.js";
import { Sender } from "./sender.js";
import { localUser, sessionProvider } from "./session.js";
import { Story } from "./story.js";
import { SwarmView } from "./swarm.js";

const $ = (id) => document.getElementById(id);
const MATCH_RE = /^[A-Za-z0-9_-]{1,64}$/;
const DEFAULT_MATCH = "final-2026";
const LOG_MAX = 150;
const MAX_ROWS = 64; // emoji rows of the counts; a swarm's other emojis count in the totals only
const own = (o, k) => (Object.hasOwn(o, k) ? o[k] : 0); // a server's emoji may be named "constructor"
const fmt = new Intl.NumberFormat("en");

const state = {
  cfg: null,
  match: "",
  delayMs: 0,     // the spoiler-free delay: a window shows once its end plus this has passed
  sinceJoin: Object.create(null), // emoji -> count summed over the windows shown
  others: 0,      // the count of the emojis without a row, summed likewise
  rows: Object.create(null),       // emoji -> {last, swarm, total} elements of its tile
  registry: [],   // the registry's live and scheduled matches, GET /v1/matches
  status: "",
};
const MATCHES_REFRESH_MS = 30000;
const MAX_DELAY_S = 300;
// client sends the clicks (once: a refusal is shown at once) and watches;
// bulk is the automated sender's, which retries with the same event ids.
let client, bulk, watch, sender, view, story;
let dropped = 0, missed = 0;

boot();

async function boot() {
  setMatch(initialMatch(), false);
  view = new SwarmView($("stage"));
  setDelay(initialDelay());
  wireControls();
  let raw;
  for (let wait = 1000; ; wait = Math.min(wait * 2, 10000)) {
    try {
      raw = await getConfig();
      break;
    } catch (err) {
      showMessage(`Can't load the configuration (${err.message}); retrying…`, "error");
      await new Promise((r) => setTimeout(r, wait));
    }
  }
  showMessage("");
  // With sessions, reactions go as the session's user (session.js);
  // otherwise as this browser's.
  const who = raw.sessions === true ? { token: sessionProvider } : { userId: localUser() };
  client = createClient({ config: raw, ...who, send: { maxAttempts: 1 } });
  bulk = createClient({ config: raw, ...who });
  start(await client.config());
  refreshMatches();
}

// refreshMatches lists the registry's matches in the picker, now and every
// MATCHES_REFRESH_MS.
async function refreshMatches() {
  try {
    state.registry = await getMatches();
    renderMatchList();
  } catch (err) {
    log("error", `can't list the matches: ${err.message}`);
  }
  setTimeout(refreshMatches, MATCHES_REFRESH_MS);
}

function start(cfg) {
  state.cfg = cfg;
  buildEmojiButtons(cfg.emojiTypes);
  for (const e of cfg.emojiTypes) countRow(e);
  $("legend").textContent = `Each large emoji is one swarm unit of ${fmt.format(cfg.swarmThreshold)} identical reactions. Small ones sample the window's raw reactions.`;
  sender = new Sender({ client: bulk, getMatch: () => state.match, emojiTypes: cfg.emojiTypes,
    userOf: (i) => (cfg.sessions ? undefined : `sim-${i}`), onResult: senderResult, onChange: renderSender });
  readSenderInputs();
  story = new Story({
    els: { chart: $("chart"), axisFrom: $("chart-from"), axisTo: $("chart-to"), legend: $("chart-legend"), markers: $("markers"), detail: $("moment-detail"),
      replayFrom: $("replay-from"), replayFromOut: $("replay-from-out"), replaySpeed: $("replay-speed"),
      replayToggle: $("replay-toggle"), replayStatus: $("replay-status") },
    emojis: cfg.emojiTypes, timeline: (match) => client.timeline(match, { step: "2s" }),
    horizon: () => (watch && watch.programTime()) ?? Date.now() - state.delayMs,
    onReplay: (s, ms) => view.play({ swarm: unitsOf(s.counts, cfg.swarmThreshold), counts: s.counts }, ms),
    onNote: (text) => log("info", text) });
  story.load(state.match);
  setInterval(() => story.render(), 1000); // the horizon moves on
  if (cfg.wsURLs.length) connect();
  else renderStatus("disconnected", "the server lists no WebSocket URLs");
  document.body.dataset.ready = "true";
}

function wireControls() {
  $("match-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const m = $("match-input").value.trim();
    if (MATCH_RE.test(m)) setMatch(m, true);
  });
  $("connect").addEventListener("click", () => client && connect());
  $("disconnect").addEventListener("click", disconnect);
  $("auto-toggle").addEventListener("click", () => {
    if (!sender) return;
    sender.running ? sender.stop() : sender.start();
  });
  $("delay").addEventListener("input", () => setDelay(Number($("delay").value) * 1000));
  $("auto-rate").addEventListener("input", readSenderInputs);
  $("auto-users").addEventListener("input", readSenderInputs);
  readSenderInputs();
}

// ---- watching ----

// connect watches the current match: the library connects to one of the
// ws_urls, reconnects on its own, recovers missed windows and hands each
// window on once its end plus the delay has passed.
function connect() {
  if (watch) return;
  renderStatus("connecting", state.cfg.wsURLs.join(", "));
  watch = openWatch(state.match);
}

// openWatch starts a watch whose events the page takes while it is the
// current one.
function openWatch(match) {
  const w = client.watch(match, { delayMs: state.delayMs });
  const mine = (fn) => (v) => { if (w === watch) fn(v); };
  w.on("status", mine((s) => renderStatus(s.state === "closed" ? "disconnected" : s.state, s.error || s.server || "")));
  w.on("swarm", mine(showSwarm));
  w.on("viewers", mine(renderWatching));
  w.on("drop", mine((reason) => { dropped++; renderVerify(); log("info", `dropped a message on the live subject: ${reason}`); }));
  w.on("gap", mine((g) => {
    missed += g.windows;
    renderVerify();
    log("error", `windows ${clock(g.from)}–${clock(g.to)} (up to ${g.windows}) not recovered: ${g.reason}`);
  }));
  w.on("skip", mine((s) => log("info", `windows ${clock(s.from)}–${clock(s.to)} not shown: ${s.reason}`)));
  w.on("note", mine((text) => log("info", text)));
  w.on("error", mine((err) => log("error", err.message)));
  return w;
}

// disconnect ends the watch (and with it the connection).
function disconnect() {
  if (!watch) return;
  const w = watch;
  watch = null;
  w.close();
  renderStatus("disconnected", "by you");
}

// ---- match ----

function initialMatch() {
  const q = new URLSearchParams(location.search).get("match");
  if (q && MATCH_RE.test(q)) return q;
  const saved = localStorage.getItem("emostream.match");
  return saved && MATCH_RE.test(saved) ? saved : DEFAULT_MATCH;
}

function setMatch(match, switching) {
  if (match === state.match) return;
  state.match = match;
  $("match-input").value = match;
  const url = new URL(location.href);
  url.searchParams.set("match", match);
  history.replaceState(null, "", url);
  localStorage.setItem("emostream.match", match);
  rememberMatch(match);
  document.title = `${match} · EmoStream`;
  if (!switching) return;
  resetCounts();
  if (view) view.clear();
  if (story) story.load(match);
  if (watch) { // the new watch shares the connection: the old one ends once it started
    const old = watch;
    watch = openWatch(match);
    const end = () => old.close();
    watch.ready.then(end, end);
  }
  log("info", `watching ${match}`);
}

function rememberMatch(match) {
  let recent = [];
  try { recent = JSON.parse(localStorage.getItem("emostream.recent") || "[]"); } catch {}
  recent = [match, ...recent.filter((m) => m !== match && MATCH_RE.test(m))].slice(0, 8);
  localStorage.setItem("emostream.recent", JSON.stringify(recent));
  renderMatchList();
}

// renderMatchList fills the picker: the registry's live matches first
// (labelled with their title or teams), then scheduled ones, then recent.
function renderMatchList() {
  let recent = [];
  try { recent = JSON.parse(localStorage.getItem("emostream.recent") || "[]"); } catch {}
  const opts = new Map();
  for (const m of state.registry) {
    if (!MATCH_RE.test(m.id || "")) continue;
    const teams = m.home && m.away ? `${m.home} v ${m.away}` : "";
    const label = [m.state === "live" ? "● live" : m.state, m.title, teams].filter(Boolean).join(" · ");
    opts.set(m.id, label);
  }
  for (const m of [...recent, DEFAULT_MATCH]) if (!opts.has(m)) opts.set(m, "recent");
  $("match-list").replaceChildren(...[...opts].map(([id, label]) => {
    const o = document.createElement("option");
    o.value = id;
    o.label = label;
    o.textContent = label;
    return o;
  }));
}

// ---- sending ----

function buildEmojiButtons(emojis) {
  const box = $("emoji-buttons");
  box.replaceChildren(...emojis.map((e) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "emoji";
    b.dataset.emoji = e;
    b.textContent = e;
    b.setAttribute("aria-label", `React with ${e}`);
    b.addEventListener("click", () => react(e, b));
    return b;
  }));
}

async function react(emoji, button) {
  button.animate([{ transform: "scale(1)" }, { transform: "scale(1.25)" }, { transform: "scale(1)" }],
    { duration: 220, easing: "ease-out" });
  const start = performance.now();
  try {
    const r = await client.react({ matchId: state.match, emoji });
    const win = r.windows.length ? ` in window ${clock(r.windows[0])}` : "";
    log("sent", `${emoji} → accepted${win} (${Math.round(performance.now() - start)} ms)`);
    showMessage("");
  } catch (err) {
    const text = describe(err);
    log("error", `${emoji} → ${err.status || err.code}: ${text}`);
    showMessage(text, "error");
  }
}

function senderResult(res, n) {
  const ms = `(${Math.round(res.ms)} ms)`;
  if (!res.failed) {
    log("sent", `auto ${fmt.format(n)} events → accepted ${ms}`);
    return;
  }
  const text = describe(res.error);
  log("error", `auto ${fmt.format(n)} events → ${fmt.format(res.accepted)} accepted, ${fmt.format(res.failed)} refused: ${text} ${ms}`);
  showMessage(text, "error");
}

function readSenderInputs() {
  const rate = Number($("auto-rate").value) || 1;
  const users = Math.max(1, Math.floor(Number($("auto-users").value) || 1));
  $("auto-rate-out").textContent = fmt.format(rate);
  if (sender) {
    sender.rate = rate;
    sender.users = users;
  }
}

function renderSender() {
  const s = sender.stats;
  const btn = $("auto-toggle");
  btn.textContent = sender.running ? "Stop sender" : "Start sender";
  btn.setAttribute("aria-pressed", String(sender.running));
  btn.classList.toggle("on", sender.running);
  const waiting = sender.waiting > sender.rate ? ` · ${fmt.format(sender.waiting)} waiting` : "";
  $("auto-stats").textContent = `${sender.running ? "Running" : "Stopped"} · ${fmt.format(s.accepted)} accepted` +
    (s.failed ? ` · ${fmt.format(s.failed)} refused` : "") + waiting;
}

// ---- the spoiler-free delay ----

// initialDelay reads ?delay=30s (also 30, 500ms, 1m) in ms.
function initialDelay() {
  const q = new URLSearchParams(location.search).get("delay");
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec((q || "").trim());
  if (!m) return 0;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60000 }[m[2] || "s"];
}

function setDelay(ms) {
  state.delayMs = Math.min(MAX_DELAY_S * 1000, Math.max(0, Math.round(ms) || 0));
  $("delay").value = String(Math.round(state.delayMs / 1000));
  $("delay-out").textContent = `${state.delayMs / 1000} s`;
  document.body.dataset.delayMs = String(state.delayMs);
  const url = new URL(location.href);
  if (state.delayMs) url.searchParams.set("delay", `${state.delayMs / 1000}s`);
  else url.searchParams.delete("delay");
  history.replaceState(null, "", url);
  if (watch) watch.setDelay(state.delayMs);
  if (story) story.render();
}

function unitsOf(counts, threshold) {
  const out = {};
  for (const [e, n] of Object.entries(counts || {})) if (n >= threshold) out[e] = Math.floor(n / threshold);
  return out;
}

function renderVerify() {
  const el = $("verify");
  el.dataset.dropped = String(dropped);
  el.dataset.missed = String(missed);
  el.textContent = [dropped ? `${plural(dropped, "message")} dropped` : "", missed ? `${plural(missed, "window")} missed` : ""]
    .filter(Boolean).join(" · ");
}

// ---- receiving ----

function renderStatus(st, detail) {
  const el = $("status");
  el.dataset.state = st;
  const text = { connecting: "Connecting…", connected: "Connected", reconnecting: "Reconnecting…",
    disconnected: "Disconnected" }[st] || st;
  $("status-text").textContent = text;
  el.title = detail || "";
  const open = st !== "disconnected";
  $("connect").disabled = open;
  $("disconnect").disabled = !open;
  if (st !== state.status) log("status", `${text}${detail ? ` (${detail})` : ""}`);
  state.status = st;
}

// renderWatching shows the occupancy ("N watching") as it is received: it
// is no spoiler.
function renderWatching(n) {
  const watching = $("watching");
  watching.hidden = !(n > 0);
  watching.textContent = n > 0 ? `${fmt.format(n)} watching` : "";
  watching.dataset.viewers = String(n || 0);
}

const TAGS = { latest: "stored · ", recovered: "recovered · ", timeline: "from the timeline · " };

// showSwarm shows one window the library hands on (a Display).
function showSwarm(d) {
  const shown = Date.now();
  const lag = shown - d.end;
  const info = $("window-info");
  info.dataset.windowStart = String(d.start);
  info.dataset.windowEnd = String(d.end);
  info.dataset.shownAt = String(shown);
  info.dataset.source = d.source;
  if (d.source === "recovered") info.dataset.recovered = String(Number(info.dataset.recovered || 0) + 1);
  let total = 0, totalUnits = 0;
  for (const [e, row] of Object.entries(state.rows)) {
    row.last.parentElement.classList.toggle("hot", own(d.counts, e) > 0);
    row.last.textContent = fmt.format(own(d.counts, e));
    setUnits(row, own(d.units, e));
  }
  for (const [e, n] of Object.entries(d.counts)) {
    total += n;
    const row = countRow(e);
    if (!row) {
      state.others += n;
      continue;
    }
    row.last.parentElement.classList.toggle("hot", n > 0);
    row.last.textContent = fmt.format(n);
    setUnits(row, own(d.units, e));
    state.sinceJoin[e] = (state.sinceJoin[e] || 0) + n;
    row.total.textContent = fmt.format(state.sinceJoin[e]);
  }
  for (const n of Object.values(d.units)) totalUnits += n;
  $("total-last").textContent = fmt.format(d.total || total);
  $("total-swarm").textContent = fmt.format(totalUnits);
  $("total-swarm-word").textContent = totalUnits === 1 ? "swarm unit" : "swarm units";
  $("total-all").textContent = fmt.format(Object.values(state.sinceJoin).reduce((a, b) => a + b, state.others));
  const tag = TAGS[d.source] || "";
  const s = d.swarm || {};
  $("window-info").textContent = `${tag}${clock(d.start)}–${clock(d.end)} · delay ${fmtDelay(lag)}` +
    (s.partitions ? ` · ${s.partitions} partition${s.partitions === 1 ? "" : "s"}` : "") + (s.closed_by ? ` · closed by ${String(s.closed_by).replace(/_/g, " ")}` : "");
  $("stage-idle").hidden = true;
  log("window", `${tag}window ${clock(d.start)}–${clock(d.end)}: ${plural(total, "reaction")}, ${plural(totalUnits, "unit")}, delay ${fmtDelay(lag)}`);
  for (const m of d.moments) log("window", `moment: ${m.emoji || "all reactions"} ${fmt.format(m.size)} (${Number(m.ratio).toFixed(1)}×)`);
  story.addSwarm(d);
  story.render(); // the chart keeps pace with what is shown
  view.play({ swarm: d.units, counts: d.counts }, state.cfg.windowMs);
}

// plural is "1 unit", "2 units", "1,000 units".
function plural(n, word) {
  return `${fmt.format(n)} ${word}${n === 1 ? "" : "s"}`;
}

function setUnits(row, n) {
  row.swarm.textContent = fmt.format(n);
  row.unitWord.textContent = n === 1 ? " unit" : " units";
}

// countRow is emoji's row, made on first use; null past MAX_ROWS rows.
function countRow(emoji) {
  if (state.rows[emoji]) return state.rows[emoji];
  if (Object.keys(state.rows).length >= MAX_ROWS) return null;
  const li = document.createElement("li");
  li.dataset.emoji = emoji;
  const span = (cls, text) => {
    const el = document.createElement("span");
    el.className = cls;
    el.textContent = text;
    return el;
  };
  const row = { last: span("last", "0"), swarm: span("swarm", "0"), unitWord: span("unit-word", " units"),
    total: span("total", "0") };
  const sub = span("sub", "");
  sub.append(row.swarm, row.unitWord, " · ", row.total, " total");
  li.append(span("e", emoji), span("visually-hidden", " last window: "), row.last, sub);
  $("counts").append(li);
  return (state.rows[emoji] = row);
}

function resetCounts() {
  state.sinceJoin = Object.create(null);
  state.others = 0;
  for (const row of Object.values(state.rows)) {
    row.last.textContent = row.swarm.textContent = row.total.textContent = "0";
    row.last.parentElement.classList.remove("hot");
  }
  for (const id of ["total-last", "total-swarm", "total-all"]) $(id).textContent = "0";
  $("window-info").textContent = "No window yet";
  $("stage-idle").hidden = false;
}

// ---- log and messages ----

function log(kind, text) {
  const li = document.createElement("li");
  li.className = kind;
  const t = document.createElement("time");
  t.textContent = clock(Date.now());
  const k = document.createElement("span");
  k.className = "kind";
  k.textContent = kind;
  const m = document.createElement("span");
  m.className = "text";
  m.textContent = text;
  li.append(t, k, m);
  const list = $("log");
  list.prepend(li);
  while (list.children.length > LOG_MAX) list.lastElementChild.remove();
}

let messageTimer = 0;
function showMessage(text, kind = "info") {
  const el = $("message");
  el.textContent = text;
  el.dataset.kind = text ? kind : "";
  clearTimeout(messageTimer);
  if (text) messageTimer = setTimeout(() => showMessage(""), 10000);
}

function clock(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function fmtDelay(ms) {
  return Math.abs(ms) < 10000 ? `${fmt.format(Math.round(ms))} ms` : `${(ms / 1000).toFixed(1)} s`;
}
