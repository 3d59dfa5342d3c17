// The HTTP side of the ingest API: GET /v1/config, GET
// /v1/matches/{id}/timeline, and the error body every refusal carries.
// Answers are read with a size bound and checked field by field.
import { clientError } from "./env.js";

// ApiError is a refusal: status (0: no answer), code (the server's, e.g.
// "rate_limited", or the client's: "network", "timeout", "bad_answer",
// "bad_field", "queue_full", "token", "closed"), index (the event it
// names, if any), retryable and retryAfterMs.
export class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.retryable = false;
    Object.assign(this, extra);
  }
}

const MAX_RETRY_AFTER_MS = 300000;

// retryAfterMs reads Retry-After (seconds or an HTTP date); null if absent
// or unreadable, at most 5 minutes.
export function retryAfterMs(res, now) {
  const v = res && res.headers && res.headers.get("Retry-After");
  if (!v) return null;
  let ms = /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  if (!Number.isFinite(ms)) return null;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

// readJSON reads a JSON body of at most maxBytes.
export async function readJSON(res, maxBytes) {
  const len = Number(res.headers.get("Content-Length"));
  if (len > maxBytes) throw new ApiError(res.status, "bad_answer", `answer of ${len} bytes over ${maxBytes}`);
  let text = "";
  if (res.body && res.body.getReader) {
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let n = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > maxBytes) {
        reader.cancel().catch(() => {});
        throw new ApiError(res.status, "bad_answer", `answer over ${maxBytes} bytes`);
      }
      text += dec.decode(value, { stream: true });
    }
    text += dec.decode();
  } else {
    text = await res.text();
    if (text.length > maxBytes) throw new ApiError(res.status, "bad_answer", `answer over ${maxBytes} bytes`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(res.status, "bad_answer", `answer is not JSON (HTTP ${res.status})`);
  }
}

// errorOf turns a refusal into an ApiError from its body
// {"error":{"code","message","index"}}.
export async function errorOf(res, now) {
  let e = {};
  try {
    const body = await readJSON(res, 65536);
    if (body && typeof body.error === "object" && body.error) e = body.error;
  } catch { /* a body that is not ours */ }
  const code = typeof e.code === "string" ? e.code : `http_${res.status}`;
  const message = typeof e.message === "string" ? e.message.slice(0, 500) : `HTTP ${res.status}`;
  const wait = retryAfterMs(res, now);
  return new ApiError(res.status, code, `${res.status} ${code}: ${message}`, {
    index: Number.isInteger(e.index) ? e.index : undefined,
    retryable: res.status === 429 || res.status === 502 || res.status === 503 || res.status === 504,
    retryAfterMs: wait == null ? undefined : wait,
  });
}

const toMs = (v) => (typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) : NaN);
const num = (v) => (Number.isFinite(v) ? v : 0);

function counts(c) {
  const out = {};
  if (!c || typeof c !== "object") return out;
  for (const k of Object.keys(c).slice(0, 1000)) if (Number.isSafeInteger(c[k]) && c[k] >= 0) out[k] = c[k];
  return out;
}

// configOf checks GET /v1/config's answer (web.ClientConfig).
export function configOf(raw) {
  if (!raw || typeof raw !== "object") throw new ApiError(200, "bad_answer", "GET /v1/config: not an object");
  const urls = Array.isArray(raw.ws_urls) ? raw.ws_urls.filter((u) => typeof u === "string" && /^wss?:\/\//.test(u)) : [];
  const l = raw.limits && typeof raw.limits === "object" ? raw.limits : null;
  return {
    wsURLs: urls.slice(0, 64),
    windowMs: Number.isSafeInteger(raw.window_ms) && raw.window_ms > 0 ? raw.window_ms : 2000,
    swarmThreshold: Number.isSafeInteger(raw.swarm_threshold) && raw.swarm_threshold > 0 ? raw.swarm_threshold : 1000,
    emojiTypes: Array.isArray(raw.emoji_types) ? raw.emoji_types.filter((e) => typeof e === "string").slice(0, 1000) : [],
    limits: l && {
      maxEvents: num(l.max_events), userRate: num(l.user_rate), userBurst: num(l.user_burst),
      ipRate: num(l.ip_rate), ipBurst: num(l.ip_burst),
    },
    auth: raw.auth === "jwt" ? "jwt" : "none",
    sessions: raw.sessions === true,
  };
}

// timelineOf checks a timeline answer: times as Unix ms, counts as safe
// integers, at most 50,000 steps and 10,000 moments.
export function timelineOf(raw) {
  if (!raw || typeof raw !== "object" || !Array.isArray(raw.steps)) throw new ApiError(200, "bad_answer", "timeline: no steps");
  const steps = [];
  for (const s of raw.steps.slice(0, 50000)) {
    const start = toMs(s && s.start);
    const end = toMs(s && s.end);
    if (end > start) steps.push({ start, end, counts: counts(s.counts), total: num(s.total) });
  }
  const moments = Array.isArray(raw.moments) ? raw.moments.slice(0, 10000).filter((m) => m && typeof m === "object") : [];
  return { matchId: String(raw.match_id || ""), step: String(raw.step || ""), from: toMs(raw.from), to: toMs(raw.to),
    steps, totals: counts(raw.totals), total: num(raw.total), moments };
}

// Http sends the GETs: one try and up to two retries on 429/5xx or no
// answer, honouring Retry-After.
export class Http {
  constructor({ baseURL = "", fetch: f, env, timeoutMs = 10000 }) {
    this.base = baseURL.replace(/\/+$/, "");
    this.fetch = f || ((...a) => globalThis.fetch(...a));
    this.env = env;
    this.timeoutMs = timeoutMs;
  }

  // call runs fetch with a timeout; a failure is ApiError network/timeout.
  async call(path, init = {}) {
    const ctl = new AbortController();
    const abort = () => ctl.abort();
    if (init.signal) {
      if (init.signal.aborted) throw new ApiError(0, "aborted", "aborted");
      init.signal.addEventListener("abort", abort, { once: true });
    }
    let timedOut = false;
    const timer = this.env.setTimeout(() => { timedOut = true; ctl.abort(); }, this.timeoutMs);
    try {
      return await this.fetch(this.base + path, { ...init, signal: ctl.signal });
    } catch (err) {
      if (timedOut) throw new ApiError(0, "timeout", `${path}: no answer within ${this.timeoutMs} ms`, { retryable: true });
      if (init.signal && init.signal.aborted) throw new ApiError(0, "aborted", "aborted");
      throw new ApiError(0, "network", `${path}: ${err.message}`, { retryable: true });
    } finally {
      this.env.clearTimeout(timer);
      if (init.signal) init.signal.removeEventListener("abort", abort);
    }
  }

  async getJSON(path, { signal, maxBytes = 1 << 20, attempts = 3 } = {}) {
    for (let i = 1; ; i++) {
      let err;
      try {
        const res = await this.call(path, { headers: { Accept: "application/json" }, signal });
        if (res.ok) return await readJSON(res, maxBytes);
        err = await errorOf(res, this.env.now());
      } catch (e) {
        err = e;
      }
      if (!err.retryable || i >= attempts) throw err;
      await sleep(this.env, err.retryAfterMs ?? 500 * 2 ** (i - 1));
    }
  }
}

export function sleep(env, ms) {
  return new Promise((resolve) => env.setTimeout(resolve, ms));
}

export const badField = (message) => new ApiError(0, "bad_field", message);
export { clientError };
