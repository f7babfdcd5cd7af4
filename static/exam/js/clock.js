// The server-authoritative countdown (docs/protocol.md, "heartbeat"; ../shared/RELIABILITY.md,
// finding 11). The page never counts ticks: browsers run background timers once a minute at
// best, so a tick counter would be minutes late after the tab was hidden. The remaining time is
// always recomputed as `deadline - (local now + offset)`, where the deadline is in server time and
// the offset (server clock minus local clock) comes from the heartbeat round trip.

/** Milliseconds of an ISO 8601 date-time, or NaN. */
export function parseServerTime(value) {
  return typeof value === "string" ? Date.parse(value) : Number.NaN;
}

/**
 * The clock offset measured by one round trip: the server's time was read, on average, halfway
 * between sending and receiving. offset = serverTime - (sent + received) / 2.
 */
export function offsetFromRoundTrip({ sentAt, receivedAt, serverTimeMs }) {
  return serverTimeMs - (sentAt + receivedAt) / 2;
}

/** Whole seconds left (never below 0) at local time `nowMs`, or null without a running deadline. */
export function remainingSecondsAt({ deadlineMs, offsetMs, nowMs }) {
  if (deadlineMs === null || deadlineMs === undefined || Number.isNaN(deadlineMs)) return null;
  return Math.max(0, Math.ceil((deadlineMs - (nowMs + offsetMs)) / 1000));
}

/** "1:02:03" or "12:34". */
export function formatRemaining(seconds) {
  if (seconds === null || seconds === undefined) return "--:--";
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  const two = (n) => String(n).padStart(2, "0");
  return hours > 0 ? `${hours}:${two(minutes)}:${two(rest)}` : `${two(minutes)}:${two(rest)}`;
}

const KEEP_SAMPLES = 8;

/**
 * The server's clock as seen from this page. Each heartbeat gives one offset sample; the sample
 * with the shortest round trip is the most precise (its error is at most half its round trip),
 * so the page keeps the last few and uses the best.
 */
export class ServerClock {
  constructor({ now = () => Date.now() } = {}) {
    this.now = now;
    this.samples = [];
    this.offsetMs = 0;
    this.deadlineMs = null;
    this.frozenSeconds = null;
  }

  /**
   * A reply to a request of ours sent at `sentAt` and received at `receivedAt`: one offset sample,
   * and the deadline it carries (heartbeat.ack).
   */
  observe({ sentAt, receivedAt, serverTime, ...timing }) {
    const serverTimeMs = parseServerTime(serverTime);
    if (Number.isNaN(serverTimeMs)) return;
    const roundTrip = Math.max(0, receivedAt - sentAt);
    this.samples.push({ roundTrip, offset: offsetFromRoundTrip({ sentAt, receivedAt, serverTimeMs }) });
    if (this.samples.length > KEEP_SAMPLES) this.samples.shift();
    this.offsetMs = this.samples.reduce((best, sample) => (sample.roundTrip < best.roundTrip ? sample : best)).offset;
    this.setDeadline({ serverTime, ...timing });
  }

  /**
   * The deadline a server message carries: `deadline` (ISO, server time) when the clock runs;
   * while paused the deadline is null and `remainingSeconds` stands still. A message pushed by
   * the server (no round trip of ours to measure) moves the deadline, never the offset.
   */
  setDeadline({ serverTime, deadline, remainingSeconds, remainingMs, paused }) {
    if (deadline === undefined && remainingSeconds === undefined && remainingMs === undefined) return;
    const deadlineMs = parseServerTime(deadline);
    const serverTimeMs = parseServerTime(serverTime);
    this.frozenSeconds = null;
    if (!Number.isNaN(deadlineMs)) {
      this.deadlineMs = deadlineMs;
    } else if (paused && typeof remainingSeconds === "number") {
      this.deadlineMs = null;
      this.frozenSeconds = Math.max(0, Math.ceil(remainingSeconds));
    } else if (typeof remainingMs === "number" && !Number.isNaN(serverTimeMs)) {
      this.deadlineMs = serverTimeMs + remainingMs;
    } else if (typeof remainingSeconds === "number" && !Number.isNaN(serverTimeMs)) {
      this.deadlineMs = serverTimeMs + remainingSeconds * 1000;
    } else {
      this.deadlineMs = null;
    }
  }

  /** The server's time now, estimated. */
  serverNow() {
    return this.now() + this.offsetMs;
  }

  /** Whole seconds left in the stage now, or null when no clock runs. */
  remainingSeconds() {
    if (this.frozenSeconds !== null) return this.frozenSeconds;
    return remainingSecondsAt({ deadlineMs: this.deadlineMs, offsetMs: this.offsetMs, nowMs: this.now() });
  }
}
