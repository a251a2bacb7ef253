// The alert panel: the active alerts (pending, firing, nodata) from `subscribe_alerts` on the dashboard WebSocket,
// a short list of recent alert events, an Ack button per unacked alert and the "N firing" badge in the header.
// Protocol: `alert` messages in docs/protocol.md (event `current` first, then `transition`, `ack`, `silence`,
// `unsilence`; every message carries the whole alert).

import { formatNumber } from "./charts.js";
import { formatTime, throttled } from "./tables.js";

const TICK_EVERY_MS = 1000;
const RECENT_LIMIT = 50;
const COMMENT_MAX = 500;

/** States that keep an alert in the active list; `resolved` and `ok` end its episode. */
const ACTIVE_STATES = new Set(["pending", "firing", "nodata"]);
const STATE_ORDER = { firing: 0, nodata: 1, pending: 2 };
const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 };
const STATE_TEXT = { nodata: "no data" };

function severityOf(alert) {
  return Object.hasOwn(SEVERITY_ORDER, alert.severity) ? alert.severity : "warning";
}

function stateText(state) {
  return STATE_TEXT[state] || String(state || "unknown");
}

/** When the alert entered its state (hub clock, ms). */
function sinceOf(alert) {
  for (const value of [alert.since, alert.started, alert.ts]) {
    if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  }
  return 0;
}

/** Firing first, then no data, then pending; within that the worst severity, then the newest. */
function compareAlerts(a, b) {
  return (STATE_ORDER[a.state] ?? 3) - (STATE_ORDER[b.state] ?? 3)
    || SEVERITY_ORDER[severityOf(a)] - SEVERITY_ORDER[severityOf(b)]
    || sinceOf(b) - sinceOf(a)
    || String(a.alert).localeCompare(String(b.alert));
}

