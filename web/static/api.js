// The ingest HTTP API: GET /v1/config and POST /v1/emojis, with API errors
// turned into sentences a viewer can read.
import { dropSession, sessionToken } from "./session.js";

// withSession is set by useSessions: POST /v1/emojis then carries the
// session's token and no user_id (the server takes the token's user).
let withSession = false;

// useSessions makes every POST /v1/emojis send as the page's session user.
export function useSessions() {
  withSession = true;
}

// getConfig reads GET /v1/config (web.ClientConfig in Go).
export async function getConfig() {
  const res = await fetch("/v1/config", { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`GET /v1/config answered ${res.status}`);
  const cfg = await res.json();
  return {
    wsURLs: cfg.ws_urls || [],
    windowMs: cfg.window_ms || 2000,
    swarmThreshold: cfg.swarm_threshold || 1000,
    emojiTypes: cfg.emoji_types || [],
    auth: cfg.auth || "none",
    sessions: cfg.sessions === true,
  };
}

// getMatches reads GET /v1/matches: the registry's live matches, then the
// scheduled ones. It resolves to [] when the server has no registry.
export async function getMatches() {
  const res = await fetch("/v1/matches", { headers: { Accept: "application/json" } });
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`GET /v1/matches answered ${res.status}`);
  const data = await res.json();
  return Array.isArray(data.matches) ? data.matches : [];
}

// postEvents sends one event object or an array of them. It never throws:
// it resolves to {ok, status, accepted, text, retryAfterMs, ms}, where text
// explains a failure.
export async function postEvents(body) {
  const start = performance.now();
  let res;
  try {
    res = await post(body);
    if (res.status === 401 && withSession) { // expired or from a restarted server: once more with a new one
      dropSession();
      res = await post(body);
    }
  } catch (err) {
    if (err.status === 429) {
      return { ok: false, status: 429, accepted: 0, ms: performance.now() - start, retryAfterMs: 1000,
        text: "Slow down: too many new sessions from this network. Try again shortly." };
    }
    return { ok: false, status: 0, accepted: 0, ms: performance.now() - start,
      text: "Can't reach the server. Check that EmoStream is running." };
  }
  const data = await res.json().catch(() => ({}));
  const out = { ok: res.ok, status: res.status, accepted: data.accepted || 0,
    ms: performance.now() - start, retryAfterMs: retryAfterMs(res) };
  if (!res.ok) out.text = describe(res.status, data.error || {}, out.retryAfterMs);
  return out;
}

// post sends body, with the session's token when sessions are on.
async function post(body) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (withSession) {
    headers.Authorization = `Bearer ${(await sessionToken()).token}`;
    body = Array.isArray(body) ? body.map(withoutUser) : withoutUser(body);
  }
  return fetch("/v1/emojis", { method: "POST", headers, body: JSON.stringify(body) });
}

function withoutUser(ev) {
  const { user_id: _, ...rest } = ev;
  return rest;
}

function retryAfterMs(res) {
  const v = res.headers.get("Retry-After");
  if (!v) return 0;
  const secs = Number(v);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : 0;
}

// describe turns an API error {code, message, index} into a sentence.
export function describe(status, err, retryMs) {
  const detail = err.message ? `: ${err.message}` : "";
  switch (status) {
    case 400: {
      const which = Number.isInteger(err.index) ? ` (event #${err.index + 1})` : "";
      return `Rejected, nothing was counted${which}${detail}.`;
    }
    case 401: return "Not signed in: the server needs a token to take reactions.";
    case 403: return `Refused${detail}.`;
    case 404:
      if (err.code === "unknown_match") return "This match is not in the registry: pick a live match.";
      break;
    case 409:
      if (err.code === "match_not_live") return `This match takes no reactions now${detail}.`;
      break;
    case 413: return "Rejected: too many events in one request (at most 1,000).";
    case 415: return "Rejected: the request was not sent as JSON.";
    case 429: {
      const secs = Math.max(1, Math.ceil((retryMs || 1000) / 1000));
      return `Slow down: rate limited. Try again in ${secs} s.`;
    }
    case 503: return "The server can't store reactions right now (Kafka unavailable); nothing was counted. Try again shortly.";
  }
  return `The server answered ${status}${detail}.`;
}
