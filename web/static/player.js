// The player page: an HLS stream (hls.js, or the browser's own HLS where
// it has no Media Source) with the crowd's swarm drawn over it, in step
// with the video: the client (client/emostream.min.js) shows each window
// when the program time on screen (EXT-X-PROGRAM-DATE-TIME) reaches the
// window's end plus the lead; pausing holds the swarms, seeking back
// replays them from the timeline, seeking forward skips them.
//
//   /player.html?video=<HLS URL>&match=<match>&lead=<ms>
//
// Every event of the watch is also dispatched on document as
// "emostream:<type>" (a CustomEvent whose detail is the value), for the
// page's tests and for anyone scripting the demo.
import Hls from "./vendor/hls.light.min.js";
import { bindMedia, createClient, hlsClock } from "./client/emostream.min.js";
import { describe, getConfig } from "./api.js";
import { localUser, sessionProvider } from "./session.js";
import { SwarmView } from "./swarm.js";

const $ = (id) => document.getElementById(id);
const MATCH_RE = /^[A-Za-z0-9_-]{1,64}$/;
const DEFAULT_MATCH = "final-2026";
const LOG_MAX = 150;
const MAX_LEAD_MS = 2000;
const fmt = new Intl.NumberFormat("en");

const params = new URLSearchParams(location.search);
const state = { video: "", match: "", lead: 0, cfg: null, shown: 0 };
let client, watch, view;

boot();

async function boot() {
  state.video = params.get("video") || "";
  const m = params.get("match");
  state.match = m && MATCH_RE.test(m) ? m : DEFAULT_MATCH;
  state.lead = leadOf(params.get("lead"));
  $("video-input").value = state.video;
  $("match-input").value = state.match;
  document.title = `${state.match} · EmoStream player`;
  wireControls();
  renderLead();
  if (!videoURL(state.video)) {
    showMessage("Give an HLS playlist with EXT-X-PROGRAM-DATE-TIME (an http or https URL) and press Play.");
    document.body.dataset.ready = "true";
    return;
  }
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
  const who = raw.sessions === true ? { token: sessionProvider } : { userId: localUser() };
  client = createClient({ config: raw, ...who, send: { maxAttempts: 1 } });
  state.cfg = await client.config();
  view = new SwarmView($("stage"));
  buildEmojiButtons(state.cfg.emojiTypes);
  const video = $("video");
  const clock = attach(video, state.video);
  if (!clock) return;
  play(video, clock);
  setInterval(renderClock, 250);
  document.body.dataset.ready = "true";
}

// attach plays url in video with hls.js, or natively where the browser
// has HLS but no Media Source (Safari on iPhones); it returns the video
// clock: the program time of the frame on screen, or null while unknown.
function attach(video, url) {
  if (Hls.isSupported()) {
    // No worker: the page's Content-Security-Policy allows none.
    const hls = new Hls({ enableWorker: false });
    hls.on(Hls.Events.ERROR, (_, d) => { if (d.fatal) log("error", `video: ${d.type} ${d.details}`); });
    hls.on(Hls.Events.MANIFEST_PARSED, () => log("info", `playing ${url} with hls.js ${Hls.version}`));
    hls.loadSource(url);
    hls.attachMedia(video);
    document.body.dataset.player = "hls.js";
    return hlsClock(hls);
  }
  if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url;
    document.body.dataset.player = "native";
    log("info", `playing ${url} with the browser's HLS`);
    return nativeClock(video);
  }
  showMessage("This browser plays no HLS (no Media Source Extensions, no native HLS).", "error");
  return null;
}

// nativeClock is the video clock of the browser's own HLS: Safari maps
// the media timeline to EXT-X-PROGRAM-DATE-TIME with getStartDate().
function nativeClock(video) {
  return () => {
    const start = video.getStartDate ? video.getStartDate().getTime() : NaN;
    return Number.isFinite(start) ? start + video.currentTime * 1000 : null;
  };
}

// play starts the video and the watch that follows its clock: a window
// is shown once the program time on screen plus the lead reaches its end;
// nothing is shown before the player knows its program time.
function play(video, clock) {
  watch = client.watch(state.match, { video: clock, lead: state.lead, unknownClock: "hold" });
  bindMedia(video, watch);
  watch.on("*", (type, value) => document.dispatchEvent(new CustomEvent(`emostream:${type}`, { detail: value })));
  watch.on("status", (s) => renderStatus(s.state === "closed" ? "disconnected" : s.state, s.error || s.server || ""));
  watch.on("swarm", show);
  watch.on("viewers", (n) => {
    $("watching").hidden = !(n > 0);
    $("watching").textContent = `${fmt.format(n)} watching`;
  });
  watch.on("gap", (g) => log("error", `windows ${clock24(g.from)}–${clock24(g.to)} (up to ${g.windows}) not recovered: ${g.reason}`));
  watch.on("skip", (s) => log("info", `${plural(s.windows, "window")} ${clock24(s.from)}–${clock24(s.to)} not shown: ${s.reason}`));
  watch.on("drop", (reason) => log("info", `dropped a message on the live subject: ${reason}`));
  watch.on("note", (text) => log("info", text));
  watch.on("error", (err) => log("error", err.message));
  video.play().catch(() => showMessage("Press play to start the video."));
}

