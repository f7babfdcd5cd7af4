
/** Django's CSRF token (the exam page sets the cookie); the session-authenticated fallback needs it. */
function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

// The page's link to the server (docs/protocol.md): the WebSocket /ws/exam/ (session cookie), with
// reconnection after exponential backoff and jitter, and the HTTP fallback (POST
// /api/v1/answers/sync, GET /api/v1/answers/recover) when the socket cannot be opened a few times
// in a row (networks that block WebSockets). The server answers every client message exactly once
// and in order, so replies are matched to requests first in, first out (and by `seq` where the
// reply carries one); `answer.committed`, `exam.state` and `exam.clock` are unsolicited doorbells.
// A server letting examinees in a few at a time refuses a socket with SYS-005 {retryAfter} and the
// close code 4503 (answers/admission.py): the page waits that long, says so, and counts no failure;
// one that lets the socket wait in line first says so (admission.wait), and the page waits longer
// for its replies.

export const UNSOLICITED = new Set(["answer.committed", "exam.state", "exam.clock"]);
const FALLBACK_AFTER_FAILURES = 3;
const WEBSOCKET_RETRY_IN_FALLBACK_MS = 30000;
const REPLY_TIMEOUT_MS = 10000;
export const BUSY_CODE = "SYS-005";
export const BUSY_CLOSE = 4503;
const BUSY_WAIT_MAX_MS = 120000;

/** The wait a SYS-005 refusal asks for, in ms, with a tenth of jitter either way (the server already
 * spreads the times it hands out, so more jitter would only lengthen the line). */
export function busyDelay(retryAfterSeconds, { random = Math.random } = {}) {
  const seconds = Number(retryAfterSeconds);
  const base = Math.min(BUSY_WAIT_MAX_MS, Math.max(500, (Number.isFinite(seconds) ? seconds : 1) * 1000));
  return base * (0.9 + 0.2 * random());
}

/** Exponential backoff with jitter: half the doubled delay fixed, half random (never zero, never in step). */
export function backoffDelay(attempt, { baseMs = 500, capMs = 30000, random = Math.random } = {}) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return ceiling / 2 + random() * (ceiling / 2);
}

export class ConnectionLost extends Error {}
export class NotAvailable extends Error {}

/**
 * States: "connecting", "open", "fallback" (HTTP only), "offline" (the browser says it has no
 * network), "unauthorized" (the sign-in ended: no reconnecting).
 */
export class Connection {
  constructor({ wsUrl, syncUrl, recoverUrl, onOpen, onUnsolicited, onState, random = Math.random }) {
    this.wsUrl = wsUrl;
    this.syncUrl = syncUrl;
    this.recoverUrl = recoverUrl;
    this.onOpen = onOpen;
    this.onUnsolicited = onUnsolicited;
    this.onState = onState;
    this.socket = null;
    this.pending = [];
    this.failures = 0;
    this.attempt = 0;
    this.timer = null;
    this.state = "connecting";
    this.fallback = false;
    this.random = random;
    // When the server said it is busy: the time (Date.now()) of the next try, else 0.
    this.busyUntil = 0;
    // When the server said this socket waits in line: wait for its replies until then, and longer.
    this.patientUntil = 0;
    window.addEventListener("offline", () => this._goOffline());
    window.addEventListener("online", () => this._comeOnline());
  }

  start() {
    if (navigator.onLine === false) {
      this._setState("offline");
      return;
    }
    this._connect();
  }

