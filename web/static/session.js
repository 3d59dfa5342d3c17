// Who the pages react as. With demo sessions on (GET /v1/config says
// "sessions": true), POST /v1/session hands the page a short-lived token for
// a new random user; the page gives the client library sessionProvider as
// its token provider, so its reactions go as that user. Production
// platforms issue the tokens themselves (docs/api.md). Without sessions,
// the page reacts as localUser, this browser's own user_id.

const RENEW_BEFORE_MS = 30000; // take a new token this long before expiry

let current = null; // {token, userID, expiresAt}
let pending = null; // the POST in flight, shared by concurrent callers

// sessionToken resolves to a valid {token, userID, expiresAt}, asking the
// server for a new one when there is none or it is about to expire.
async function sessionToken() {
  if (current && current.expiresAt - Date.now() > RENEW_BEFORE_MS) return current;
  if (!pending) pending = newSession().finally(() => { pending = null; });
  return pending;
}

// dropSession forgets the token (the server refused it), so the next
// sessionToken asks for a new one.
function dropSession() {
  current = null;
}

// sessionProvider is the client library's token provider: the session's
// token, a new one when asked to refresh (after a 401).
export async function sessionProvider({ refresh }) {
  if (refresh) dropSession();
  return (await sessionToken()).token;
}

async function newSession() {
  const res = await fetch("/v1/session", { method: "POST", headers: { Accept: "application/json" } });
  if (!res.ok) {
    throw new Error(res.status === 429 ? "too many new sessions from this network" : `POST /v1/session answered ${res.status}`);
  }
  const d = await res.json();
  current = { token: d.token, userID: d.user_id, expiresAt: Date.parse(d.expires_at) };
  return current;
}

// localUser is this browser's user_id when the server has no sessions,
// kept in localStorage.
export function localUser() {
  let id = localStorage.getItem("emostream.user");
  if (!id) {
    id = `web-${crypto.getRandomValues(new Uint32Array(2)).join("")}`.slice(0, 32);
    localStorage.setItem("emostream.user", id);
  }
  return id;
}
