// Types of the EmoStream client (web/client/src, built into
// dist/emostream.js and dist/emostream.min.js). Manual: docs/client.md.

/** Program time of the frame on screen, Unix ms, or null when unknown (a clock that throws reads as null). */
export type VideoClock = () => number | null;

/** The token provider: a JWT for `Authorization: Bearer`, or null for none. */
export type TokenProvider = (opts: { refresh: boolean }) => string | null | Promise<string | null>;

/** A view of the timeline (docs/api.md, "Timeline"); other names pass through to the server. */
export type TimelineView = "named" | "arrival" | "video" | (string & {});

/** What the client reads the time, timers and randomness from (tests pass a fake one). */
export interface Env {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(t: unknown): void;
  random(): number;
}

export interface ClientOptions {
  /** Origin of the ingest API, e.g. "https://react.example.com"; "" (default) is the page's own. */
  baseURL?: string;
  /** Sends every reaction with `Authorization: Bearer <token>`; asked again with refresh: true after a 401. */
  token?: TokenProvider;
  /** user_id of every reaction (needed with --auth=none; with a token the server takes its subject). */
  userId?: string;
  /** The body of GET /v1/config, to skip reading it. */
  config?: RawConfig;
  /** WebSocket URLs to use instead of the config's ws_urls. */
  wsURLs?: string[];
  /** NATS connection options. */
  nats?: NatsOptions;
  /** Sender options. */
  send?: SendOptions;
  /** Timeout of one HTTP request, ms. Default 10000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  WebSocket?: unknown;
  env?: Env;
}

export interface NatsOptions {
  user?: string;
  pass?: string;
  token?: string;
  /** The connection's name in the server's monitoring. Default "emostream-client". */
  name?: string;
  /** Default 20000. */
  pingMs?: number;
  /** Unanswered PINGs before the connection counts as stale. Default 2. */
  maxPingsOut?: number;
  /** Default 5000. */
  connectTimeoutMs?: number;
  /** Default 3000. */
  requestTimeoutMs?: number;
  /** Requests waiting for an answer at once. Default 16. */
  maxPending?: number;
  /** First reconnect delay, doubled per round of URLs. Default 250. */
  backoffMs?: number;
  /** Default 10000. */
  maxBackoffMs?: number;
  /** A connection that lived this long resets the backoff. Default 10000. */
  stableMs?: number;
  limits?: { maxControlLine?: number; maxPayload?: number; maxHeaders?: number };
}

export interface SendOptions {
  /** Reactions waiting to be sent. Default 10000. */
  maxQueued?: number;
  /** Tries of one request on 429, 502-504 or no answer. Default 8. */
  maxAttempts?: number;
  /** Default 500 (doubled per try, ±25 %) when there is no Retry-After. */
  backoffMs?: number;
  /** Default 30000. */
  maxBackoffMs?: number;
}

export interface RawConfig {
  ws_urls?: string[];
  window_ms?: number;
  swarm_threshold?: number;
  emoji_types?: string[];
  limits?: { max_events?: number; user_rate?: number; user_burst?: number; ip_rate?: number; ip_burst?: number } | null;
  auth?: string;
  sessions?: boolean;
}

export interface Config {
  wsURLs: string[];
  windowMs: number;
  swarmThreshold: number;
  emojiTypes: string[];
  limits: { maxEvents: number; userRate: number; userBurst: number; ipRate: number; ipBurst: number } | null;
  auth: "jwt" | "none";
  sessions: boolean;
}

export interface Reaction {
  /** 1-64 characters of A-Z a-z 0-9 _ -. */
  matchId: string;
  emoji: string;
  /**
   * Program time (Unix ms, a whole positive number) of the frame the viewer
   * saw, sent as video_ts: the timeline by program time (`by: "video"`)
   * counts the reaction in the window containing it. The server refuses
   * one more than 2 s ahead of its clock or 60 s behind it (400
   * `bad_video_ts`, that reaction only).
   */
  videoTs?: number;
  /** Unix ms; informational. */
  timestamp?: number;
  /** Default: the client's userId. */
  userId?: string;
  /** Default: 16 random bytes as hex. A retry sends the same id. */
  eventId?: string;
}