  /** True when requests can be sent now (socket open, or HTTP fallback while online). */
  get usable() {
    return this.state === "open" || this.state === "fallback";
  }

  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.onState(state);
  }

  _connect() {
    clearTimeout(this.timer);
    if (this.state === "unauthorized" || navigator.onLine === false) return;
    if (!this.fallback) this._setState("connecting");
    let socket;
    try {
      socket = new WebSocket(this.wsUrl);
    } catch (error) {
      this._socketFailed(false);
      return;
    }
    this.socket = socket;
    this.patientUntil = 0;
    let answered = false;
    let busyRetryAfter = null;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.fallback = false;
      this._setState("open");
      this.onOpen();
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (error) {
        message = null;
      }
      if (message && message.type === "admission.wait") {
        this._bePatient(Number(message.expectedSeconds) || 0);
        return;
      }
      if (message && message.type === "error" && message.code === BUSY_CODE) {
        busyRetryAfter = message.retryAfter; // the close (4503) follows
        return;
      }
      answered = true;
      this.failures = 0;
      this.attempt = 0;
      this.busyUntil = 0;
      if (message) this._dispatch(message);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this._failPending();
      if (event.code === 4401) {
        this._setState("unauthorized");
        return;
      }
      if (event.code === BUSY_CLOSE || busyRetryAfter !== null) {
        this._waitBusy(busyRetryAfter);
        return;
      }
      this._socketFailed(answered);
    };
    socket.onerror = () => {
      // onclose follows and decides.
    };
  }

  _dispatch(message) {
    if (UNSOLICITED.has(message.type)) {
      this.onUnsolicited(message);
      return;
    }
    if (message.type === "error" && message.code === "AUT-002" && this.pending.length === 0) {
      this.onUnsolicited(message);
      return;
    }
    const waiting = this.pending.shift();
    if (!waiting) return;
    clearTimeout(waiting.timer);
    waiting.resolve({ reply: message, sentAt: waiting.sentAt, receivedAt: Date.now() });
  }

  _failPending() {
    const failed = this.pending;
    this.pending = [];
    for (const waiting of failed) {
      clearTimeout(waiting.timer);
      waiting.reject(new ConnectionLost("connection closed"));
    }
  }

  _socketFailed(answered) {
    if (navigator.onLine === false) {
      this._setState("offline");
      return;
    }
    if (!answered) this.failures += 1;
    if (this.failures >= FALLBACK_AFTER_FAILURES) {
      this.fallback = true;
      this._setState("fallback");
      this.timer = setTimeout(() => this._connect(), WEBSOCKET_RETRY_IN_FALLBACK_MS);
      return;
    }
    if (!this.fallback) this._setState("connecting");
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => this._connect(), delay);
  }

  /** The server lets examinees in a few at a time: come back when it said, as no failure (a full
   * server is no reason for the HTTP fallback), and let the page say how long. */
  _waitBusy(retryAfterSeconds) {
    if (navigator.onLine === false) {
      this._setState("offline");
      return;
    }
    const delay = busyDelay(retryAfterSeconds, { random: this.random });
    this.busyUntil = Date.now() + delay;
    this.timer = setTimeout(() => this._connect(), delay);
    if (this.fallback) return;
    if (this.state === "connecting") this.onState(this.state);
    else this._setState("connecting");
  }

  _goOffline() {
    // Browsers keep an open WebSocket through a network change for a long time; "offline" is the
    // fast signal. Nothing is lost: unsent changes stay in the journal.
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    this._failPending();
    if (socket) socket.close(1000, "offline");
    this._setState("offline");
  }

  _comeOnline() {
    if (this.state !== "offline") return;
    this.attempt = 0;
    this.failures = 0;
    this._connect();
  }

  /** Close the socket and connect again (a reply did not come in time: the link is dead). */
  reconnect() {
    const socket = this.socket;
    this.socket = null;
    this._failPending();
    if (socket) socket.close(4000, "no reply");
    this._socketFailed(true);
  }

  /** Send one message; resolves with {reply, sentAt, receivedAt}; rejects with ConnectionLost or NotAvailable. */
  request(message) {
    if (this.state === "fallback") return this._httpRequest(message);
    const socket = this.socket;
    if (this.state !== "open" || !socket || socket.readyState !== WebSocket.OPEN) {
      return Promise.reject(new ConnectionLost("not connected"));
    }
    return new Promise((resolve, reject) => {
      const waiting = { resolve, reject, sentAt: Date.now(), timer: null, socket };
      this._arm(waiting);
      this.pending.push(waiting);
      socket.send(JSON.stringify(message));
    });
  }

  /** A reply not in within REPLY_TIMEOUT_MS (more while the server said we wait in line) means a dead link. */
  _arm(waiting) {
    clearTimeout(waiting.timer);
    const delay = Math.max(REPLY_TIMEOUT_MS, this.patientUntil - Date.now() + REPLY_TIMEOUT_MS);
    waiting.timer = setTimeout(() => {
      if (this.socket === waiting.socket) this.reconnect();
    }, delay);
  }

  /** The server let this socket wait in line for about `seconds` (admission.wait): wait for its replies
   * that much longer (half again, for the estimate), the ones asked and the ones still to ask. */
  _bePatient(seconds) {
    this.patientUntil = Date.now() + Math.min(BUSY_WAIT_MAX_MS, seconds * 1500);
    for (const waiting of this.pending) this._arm(waiting);
  }

  async _httpRequest(message) {
    let response;
    const sentAt = Date.now();
    try {
      if (message.type === "answer.sync") {
        response = await fetch(this.syncUrl, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
          body: JSON.stringify(message),
        });
      } else if (message.type === "recover") {
        response = await fetch(this.recoverUrl, { credentials: "same-origin" });
      } else {
        throw new NotAvailable(message.type);
      }
    } catch (error) {
      if (error instanceof NotAvailable) throw error;
      throw new ConnectionLost(String(error));
    }
    let reply;
    try {
      reply = await response.json();
    } catch (error) {
      throw new ConnectionLost(`HTTP ${response.status}`);
    }
    if (reply && reply.type === "error" && reply.code === "AUT-002") this._setState("unauthorized");
    return { reply, sentAt, receivedAt: Date.now() };
  }
}
