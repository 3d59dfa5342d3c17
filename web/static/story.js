// The match as a story: a "mood over time" chart (stacked counts per emoji in
// 2-second steps, from GET /v1/matches/{id}/timeline?step=2s and then the
// windows shown), crowd moments as markers you can click, and a replay of a
// past stretch at 1×–16×. Everything is drawn only up to the horizon (the
// program time the display follows: now less the spoiler-free delay, or
// the video's), so nothing shows before its time.

const STEP_MS = 2000;
const MAX_STEPS = 10800;   // 6 hours of 2 s steps; the oldest go first
const MAX_MOMENTS = 500;
const MAX_EMOJIS = 64;     // emojis charted; a server's others are left out
const MAX_COLUMNS = 240;   // bars drawn; more steps are folded together
const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#ff8a3d", "#ffc46b", "#3ccf8e", "#5aa9ff", "#c58bff", "#ff6b9a", "#7fe0e0", "#d9d36a",
  "#ff6b6b", "#9aa5b8", "#b0e57c", "#f29e4c"];

// stepOf is the start of the 2 s step holding time ms.
const stepOf = (ms) => Math.floor(ms / STEP_MS) * STEP_MS;

export class Story {
  // els: {chart, axisFrom, axisTo, legend, markers, detail, replayFrom, replayFromOut, replaySpeed, replayToggle, replayStatus}
  // timeline(match): the client library's read of the 2 s timeline;
  // horizon(): the latest time that may be shown (ms); onReplay(swarm): show one replayed step.
  constructor({ els, emojis, timeline, horizon, onReplay, onNote }) {
    this.els = els;
    this.emojis = [...emojis];
    this.timeline = timeline;
    this.horizon = horizon;
    this.onReplay = onReplay;
    this.onNote = onNote;
    this.replay = null;
    this.pendingRender = 0;
    els.replayToggle.addEventListener("click", () => (this.replay ? this.stopReplay("stopped") : this.startReplay()));
    els.replayFrom.addEventListener("input", () => this.renderReplayFrom());
    this.reset("");
  }

  reset(match) {
    this.match = match;
    this.steps = new Map();   // step start ms → {counts, total}
    this.windows = new Set(); // live swarm window starts already counted
    this.history = new Set(); // steps read from the timeline
    this.moments = new Map();
    this.highlight = null;
    if (this.replay) this.stopReplay("stopped");
    this.els.detail.textContent = "";
    this.render();
  }

  // load reads the match's 2 s timeline so far; without it (a 404, an
  // older server) the chart starts from the windows shown.
  async load(match) {
    this.reset(match);
    let data;
    try {
      data = await this.timeline(match);
    } catch (err) {
      if (match === this.match) this.onNote(`no timeline for ${match} (${err.message}): the chart starts now`);
      return;
    }
    if (match !== this.match) return;
    for (const s of data.steps) {
      if (this.steps.has(stepOf(s.start))) continue; // a window shown came first
      this.history.add(stepOf(s.start));
      this.addCounts(stepOf(s.start), s.counts);
    }
    for (const m of data.moments) this.addMoment(m);
    this.onNote(`timeline of ${match}: ${data.steps.length} steps with reactions`);
    this.render();
  }

  // addSwarm counts a window shown (the client library's Display: start,
  // end, counts, moments).
  addSwarm({ start, end, counts, moments }) {
    for (const m of moments || []) this.addMoment(m);
    // A window the timeline already counted (with 2 s windows, one step
    // each) is not counted again.
    if (!(end > start) || this.windows.has(start) || this.history.has(stepOf(start))) return this.scheduleRender();
    this.windows.add(start);
    this.addCounts(stepOf(start), counts || {});
    this.scheduleRender();
  }

  addCounts(step, counts) {
    const cur = this.steps.get(step) || { counts: Object.create(null), total: 0 };
    for (const [e, n] of Object.entries(counts)) {
      if (!(n > 0)) continue;
      if (!this.emojis.includes(e)) {
        if (this.emojis.length >= MAX_EMOJIS) continue;
        this.emojis.push(e);
      }
      cur.counts[e] = (cur.counts[e] || 0) + n;
      cur.total += n;
    }
    this.steps.set(step, cur);
    // Steps arrive in time order (history, then live), so the first
    // inserted is the oldest.
    while (this.steps.size > MAX_STEPS) this.steps.delete(this.steps.keys().next().value);
  }

