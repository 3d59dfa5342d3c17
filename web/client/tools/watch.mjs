// Prints the events of a watch as JSON lines, for the Go test that drives
// the client against a real nats-server (web/client_test.go) and by hand:
//   node --experimental-websocket tools/watch.mjs ws://127.0.0.1:9222 final-2026 [backoffMs]
// (Node 22 and later have WebSocket without the flag.)
import { createClient } from "../src/index.js";

const [url, match, backoff] = process.argv.slice(2);
const client = createClient({ config: { ws_urls: [url], window_ms: 2000 }, nats: { backoffMs: Number(backoff) || 250 } });
const watch = client.watch(match, { replay: false });
watch.on("*", (type, value) => {
  const v = type === "swarm" ? { source: value.source, start: value.start, end: value.end, total: value.total, viewers: value.viewers, seq: value.seq } : value;
  process.stdout.write(`${JSON.stringify({ type, value: v instanceof Error ? v.message : v })}\n`);
});
process.stdin.on("end", () => { watch.close(); process.exit(0); });
process.stdin.resume();
