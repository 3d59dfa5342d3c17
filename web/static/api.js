// What the pages read of the ingest API beside the client library
// (client/emostream.min.js): GET /v1/config as sent (handed to the
// library, which checks it), GET /v1/matches, and the library's refusals
// (ApiError) as sentences a viewer can read.

// getConfig reads GET /v1/config (web.ClientConfig in Go) as it is.
export async function getConfig() {
  const res = await fetch("/v1/config", { headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error(`GET /v1/config answered ${res.status}`);
  const raw = await res.json();
  if (!raw || typeof raw !== "object") throw new Error("GET /v1/config: not an object");
  return raw;
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

// serverMessage is the server's own message of an ApiError (the library
// writes "<status> <code>: <message>").
function serverMessage(err) {
  const prefix = `${err.status} ${err.code}: `;
  return err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
}

// describe turns a refusal of the library (ApiError: status, code, index,
// retryAfterMs) into a sentence.
export function describe(err) {
  const msg = serverMessage(err);
  const detail = msg ? `: ${msg}` : "";
  switch (err.status) {
    case 0:
      if (err.code === "network" || err.code === "timeout") return "Can't reach the server. Check that EmoStream is running.";
      if (err.code === "token") return `Can't get a session to react with (${msg}). Try again shortly.`;
      if (err.code === "queue_full") return "Too many reactions wait to be sent: slow down.";
      return `Not sent${detail}.`;
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
      const secs = Math.max(1, Math.ceil((err.retryAfterMs || 1000) / 1000));
      return `Slow down: rate limited. Try again in ${secs} s.`;
    }
    case 503: return "The server can't store reactions right now (Kafka unavailable); nothing was counted. Try again shortly.";
  }
  return `The server answered ${err.status}${detail}.`;
}