// show draws one window over the video and says how far the video's
// program time was past its end.
function show(d) {
  const at = watch.programTime();
  state.shown++;
  const el = $("last-window");
  el.dataset.end = String(d.end);
  el.dataset.source = d.source;
  el.dataset.shown = String(state.shown);
  if (at != null) el.dataset.offset = String(Math.round(at - d.end));
  const tag = d.source === "live" ? "" : ` (${d.source})`;
  el.textContent = `${clock24(d.start)}–${clock24(d.end)}${tag} · ${fmt.format(d.total)} · ` +
    (at != null ? `video at its end ${at - d.end >= 0 ? "+" : "−"}${fmt.format(Math.abs(Math.round(at - d.end)))} ms` : "");
  log("window", `${clock24(d.start)}–${clock24(d.end)}${tag}: ${plural(d.total, "reaction")}, shown at video ${at != null ? clock24(at) : "?"}`);
  view.play({ swarm: d.units, counts: d.counts }, state.cfg.windowMs);
}

function renderClock() {
  const t = watch && watch.programTime();
  $("program").textContent = t != null ? clock24(t) : "–";
  $("program").dataset.ms = t != null ? String(Math.round(t)) : "";
  $("behind").textContent = t != null ? `${((Date.now() - t) / 1000).toFixed(1)} s` : "–";
}

function wireControls() {
  $("source-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const url = new URL(location.href);
    url.searchParams.set("video", $("video-input").value.trim());
    const m = $("match-input").value.trim();
    if (MATCH_RE.test(m)) url.searchParams.set("match", m);
    location.assign(url); // a fresh page for a fresh stream
  });
  $("lead").addEventListener("input", () => {
    state.lead = leadOf($("lead").value);
    renderLead();
    if (watch) watch.setLead(state.lead);
  });
}

function renderLead() {
  $("lead").value = String(state.lead);
  $("lead-out").textContent = `${state.lead > 0 ? "+" : ""}${fmt.format(state.lead)} ms`;
  document.body.dataset.leadMs = String(state.lead);
  const url = new URL(location.href);
  if (state.lead) url.searchParams.set("lead", String(state.lead));
  else url.searchParams.delete("lead");
  history.replaceState(null, "", url);
}

// leadOf reads a lead in ms (?lead=-500), within ±MAX_LEAD_MS.
function leadOf(v) {
  const n = Math.round(Number(v));
  return Number.isFinite(n) ? Math.min(MAX_LEAD_MS, Math.max(-MAX_LEAD_MS, n)) : 0;
}

function videoURL(s) {
  try {
    return ["http:", "https:"].includes(new URL(s, location.href).protocol) && s !== "";
  } catch {
    return false;
  }
}

// ---- reacting ----

function buildEmojiButtons(emojis) {
  $("emoji-buttons").replaceChildren(...emojis.map((e) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "emoji";
    b.dataset.emoji = e;
    b.textContent = e;
    b.setAttribute("aria-label", `React with ${e}`);
    b.addEventListener("click", () => react(e));
    return b;
  }));
}

async function react(emoji) {
  if (!watch) return;
  try {
    await watch.react(emoji);
    log("sent", `${emoji} → accepted`);
    showMessage("");
  } catch (err) {
    const text = describe(err);
    log("error", `${emoji} → ${err.status || err.code}: ${text}`);
    showMessage(text, "error");
  }
}

// ---- status, log, messages ----

function renderStatus(st, detail) {
  const el = $("status");
  if (el.dataset.state !== st) log("status", `${st}${detail ? ` (${detail})` : ""}`);
  el.dataset.state = st;
  $("status-text").textContent = { connecting: "Connecting…", connected: "Connected", reconnecting: "Reconnecting…",
    disconnected: "Disconnected" }[st] || st;
  el.title = detail || "";
}

function log(kind, text) {
  const li = document.createElement("li");
  li.className = kind;
  const t = document.createElement("time");
  t.textContent = clock24(Date.now());
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

function showMessage(text, kind = "info") {
  const el = $("message");
  el.textContent = text;
  el.dataset.kind = text ? kind : "";
}

function plural(n, word) {
  return `${fmt.format(n)} ${word}${n === 1 ? "" : "s"}`;
}

function clock24(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}