  addMoment(m) {
    const at = Date.parse(m.window_start);
    if (!Number.isFinite(at)) return;
    const key = `${at}|${m.emoji || ""}|${m.rule || ""}`;
    if (this.moments.has(key)) return;
    this.moments.set(key, { ...m, at, end: Date.parse(m.window_end) || at + STEP_MS });
    if (this.moments.size > MAX_MOMENTS) this.moments.delete(this.moments.keys().next().value);
  }

  scheduleRender() {
    if (this.pendingRender) return;
    this.pendingRender = requestAnimationFrame(() => { this.pendingRender = 0; this.render(); });
  }

  // visible returns the steps and moments up to the horizon, in time order.
  visible() {
    const h = this.horizon();
    const steps = [...this.steps].filter(([s]) => s + STEP_MS <= h).sort((a, b) => a[0] - b[0]);
    const moments = [...this.moments.values()].filter((m) => m.end <= h).sort((a, b) => a.at - b.at);
    return { steps, moments };
  }

  render() {
    const { steps, moments } = this.visible();
    const chart = this.els.chart;
    const first = steps.length ? steps[0][0] : 0;
    const last = steps.length ? steps[steps.length - 1][0] + STEP_MS : 0;
    const span = Math.max(STEP_MS, last - first);
    const cols = Math.min(MAX_COLUMNS, Math.max(1, Math.ceil(span / STEP_MS)));
    const colMs = span / cols;
    const columns = Array.from({ length: cols }, () => Object.create(null)); // a server's emoji may be named "constructor"
    const totals = Object.create(null);
    let total = 0;
    for (const [s, v] of steps) {
      const c = columns[Math.min(cols - 1, Math.floor((s - first) / colMs))];
      for (const [e, n] of Object.entries(v.counts)) {
        c[e] = (c[e] || 0) + n;
        totals[e] = (totals[e] || 0) + n;
        total += n;
      }
    }
    const peak = Math.max(1, ...columns.map((c) => Object.values(c).reduce((a, b) => a + b, 0)));
    const rects = [];
    columns.forEach((c, i) => {
      let y = 100;
      for (const e of this.emojis) {
        const n = c[e] || 0;
        if (!n) continue;
        const h = (n / peak) * 96;
        y -= h;
        rects.push(rect(i * 100 / cols, y, 100 / cols, h, this.color(e), { emoji: e, count: n }));
      }
    });
    if (this.highlight !== null && steps.length) {
      const x = ((this.highlight - first) / span) * 100;
      rects.push(rect(x, 0, Math.max(0.6, 100 * STEP_MS / span), 100, "rgba(255,255,255,.18)", { highlight: this.highlight }));
    }
    if (this.replay && steps.length) {
      const x = ((this.replay.at - first) / span) * 100;
      rects.push(rect(x, 0, 0.5, 100, "#fff", { cursor: this.replay.at }));
    }
    chart.replaceChildren(...rects);
    chart.dataset.total = String(total);
    chart.dataset.steps = String(steps.length);
    chart.dataset.from = String(first);
    chart.dataset.to = String(last);
    this.els.axisFrom.textContent = steps.length ? clock(first) : "";
    this.els.axisTo.textContent = steps.length ? clock(last) : "";
    this.renderLegend(totals);
    this.renderMarkers(moments, first, span, steps.length > 0);
    this.range = { first, last };
    this.renderReplayFrom();
  }

  color(e) {
    return PALETTE[this.emojis.indexOf(e) % PALETTE.length];
  }

  renderLegend(totals) {
    const items = this.emojis.filter((e) => totals[e]).map((e) => {
      const li = document.createElement("li");
      li.dataset.emoji = e;
      li.dataset.total = String(totals[e]);
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = this.color(e);
      li.append(sw, `${e} ${totals[e].toLocaleString("en")}`);
      return li;
    });
    this.els.legend.replaceChildren(...items);
  }