/** A duration for people: 42 s, 3 min, 2 h 5 min, 3 d 4 h. */
export function elapsedText(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** "31.2 > 30", "31.2", "> 30" or "" as far as the alert carries value, op and threshold. */
export function conditionText(alert) {
  const value = typeof alert.value === "number" ? formatNumber(alert.value) : "";
  const threshold = typeof alert.threshold === "number" ? formatNumber(alert.threshold) : "";
  const op = typeof alert.op === "string" ? alert.op : "";
  const limit = op && threshold ? `${op} ${threshold}` : threshold;
  if (value && limit) return `${value} ${limit}`;
  if (alert.state === "nodata") return limit ? `no data (${limit})` : "no data";
  return value || limit;
}

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

function severityBadge(severity) {
  return span(`sev sev-${severity}`, severity);
}

function stateBadge(state) {
  return span(`alert-state alert-state-${state}`, stateText(state));
}

/**
 * Elements (all required): section, list, empty, summary, error, recent, recentSummary, badge.
 * request(message) → id or null: sends on the dashboard connection (null when it is not open).
 */
export class AlertPanel {
  constructor({ section, list, empty, summary, error, recent, recentSummary, badge, request }) {
    Object.assign(this, { section, list, empty, summary, error, recent, recentSummary, badge, request });
    // alert id → the latest alert message for every active alert
    this.active = new Map();
    // alert id → { element, content, button, form, input, send, alert } of the list items shown
    this.items = new Map();
    // alert id → comment typed into an open ack form when the list was rebuilt (reconnect)
    this.drafts = new Map();
    // request id → { type, alert } until its ack or error arrives
    this.requests = new Map();
    // newest first, at most RECENT_LIMIT
    this.events = [];
    this.eventsChanged = false;
    this.available = null;
    this.scheduleRender = throttled(() => this.render());
    this.ticker = setInterval(() => this.tick(), TICK_EVERY_MS);
    this.showAvailability();
  }

  // ---- connection -------------------------------------------------------------------------------------------

  /** On every (re)connect: forget the active list and ask for it again (the hub replays it as `current`). */
  subscribe() {
    for (const [id, item] of this.items) {
      if (!item.form.hidden) this.drafts.set(id, item.input.value);
    }
    this.active.clear();
    this.requests.clear();
    for (const item of this.items.values()) item.element.remove();
    this.items.clear();
    const id = this.request({ type: "subscribe_alerts" });
    if (id !== null) this.requests.set(id, { type: "subscribe_alerts" });
    this.section.dataset.loading = "true";
    this.scheduleRender();
  }

  /** Shows the list as stale while the connection is down. */
  setConnected(connected) {
    this.section.dataset.live = String(connected);
  }

  // ---- messages from the hub ------------------------------------------------------------------------------------

  /** An `alert` message. */
  handle(alert) {
    if (!alert || typeof alert.alert !== "string" || alert.alert === "") return;
    if (ACTIVE_STATES.has(alert.state)) {
      this.active.set(alert.alert, alert);
    } else {
      this.active.delete(alert.alert);
      this.drafts.delete(alert.alert);
    }
    if (alert.event !== "current") this.record(alert);
    this.scheduleRender();
  }

  /** An `ack` or `error` answering one of this panel's requests: handled (true) or not ours (false). */
  reply(message) {
    const request = this.requests.get(message.id);
    if (!request) return false;
    this.requests.delete(message.id);
    const failed = message.type === "error";
    if (request.type === "subscribe_alerts") {
      delete this.section.dataset.loading;
      if (!failed) this.available = true;
      else if (message.code === "unknown_type") this.available = false;
      else this.showError(`Alerts: ${message.code}: ${message.message}`);
      this.showAvailability();
      this.scheduleRender();
    } else if (request.type === "ack_alert") {
      this.acked(request.alert, failed ? message : null);
    }
    return true;
  }

  // ---- acks -------------------------------------------------------------------------------------------------------

  sendAck(id) {
    const item = this.items.get(id);
    if (!item) return;
    const comment = item.input.value.trim().slice(0, COMMENT_MAX);
    const message = { type: "ack_alert", alert: id };
    if (comment) message.comment = comment;
    const requestId = this.request(message);
    if (requestId === null) {
      this.showError(`Could not ack ${this.describe(id)}: not connected to the hub.`);
      return;
    }
    this.showError("");
    this.requests.set(requestId, { type: "ack_alert", alert: id });
    item.sending = true;
    item.element.dataset.ackPending = "true";
    this.updateActions(item);
  }

  /** The hub answered an ack_alert: `error` is the error message, or null when it worked. */
  acked(id, error) {
    const item = this.items.get(id);
    if (item) {
      item.sending = false;
      delete item.element.dataset.ackPending;
    }
    if (error) {
      this.showError(`Could not ack ${this.describe(id)}: ${error.code}: ${error.message}`);
      if (item) {
        this.updateActions(item);
        item.input.focus();
      }
      return;
    }
    // The `alert` event with "acked":true follows (or came first) and shows who acked it.
    if (item) {
      const hadFocus = item.element.contains(document.activeElement);
      item.ackSent = true;
      item.form.hidden = true;
      item.input.value = "";
      this.drafts.delete(id);
      this.updateActions(item);
      if (hadFocus) item.element.focus({ preventScroll: true });
    }
  }

  describe(id) {
    const alert = this.active.get(id);
    return alert && alert.series ? `${id} (${alert.series})` : id;
  }

  openAckForm(item) {
    item.form.hidden = false;
    this.updateActions(item);
    item.input.focus();
  }

  closeAckForm(item) {
    item.form.hidden = true;
    item.input.value = "";
    this.drafts.delete(item.id);
    this.updateActions(item);
    if (!item.button.hidden) item.button.focus();
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  // ---- recent events ------------------------------------------------------------------------------------------

  record(alert) {
    this.events.unshift(alert);
    if (this.events.length > RECENT_LIMIT) this.events.length = RECENT_LIMIT;
    this.eventsChanged = true;
  }

  renderEvents() {
    this.eventsChanged = false;
    this.recentSummary.textContent = `Recent events (${this.events.length})`;
    this.recent.replaceChildren(...this.events.map((alert) => this.eventLine(alert)));
  }

  eventLine(alert) {
    const line = document.createElement("li");
    const severity = severityOf(alert);
    line.className = `alert-event sev-line-${severity}`;
    line.dataset.alert = alert.alert;
    line.dataset.event = String(alert.event || "");
    line.dataset.state = String(alert.state || "");
    line.dataset.rule = String(alert.rule || "");
    line.dataset.series = String(alert.series || "");
    const time = document.createElement("time");
    time.className = "alert-event-time";
    if (typeof alert.ts === "number") {
      time.dateTime = new Date(alert.ts).toISOString();
      time.textContent = formatTime(alert.ts);
    }
    const parts = [time, severityBadge(severity), stateBadge(alert.state), span("alert-series", alert.series || "")];
    const condition = conditionText(alert);
    if (condition) parts.push(span("alert-value", condition));
    parts.push(span("alert-rule-name", alert.name || alert.rule || ""));
    const note = this.eventNote(alert);
    if (note) parts.push(span("alert-event-note muted", note));
    line.append(...parts);
    return line;
  }

  eventNote(alert) {
    if (alert.event === "ack") return alert.acked_by ? `acked by ${alert.acked_by}` : "acked";
    if (alert.event === "silence") return "silenced";
    if (alert.event === "unsilence") return "silence ended";
    if (alert.reason === "rule_deleted") return "rule deleted";
    if (alert.reason === "rule_changed") return "rule changed";
    return "";
  }

  // ---- the active list ------------------------------------------------------------------------------------------

  render() {
    const sorted = [...this.active.values()].sort(compareAlerts);
    const shown = new Set(sorted.map((alert) => alert.alert));
    for (const [id, item] of this.items) {
      if (!shown.has(id)) {
        item.element.remove();
        this.items.delete(id);
      }
    }
    const focused = this.list.contains(document.activeElement) ? document.activeElement : null;
    sorted.forEach((alert, index) => {
      let item = this.items.get(alert.alert);
      if (!item) {
        item = this.createItem(alert.alert);
        this.items.set(alert.alert, item);
      }
      if (item.alert !== alert) this.fill(item, alert);
      // Moves only what is out of place, so an open ack form keeps its place (and focus) when nothing changed.
      const at = this.list.children[index];
      if (at !== item.element) this.list.insertBefore(item.element, at || null);
    });
    if (focused && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
    this.empty.hidden = sorted.length > 0 || this.available !== true;
    this.showCounts(sorted);
    if (this.eventsChanged) this.renderEvents();
  }

  createItem(id) {
    const element = document.createElement("li");
    element.className = "alert";
    element.dataset.alert = id;
    element.tabIndex = -1;
    const content = document.createElement("div");
    content.className = "alert-content";

    const actions = document.createElement("div");
    actions.className = "alert-actions";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "alert-ack";
    button.textContent = "Ack";

    const form = document.createElement("form");
    form.className = "alert-ack-form";
    form.hidden = true;
    form.id = `ack-form-${id.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    button.setAttribute("aria-controls", form.id);
    const label = document.createElement("label");
    label.textContent = "Comment (optional)";
    const input = document.createElement("input");
    input.type = "text";
    input.className = "alert-ack-comment";
    input.maxLength = COMMENT_MAX;
    input.autocomplete = "off";
    input.placeholder = "on it";
    label.append(input);
    const send = document.createElement("button");
    send.type = "submit";
    send.className = "alert-ack-send";
    send.textContent = "Send ack";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "alert-ack-cancel secondary";
    cancel.textContent = "Cancel";
    form.append(label, send, cancel);
    actions.append(button, form);
    element.append(content, actions);

    const item = {
      id, element, content, button, form, input, send, cancel, alert: null, sending: false, ackSent: false,
    };
    button.addEventListener("click", () => this.openAckForm(item));
    cancel.addEventListener("click", () => this.closeAckForm(item));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!item.sending) this.sendAck(id);
    });
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.closeAckForm(item);
      }
    });
    if (this.drafts.has(id)) {
      input.value = this.drafts.get(id);
      this.drafts.delete(id);
      form.hidden = false;
    }
    return item;
  }

  fill(item, alert) {
    item.alert = alert;
    const { element } = item;
    const severity = severityOf(alert);
    const name = alert.name || alert.rule || "";
    element.className = `alert sev-line-${severity}`;
    element.dataset.state = String(alert.state);
    element.dataset.severity = severity;
    element.dataset.rule = String(alert.rule || "");
    element.dataset.series = String(alert.series || "");
    element.dataset.acked = String(alert.acked === true);
    element.dataset.silenced = String(alert.silenced === true);

    const head = document.createElement("div");
    head.className = "alert-head";
    head.append(severityBadge(severity), stateBadge(alert.state), span("alert-series", alert.series || ""));
    const condition = conditionText(alert);
    if (condition) head.append(span("alert-value", condition));

    const rule = document.createElement("div");
    rule.className = "alert-rule";
    rule.append(span("alert-rule-name", name));
    if (alert.rule && alert.rule !== name) rule.append(" ", span("alert-rule-id muted", `(${alert.rule})`));
    const labels = alert.labels && typeof alert.labels === "object" ? Object.entries(alert.labels) : [];
    if (labels.length) rule.title = labels.map(([key, value]) => `${key}=${value}`).join(", ");

    const parts = [head, rule];
    if (alert.description) {
      const description = document.createElement("p");
      description.className = "alert-description";
      description.textContent = alert.description;
      parts.push(description);
    }

    const meta = document.createElement("div");
    meta.className = "alert-meta";
    const since = sinceOf(alert);
    const sinceElement = document.createElement("time");
    sinceElement.className = "alert-since";
    if (since) {
      sinceElement.dateTime = new Date(since).toISOString();
      sinceElement.title = `${stateText(alert.state)} since ${new Date(since).toLocaleString()}`;
    }
    // The ticking duration is for eyes; screen readers get the time it started (the list is a live region).
    const ticking = span("alert-elapsed", "");
    ticking.setAttribute("aria-hidden", "true");
    sinceElement.append(ticking, span("visually-hidden", since ? `since ${formatTime(since)}` : ""));
    meta.append(sinceElement);
    if (alert.acked === true) {
      const who = alert.acked_by ? `acked by ${alert.acked_by}` : "acked";
      const acked = span("alert-acked", alert.ack_comment ? `${who}: “${alert.ack_comment}”` : who);
      if (typeof alert.acked_at === "number") acked.title = `at ${new Date(alert.acked_at).toLocaleString()}`;
      meta.append(acked);
    }
    if (alert.silenced === true) {
      const silenced = span("alert-silenced", "silenced");
      if (alert.silence) silenced.title = `silence ${alert.silence}`;
      meta.append(silenced);
    }
    parts.push(meta);
    item.content.replaceChildren(...parts);
    this.updateElapsed(item);

    item.button.setAttribute("aria-label", `Acknowledge ${alert.series || item.id}${name ? ` (${name})` : ""}`);
    if (alert.acked === true) {
      item.form.hidden = true;
      item.sending = false;
      delete element.dataset.ackPending;
    }
    this.updateActions(item);
  }

  updateActions(item) {
    const acked = item.ackSent || (item.alert !== null && item.alert.acked === true);
    item.element.dataset.ackSent = String(item.ackSent);
    item.button.hidden = acked || !item.form.hidden;
    item.button.setAttribute("aria-expanded", String(!item.form.hidden));
    item.input.disabled = item.sending;
    item.send.disabled = item.sending;
    item.send.textContent = item.sending ? "Sending…" : "Send ack";
  }

  updateElapsed(item) {
    const since = item.alert ? sinceOf(item.alert) : 0;
    const ticking = item.content.querySelector(".alert-elapsed");
    if (!ticking) return;
    const text = since ? `${stateText(item.alert.state)} for ${elapsedText(Date.now() - since)}` : "";
    if (ticking.textContent !== text) ticking.textContent = text;
  }

  tick() {
    for (const item of this.items.values()) this.updateElapsed(item);
  }

  // ---- counts -----------------------------------------------------------------------------------------------------

  showCounts(sorted) {
    const count = (state) => sorted.filter((alert) => alert.state === state).length;
    const firing = count("firing");
    const pending = count("pending");
    const nodata = count("nodata");
    const worst = sorted.find((alert) => alert.state === "firing");
    const breakdown = [`${firing} firing`, `${pending} pending`, `${nodata} no data`].join(", ");

    this.badge.hidden = this.available !== true;
    this.badge.textContent = `${firing} firing`;
    this.badge.dataset.count = String(firing);
    this.badge.dataset.level = worst ? severityOf(worst) : "none";
    this.badge.title = `Active alerts: ${breakdown}`;
    this.badge.setAttribute("aria-label", `Alerts: ${breakdown}`);

    if (this.available === false) this.summary.textContent = "";
    else if (this.section.dataset.loading === "true") this.summary.textContent = "loading…";
    else {
      const parts = [[firing, "firing"], [pending, "pending"], [nodata, "no data"]].filter(([n]) => n > 0);
      this.summary.textContent = parts.map(([n, text]) => `${n} ${text}`).join(", ");
    }
  }

  showAvailability() {
    const unavailable = this.available === false;
    this.section.dataset.available = this.available === null ? "unknown" : String(this.available);
    const note = this.section.querySelector("[data-role='unavailable']");
    if (note) note.hidden = !unavailable;
    this.badge.hidden = this.available !== true;
  }
}
