// One WebSocket to the hub's /ws/dashboard: reconnects with exponential backoff and full jitter, keeps the
// connection honest with application pings, and tells the page what state it is in.

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 15000;
const PING_EVERY_MS = 15000;
const SILENCE_LIMIT_MS = 40000;

// Close codes the hub documents.
const CLOSE_REASONS = {
  1000: "closed by the hub",
  1001: "the hub is shutting down",
  1008: "the token expired",
  4000: "the hub closed the connection after repeated bad messages",
  4008: "this page was too slow to read (slow consumer)",
};

/** Full jitter: a uniform delay between 0 and min(cap, base · 2^attempt). */
export function backoffDelay(attempt, random = Math.random, baseMs = BACKOFF_BASE_MS, capMs = BACKOFF_CAP_MS) {
  return Math.round(random() * Math.min(capMs, baseMs * 2 ** attempt));
}

/** The /ws/dashboard URL for this page: ws: or wss: as the page's scheme, `token` in the query. */
export function dashboardSocketURL(pageURL, token) {
  const url = new URL("ws/dashboard", pageURL);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.search = "";
  url.hash = "";
  if (token) url.searchParams.set("token", token);
  return url.toString();
}

/**
 * Keeps one WebSocket open. Callbacks:
 *   onOpen()                      a new connection is ready (send subscriptions)
 *   onMessage(object)             each message from the hub (arrays are unpacked)
 *   onState(state, detail)        "connecting" | "live" | "reconnecting" (detail.delayMs, detail.reason)
 *                                 | "auth" (detail.reason) | "error" (detail.reason)
 *   probeAuth() → Promise<{status, message}>  asked when a connection failed before it opened
 */
export class HubConnection {
  constructor({ url, onOpen, onMessage, onState, probeAuth }) {
    this.url = url;
    this.onOpen = onOpen;
    this.onMessage = onMessage;
    this.onState = onState;
    this.probeAuth = probeAuth;
    this.socket = null;
    this.attempt = 0;
    this.nextId = 1;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastHeard = 0;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  /** Reconnects at once, e.g. after a new token was entered or the network came back. */
  reconnectNow() {
    this.stopped = false;
    clearTimeout(this.retryTimer);
    this.abandon();
    this.connect();
  }

  get isOpen() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends `message` with a fresh `id` if it is open; returns the id, or null when not connected. */
  request(message) {
    if (!this.isOpen) return null;
    const id = this.nextId++;
    this.socket.send(JSON.stringify({ ...message, id }));
    return id;
  }

  connect() {
    if (this.stopped) return;
    this.onState("connecting", {});
    let socket;
    try {
      socket = new WebSocket(this.url());
    } catch (error) {
      this.onState("error", { reason: String(error.message || error) });
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.lastHeard = Date.now();
      this.startPinging();
      this.onState("live", {});
      this.onOpen();
    };
    socket.onmessage = (event) => this.received(event.data);
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.stopPinging();
      this.closed(opened, event.code);
    };
  }

  received(data) {
    this.lastHeard = Date.now();
    // A message from the hub proves the connection works: the next drop starts the backoff afresh.
    this.attempt = 0;
    let parsed;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
      if (message && typeof message === "object") this.onMessage(message);
    }
  }

  async closed(opened, code) {
    if (this.stopped) return;
    if (code === 1008) {
      this.stopped = true;
      this.onState("auth", { reason: CLOSE_REASONS[1008] });
      return;
    }
    if (opened) {
      this.scheduleRetry(CLOSE_REASONS[code] || "connection lost");
      return;
    }
    const probe = await this.probeAuth();
    if (this.stopped || this.socket !== null) return;
    if (probe.status === 401) {
      this.stopped = true;
      this.onState("auth", { reason: probe.message });
    } else if (probe.status === 403) {
      this.scheduleRetry(`refused: ${probe.message}`);
    } else {
      this.scheduleRetry(probe.status === 0 ? "the hub cannot be reached" : "the WebSocket could not be opened");
    }
  }

  scheduleRetry(reason) {
    const delayMs = backoffDelay(this.attempt);
    this.attempt += 1;
    this.onState("reconnecting", { delayMs, reason });
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }

  // Browsers cannot see WebSocket pings; an application ping every 15 s and a silence limit catch dead links
  // (a laptop that slept, a proxy that dropped the connection) well before TCP does.
  startPinging() {
    this.stopPinging();
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
        this.abandon();
        this.scheduleRetry("no answer from the hub");
        return;
      }
      this.request({ type: "ping" });
    }, PING_EVERY_MS);
  }

  stopPinging() {
    clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  /** Drops the current socket without waiting for its close handshake. */
  abandon() {
    const socket = this.socket;
    this.socket = null;
    this.stopPinging();
    if (!socket) return;
    socket.onopen = socket.onmessage = socket.onclose = null;
    try {
      socket.close();
    } catch {
      // Closing a socket that never opened can throw; it is being dropped either way.
    }
  }
}