export interface Receipt {
  eventId: string;
  /** Events the request that carried this reaction had accepted. */
  accepted: number;
  /** Window starts (Unix ms) the request's events were counted in. */
  windows: number[];
}

/** A refusal or failure. */
export class ApiError extends Error {
  /** HTTP status; 0 when there was no answer or the client refused. */
  status: number;
  /** The server's code (docs/api.md) or the client's: network, timeout, aborted, bad_answer, bad_field, queue_full, token, closed. */
  code: string;
  /** The event a refusal names. */
  index?: number;
  retryable: boolean;
  retryAfterMs?: number;
}

export interface TimelineQuery {
  /** Unix ms, a Date or RFC 3339. */
  from?: number | Date | string;
  to?: number | Date | string;
  step?: "2s" | "10s" | "1m" | "5m";
  /**
   * Passed through as `by` when given. The view: `"named"` (the server's
   * default: each reaction in the window it was received in), `"arrival"`
   * (where the live swarms carried it) or `"video"` (by program time: in
   * the window of its video_ts, or, without one, where it was received).
   */
  by?: TimelineView;
  signal?: AbortSignal;
}

export interface TimelineStep {
  start: number;
  end: number;
  counts: Record<string, number>;
  total: number;
}

export interface Moment {
  match_id: string;
  window_start: string;
  window_end: string;
  emoji?: string;
  size: number;
  ratio: number;
  rule: "total" | "share" | string;
}

export interface Timeline {
  matchId: string;
  step: string;
  from: number;
  to: number;
  steps: TimelineStep[];
  totals: Record<string, number>;
  total: number;
  moments: Moment[];
}

/** The swarm as the pipeline publishes it (wire.Swarm). */
export interface Swarm {
  match_id: string;
  window_start: string;
  window_end: string;
  counts?: Record<string, number>;
  swarm?: Record<string, number>;
  total?: number;
  viewers?: number;
  moments?: Moment[];
  [field: string]: unknown;
}

/** A window to show now. */
export interface Display {
  matchId: string;
  /** Window start and end, Unix ms. */
  start: number;
  end: number;
  /** live; latest (the stored one on join); recovered (read after a gap); timeline (replayed after a seek back, or filled in). */
  source: "live" | "latest" | "recovered" | "timeline";
  counts: Record<string, number>;
  total: number;
  /** Swarm units per emoji (one per swarm_threshold identical emojis). */
  units: Record<string, number>;
  moments: Moment[];
  viewers?: number;
  /** Nats-Sequence; 0 for timeline windows. */
  seq: number;
  /** The whole swarm; null for timeline windows. */
  swarm: Swarm | null;
}

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";

export interface StatusEvent {
  state: ConnectionState;
  server?: string;
  error?: string;
  reconnected?: boolean;
  retryInMs?: number;
}

export interface GapEvent { from: number; to: number; windows: number; reason: string }
export interface SkipEvent { from: number; to: number; windows: number; reason: "seek" | "passed" | "late" | "buffer full" }
export interface OverflowEvent { start: number; end: number }

/**
 * An "error" event: a timeline read's ApiError, a connection's or the
 * server's error, or the video clock's.
 */
export interface WatchError extends Error {
  /**
   * "video_clock": the video clock threw (cause is what it threw); told
   * once per run of throws, again once it answered and threw anew or a new
   * clock was set. An ApiError's code for a timeline read.
   */
  code?: string;
}

export interface WatchEvents {
  swarm: Display;
  status: StatusEvent;
  viewers: number;
  gap: GapEvent;
  skip: SkipEvent;
  overflow: OverflowEvent;
  drop: string;
  note: string;
  error: WatchError;
}

