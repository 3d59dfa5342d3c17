// The outside world the client reads time, timers and randomness from.
// Tests pass their own (a fake clock), so nothing waits for real time.

export const defaultEnv = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t),
  random: () => Math.random(),
};

// randomHex returns n random bytes as hex, from the platform's CSPRNG.
export function randomHex(n) {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

// Emitter is a minimal event emitter: on(type, fn) returns a function that
// removes fn. A listener that throws does not stop the others.
export class Emitter {
  constructor() {
    this.listeners = new Map();
  }
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }
  emit(type, value) {
    for (const fn of this.listeners.get(type) || []) {
      try {
        fn(value);
      } catch (err) {
        if (type !== "error") this.emit("error", err);
      }
    }
    for (const fn of this.listeners.get("*") || []) {
      try { fn(type, value); } catch { /* the app's own */ }
    }
  }
}

// clientError makes an Error with a code a program can test.
export function clientError(code, message, extra) {
  const err = new Error(message);
  err.code = code;
  return Object.assign(err, extra);
}

// withDefaults returns defs overlaid with the options of o that are set
// (an option given as undefined keeps its default).
export function withDefaults(defs, o) {
  const out = { ...defs };
  for (const k of Object.keys(o || {})) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