  renderMarkers(moments, first, span, any) {
    const shown = any ? moments.filter((m) => m.at >= first) : [];
    // Rebuilt only when they moved, so a focused marker keeps its focus.
    const key = `${first}|${span}|${shown.map((m) => `${m.at}${m.emoji}${m.rule}`).join(",")}`;
    if (key === this.markersKey) return;
    this.markersKey = key;
    const buttons = shown.map((m) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "moment-marker";
      b.dataset.at = String(m.at);
      b.style.left = `${Math.min(98, ((m.at + STEP_MS / 2 - first) / span) * 100)}%`; // over its step
      b.textContent = m.emoji || "★";
      b.setAttribute("aria-label", `Moment at ${clock(m.at)}: ${describe(m)}`);
      b.addEventListener("click", () => this.select(m));
      return b;
    });
    this.els.markers.replaceChildren(...buttons);
    this.els.markers.dataset.count = String(buttons.length);
  }

  // select highlights a moment's step, shows its details and sets the
  // replay to start a little before it.
  select(m) {
    this.highlight = stepOf(m.at);
    this.els.detail.textContent = `${clock(m.at)}–${clock(m.end)} · ${describe(m)}`;
    this.els.detail.dataset.at = String(m.at);
    const from = Math.max(this.range.first, m.at - 10000);
    this.els.replayFrom.value = String(Math.round((from - this.range.first) / 1000));
    this.render();
  }

  renderReplayFrom() {
    const { first, last } = this.range || { first: 0, last: 0 };
    const max = Math.max(0, Math.round((last - first) / 1000) - 2);
    this.els.replayFrom.max = String(max);
    this.els.replayFrom.disabled = !(last > first);
    this.els.replayToggle.disabled = !(last > first) && !this.replay;
    const at = first + Number(this.els.replayFrom.value || 0) * 1000;
    this.els.replayFromOut.textContent = last > first ? clock(Math.min(at, last)) : "–";
  }

  // startReplay plays the visible steps from the chosen start to the
  // horizon, one step each 2 s / speed; empty steps play as quiet ones.
  startReplay() {
    const { first, last } = this.range;
    if (!(last > first)) return;
    const speed = Math.min(16, Math.max(1, Number(this.els.replaySpeed.value) || 1));
    const from = stepOf(first + Number(this.els.replayFrom.value || 0) * 1000);
    this.replay = { at: from, to: last, speed, played: 0, timer: 0 };
    this.els.replayStatus.dataset.steps = String((last - from) / STEP_MS);
    this.els.replayToggle.textContent = "Stop replay";
    this.els.replayToggle.setAttribute("aria-pressed", "true");
    this.tick();
  }

  tick() {
    const r = this.replay;
    if (!r) return;
    if (r.at >= r.to) return this.stopReplay("done");
    const v = this.steps.get(r.at) || { counts: {}, total: 0 };
    r.played++;
    const st = this.els.replayStatus;
    st.dataset.state = "playing";
    st.dataset.played = String(r.played);
    st.dataset.at = String(r.at);
    st.textContent = `Replaying ${clock(r.at)} at ${r.speed}× · ${v.total.toLocaleString("en")} reactions`;
    this.onReplay({ window_start: new Date(r.at).toISOString(), window_end: new Date(r.at + STEP_MS).toISOString(),
      counts: v.counts, total: v.total }, STEP_MS / r.speed);
    this.render();
    r.at += STEP_MS;
    r.timer = setTimeout(() => this.tick(), STEP_MS / r.speed);
  }

  stopReplay(how) {
    const r = this.replay;
    if (!r) return;
    clearTimeout(r.timer);
    this.replay = null;
    const st = this.els.replayStatus;
    st.dataset.state = how;
    st.textContent = how === "done" ? `Replay done: ${r.played} steps` : `Replay stopped after ${r.played} steps`;
    this.els.replayToggle.textContent = "Replay";
    this.els.replayToggle.setAttribute("aria-pressed", "false");
    this.render();
  }
}

function rect(x, y, w, h, fill, data) {
  const r = document.createElementNS(SVG, "rect");
  r.setAttribute("x", x.toFixed(3));
  r.setAttribute("y", y.toFixed(3));
  r.setAttribute("width", w.toFixed(3));
  r.setAttribute("height", Math.max(0, h).toFixed(3));
  r.setAttribute("fill", fill);
  for (const [k, v] of Object.entries(data)) r.dataset[k] = String(v);
  return r;
}

function describe(m) {
  const what = m.emoji ? `${m.emoji} surged` : "the crowd surged";
  return `${what}: ${Number(m.size).toLocaleString("en")} reactions, ${Number(m.ratio).toFixed(1)}× the usual`;
}

export function clock(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
