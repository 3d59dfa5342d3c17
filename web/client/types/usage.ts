// A small app written against emostream.d.ts: `npm run typecheck` (tsc
// --noEmit) proves the types describe a usable API. Not run.
import { createClient, hlsClock, bindMedia, ApiError } from "../emostream.js";
import type { Display, Timeline, Watch, WatchEvent } from "../emostream.js";

declare const hls: { playingDate: Date | null };
declare const video: HTMLVideoElement;
declare function draw(d: Display): void;

const client = createClient({
  baseURL: "https://react.example.com",
  token: async ({ refresh }) => (refresh ? "fresh-jwt" : "cached-jwt"),
  nats: { user: "viewer", pass: "viewer" },
});

const watch: Watch = client.watch("final-2026", { video: hlsClock(hls), lead: -200, sendVideoTs: true });
const unbind = bindMedia(video, watch);
watch.on("swarm", (d) => draw(d));
watch.on("viewers", (n: number) => console.log(`${n} watching`));
watch.on("gap", (g) => console.log(`lost ${g.windows} windows: ${g.reason}`));
watch.on("status", (s) => console.log(s.state, s.error ?? ""));
watch.on("error", (e) => {
  if (e.code === "video_clock") console.log("the player's clock is broken:", e.cause);
});
watch.setLead(0);

async function loop(): Promise<void> {
  for await (const ev of watch) {
    const e: WatchEvent = ev;
    if (e.type === "swarm") draw(e.value);
    if (e.type === "skip") console.log(e.value.reason);
  }
}

async function tap(): Promise<void> {
  try {
    const r = await watch.react("🔥");
    console.log(r.eventId, r.windows[0]);
    await client.react({ matchId: "final-2026", emoji: "👏", videoTs: Date.now() - 20000 });
  } catch (err) {
    if (err instanceof ApiError && err.retryable) console.log(`try again in ${err.retryAfterMs ?? 1000} ms`);
  }
}

async function story(): Promise<Timeline> {
  const t = await client.timeline("final-2026", { step: "1m", from: new Date(Date.now() - 3600000), by: "video" });
  for (const s of t.steps) console.log(s.start, s.total, s.counts["🔥"] ?? 0);
  return t;
}

// the generic-player variant: an app callback as the clock
declare const player: { programTimeMs(): number | undefined };
const w2 = client.watch("final-2026", { video: () => player.programTimeMs() ?? null, unknownClock: "hold" });
w2.seeked();
w2.close();
void [loop, tap, story, unbind];