export type WatchEvent = { [K in keyof WatchEvents]: { type: K; value: WatchEvents[K] } }[keyof WatchEvents];

export interface WatchOptions {
  /** The video clock; absent: live less delayMs. */
  video?: VideoClock;
  /** Show a window at clock + lead >= window end; -300000 to windowMs. Default 0. */
  lead?: number;
  /** Without a video clock: how far behind live to show, ms. Default 0. */
  delayMs?: number;
  /** A video clock that has not answered yet: "live" (default) or "hold". */
  unknownClock?: "live" | "hold";
  /** Swarms held; past it the oldest leave (overflow) and come back from the timeline. Default 300. */
  maxBuffered?: number;
  /** How often the video clock is read while waiting, ms. Default 250. */
  pollMs?: number;
  /** A timeline window later than this when read is skipped. Default windowMs. */
  maxLateMs?: number;
  /** Read the stretch between the video's position and the first swarm from the timeline. Default true. */
  fillOnJoin?: boolean;
  /** false: never read the timeline (no replay on seek back). */
  replay?: boolean;
  /** The timeline's `by` for replays. */
  replayBy?: TimelineView;
  /**
   * watch.react stamps the video clock (when it knows the program time) as
   * videoTs; a stamp the server refuses as out of bounds is sent again
   * without. Default true; false sends none.
   */
  sendVideoTs?: boolean;
  /** Gap recovery bounds. */
  recovery?: { maxRecovery?: number; maxWaiting?: number; retryMs?: number; maxQueued?: number; requestTimeoutMs?: number };
}

export class Watch implements AsyncIterable<WatchEvent> {
  readonly matchId: string;
  /** The latest occupancy, or null before any. */
  readonly viewers: number | null;
  readonly state: ConnectionState;
  /** Events the async iterator dropped unread (at most 1000 wait); set once one is made. */
  readonly iteratorDropped?: number;
  /**
   * Resolves once the config was read and the watch started (or it was
   * closed first); rejects with the error when the config could not be
   * read, after the "error" event and the "closed" status. Not awaiting it
   * is safe: the rejection is handled inside.
   */
  readonly ready: Promise<void>;
  on<K extends keyof WatchEvents>(type: K, fn: (value: WatchEvents[K]) => void): () => void;
  on(type: "*", fn: (type: keyof WatchEvents, value: unknown) => void): () => void;
  play(): void;
  pause(): void;
  /** The video jumped. Without a video clock, programMs sets the program time. */
  seeked(programMs?: number): void;
  setLead(ms: number): void;
  setDelay(ms: number): void;
  setVideoClock(fn: VideoClock | null): void;
  /** The program time the display follows now, or null. */
  programTime(): number | null;
  react(emoji: string, extra?: Partial<Reaction>): Promise<Receipt>;
  close(): void;
  [Symbol.asyncIterator](): AsyncIterator<WatchEvent>;
}

export class Client {
  constructor(options?: ClientOptions);
  config(): Promise<Config>;
  react(r: Reaction): Promise<Receipt>;
  send(list: Reaction[]): Promise<Receipt[]>;
  timeline(matchId: string, q?: TimelineQuery): Promise<Timeline>;
  watch(matchId: string, options?: WatchOptions): Watch;
  /** Closes the client's open watches and its connection, and fails the reactions still waiting. */
  close(): void;
}

export function createClient(options?: ClientOptions): Client;

/** A video clock from hls.js (hls.playingDate, from EXT-X-PROGRAM-DATE-TIME). */
export function hlsClock(hls: { playingDate: Date | null }): VideoClock;

/** Forwards a media element's play, pause, ended and seeked to w; returns an unbind function. */
export function bindMedia(
  media: { paused: boolean; addEventListener(t: string, f: () => void): void; removeEventListener(t: string, f: () => void): void },
  w: Pick<Watch, "play" | "pause" | "seeked">,
): () => void;

export class ProtocolError extends Error {}
