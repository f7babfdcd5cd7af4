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
  }

  /** A reply that carries serverTime (and maybe remainingSeconds/remainingMs) to a request sent at `sentAt`. */
  observe({ sentAt, receivedAt, serverTime, remainingSeconds, remainingMs }) {
    const serverTimeMs = parseServerTime(serverTime);
    if (Number.isNaN(serverTimeMs)) return;
    const roundTrip = Math.max(0, receivedAt - sentAt);
    this.samples.push({ roundTrip, offset: offsetFromRoundTrip({ sentAt, receivedAt, serverTimeMs }) });
    if (this.samples.length > KEEP_SAMPLES) this.samples.shift();
    this.offsetMs = this.samples.reduce((best, sample) => (sample.roundTrip < best.roundTrip ? sample : best)).offset;
    if (remainingMs !== undefined || remainingSeconds !== undefined) {
      const left = typeof remainingMs === "number" ? remainingMs : remainingSeconds;
      if (typeof left !== "number") {
        this.deadlineMs = null;
      } else {
        // The server read its clock about when it computed the remaining time.
        this.deadlineMs = serverTimeMs + (typeof remainingMs === "number" ? remainingMs : remainingSeconds * 1000);
      }
    }
  }

  /** The server's time now, estimated. */
  serverNow() {
    return this.now() + this.offsetMs;
  }

  remainingSeconds() {
    return remainingSecondsAt({ deadlineMs: this.deadlineMs, offsetMs: this.offsetMs, nowMs: this.now() });
  }
}
