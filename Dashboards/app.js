// TelemetryHub dashboard: loads a layout (default.json or ?layout=NAME), opens one WebSocket to /ws/dashboard,
// subscribes one panel per layout entry (sub "p0", "p1", …) plus an optional custom panel, and keeps the device
// list, the charts, the latest-value table, the alert panel and the command panel live. Protocol: `/ws/dashboard` in docs/protocol.md.

import { HubConnection, dashboardSocketURL } from "./connection.js";
import { ChartPanel, dygraphsAvailable } from "./charts.js";
import { DeviceTable, LatestTable } from "./tables.js";
import { AlertPanel } from "./alerts.js";
import { CommandPanel } from "./commands.js";

const TOKEN_KEY = "telemetryhub.token";
const CUSTOM_SUB = "custom";
const DEFAULT_RATE_MS = 1000;
const DEFAULT_WINDOW_MS = 300000;
const MAX_SELECTORS = 64;

const $ = (id) => document.getElementById(id);

const state = {
  token: null,
  rateMs: DEFAULT_RATE_MS,
  windowMs: DEFAULT_WINDOW_MS,
  // sub name → { sub, series, unit, panel, lastSeq, awaitingSnapshot, matched, rateMs, note, error }
  subs: new Map(),
  // request id → { type, sub } until its ack or error arrives
  pending: new Map(),
  batches: 0,
  coalesced: 0,
  countdown: null,
};

const devices = new DeviceTable({
  body: document.querySelector("#devices tbody"),
  summary: $("devices-summary"),
  more: $("devices-more"),
  filter: $("device-filter"),
  onSelect: (device) => {
    $("selector").value = `${device}/*`;
    showCustom();
  },
});
const latest = new LatestTable({ body: document.querySelector("#latest tbody"), more: $("latest-more") });
const alerts = new AlertPanel({
  section: $("alerts"),
  list: $("alerts-list"),
  empty: $("alerts-empty"),
  summary: $("alerts-summary"),
  error: $("alerts-error"),
  recent: $("alerts-recent"),
  recentSummary: $("alerts-recent-summary"),
  badge: $("alert-count"),
  request: (message) => connection.request(message),
});
const commands = new CommandPanel({
  section: $("commands"),
  summary: $("commands-summary"),
  unavailable: $("commands-unavailable"),
  form: $("command-form"),
  room: $("command-room"),
  allRooms: $("command-all-rooms"),
  name: $("command-name"),
  custom: $("command-custom"),
  customLabel: $("command-custom-label"),
  hint: $("command-hint"),
  args: $("command-args"),
  argsError: $("command-args-error"),
  timeout: $("command-timeout"),
  ttl: $("command-ttl"),
  send: $("command-send"),
  formError: $("command-form-error"),
  readonly: $("commands-readonly"),
  error: $("commands-error"),
  status: $("commands-status"),
  results: $("commands-results"),
  recentBox: $("commands-recent-box"),
  recentSummary: $("commands-recent-summary"),
  recentRefresh: $("commands-recent-refresh"),
  recent: $("commands-recent"),
  recentError: $("commands-recent-error"),
  request: (message) => connection.request(message),
  token: () => state.token,
});
const connection = new HubConnection({
  url: () => dashboardSocketURL(location.href, state.token),
  onOpen: subscribeEverything,
  onMessage: handleMessage,
  onState: showConnectionState,
  probeAuth,
});

// ---- token --------------------------------------------------------------------------------------------------

function readStoredToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function storeToken(token) {
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage can be disabled; the token then lives only as long as this page.
  }
}

/** Moves `?token=` from the address bar into sessionStorage, so it is neither bookmarked nor shared by accident. */
function takeToken() {
  const url = new URL(location.href);
  const fromURL = url.searchParams.get("token");
  if (fromURL) {
    storeToken(fromURL);
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    return fromURL;
  }
  return readStoredToken();
}

/**
 * Asked after a connection failed before opening: is the token the problem? A WebSocket cannot see the HTTP
 * answer to its upgrade, so the same URL is fetched as a plain GET: the hub answers 401/403 as it did to the
 * upgrade (426 when the token is fine).
 */
async function probeAuth() {
  try {
    const url = new URL("ws/dashboard", location.href);
    if (state.token) url.searchParams.set("token", state.token);
    const response = await fetch(url, { cache: "no-store" });
    if (response.status !== 401 && response.status !== 403) return { status: response.status, message: "" };
    const body = await response.json().catch(() => ({}));
    const message = body.error && body.error.message ? body.error.message : response.statusText;
    return { status: response.status, message };
  } catch (error) {
    return { status: 0, message: String(error.message || error) };
  }
}

function askForToken(reason) {
  const form = $("login");
  $("login-error").textContent = state.token ? `The hub refused the token: ${reason}` : "";
  form.hidden = false;
  $("login-token").focus();
}

function submitToken(event) {
  event.preventDefault();
  const token = $("login-token").value.trim();
  if (!token) return;
  state.token = token;
  storeToken(token);
  $("login-token").value = "";
  $("login").hidden = true;
  connection.reconnectNow();
}

// ---- connection state -----------------------------------------------------------------------------------------

// Said once per change by screen readers (the visible text counts down every second).
const ANNOUNCEMENTS = {
  connecting: "Connecting to the hub",
  live: "Connected: data is live",
  reconnecting: "Connection lost, reconnecting",
  auth: "The hub needs a token",
  error: "Connection error",
};

function showConnectionState(kind, detail) {
  const element = $("conn-state");
  clearInterval(state.countdown);
  if (element.dataset.state !== kind) $("conn-announce").textContent = ANNOUNCEMENTS[kind] || kind;
  element.dataset.state = kind;
  element.title = detail.reason || "";
  alerts.setConnected(kind === "live");
  commands.setConnected(kind === "live");
  if (kind === "connecting") element.textContent = "connecting…";
  else if (kind === "live") {
    element.textContent = "live";
    $("login").hidden = true;
  } else if (kind === "auth") {
    element.textContent = "token needed";
    askForToken(detail.reason);
  } else if (kind === "error") element.textContent = `error: ${detail.reason}`;
  else if (kind === "reconnecting") showCountdown(element, Date.now() + detail.delayMs, detail.reason);
}

function showCountdown(element, deadline, reason) {
  const tick = () => {
    const seconds = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    element.textContent = `reconnecting in ${seconds} s (${reason})`;
  };
  tick();
  state.countdown = setInterval(tick, 1000);
}

function showMessage(text) {
  const element = $("messages");
  element.textContent = text;
  element.hidden = !text;
}

// ---- layout and panels ----------------------------------------------------------------------------------------

function layoutName() {
  const name = new URLSearchParams(location.search).get("layout") || "default";
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/.test(name)) throw new Error(`"${name}" is not a layout name`);
  return name;
}

async function loadLayout() {
  const name = layoutName();
  const response = await fetch(`${name}.json`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`layout ${name}.json: HTTP ${response.status}`);
  return normalizeLayout(await response.json());
}

function selectorsOf(value) {
  return (Array.isArray(value) ? value : [])
    .filter((selector) => typeof selector === "string" && selector.trim() !== "")
    .map((selector) => selector.trim())
    .slice(0, MAX_SELECTORS);
}

function normalizeLayout(json) {
  const raw = json && typeof json === "object" ? json : {};
  const panels = (Array.isArray(raw.panels) ? raw.panels : [])
    .filter((panel) => panel && typeof panel === "object")
    .map((panel) => ({ ...panel, series: selectorsOf(panel.series) }))
    .filter((panel) => panel.series.length > 0)
    .map((panel) => ({
      title: typeof panel.title === "string" ? panel.title : panel.series.join(", "),
      series: panel.series,
      unit: typeof panel.unit === "string" ? panel.unit : "",
    }));
  const positive = (value, fallback) => (Number.isInteger(value) && value > 0 ? value : fallback);
  return {
    title: typeof raw.title === "string" ? raw.title : "TelemetryHub",
    rateMs: positive(raw.rate_ms, DEFAULT_RATE_MS),
    windowMs: positive(raw.history_ms, DEFAULT_WINDOW_MS),
    panels,
  };
}

function durationText(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${ms / 1000} s`;
  if (ms < 3600000) return `${Math.round(ms / 60000)} min`;
  return `${Math.round(ms / 3600000)} h`;
}

/** Selects `value` in `select`, adding it as an option first when the layout asks for an unlisted one. */
function selectValue(select, value) {
  if (![...select.options].some((option) => Number(option.value) === value)) {
    select.add(new Option(durationText(value), String(value)));
  }
  select.value = String(value);
}

function applyLayout(layout) {
  document.title = `${layout.title} · TelemetryHub`;
  $("title").textContent = layout.title;
  state.rateMs = layout.rateMs;
  state.windowMs = layout.windowMs;
  selectValue($("rate"), layout.rateMs);
  selectValue($("window"), layout.windowMs);
  layout.panels.forEach((panel, index) => addPanel(`p${index}`, panel.title, panel.series, panel.unit, false));
}

function addPanel(sub, title, series, unit, closable) {
  const panel = new ChartPanel($("panel-template"), {
    sub, title, unit, windowMs: state.windowMs, closable, onClose: () => removePanel(sub),
  });
  const entry = {
    sub, series, unit, panel, lastSeq: null, awaitingSnapshot: true, matched: null, rateMs: null, note: "", error: "",
  };
  state.subs.set(sub, entry);
  if (closable) $("panels").prepend(panel.element);
  else $("panels").append(panel.element);
  showPanelInfo(entry);
  return entry;
}

function removePanel(sub) {
  const entry = state.subs.get(sub);
  if (!entry) return;
  send({ type: "unsubscribe", sub }, sub);
  state.subs.delete(sub);
  latest.forgetSub(sub);
  entry.panel.destroy();
}

/** The selector box: comma-separated selectors shown in the custom panel (replacing it). */
function showCustom(event) {
  if (event) event.preventDefault();
  const selectors = selectorsOf($("selector").value.split(","));
  if (state.subs.has(CUSTOM_SUB)) removePanel(CUSTOM_SUB);
  if (selectors.length === 0) return;
  const entry = addPanel(CUSTOM_SUB, selectors.join(", "), selectors, "", true);
  subscribe(entry);
  entry.panel.element.scrollIntoView({ block: "nearest", behavior: "smooth" });
}

function showPanelInfo(entry) {
  const parts = [];
  if (entry.matched !== null) parts.push(`${entry.matched} series`);
  if (entry.rateMs !== null) parts.push(`every ${durationText(entry.rateMs)}`);
  if (entry.lastSeq !== null) parts.push(`seq ${entry.lastSeq}`);
  if (entry.note) parts.push(entry.note);
  if (entry.error) parts.push(entry.error);
  entry.panel.setInfo(parts.join(" · "), Boolean(entry.error));
  const element = entry.panel.element;
  if (entry.rateMs !== null) element.dataset.rateMs = String(entry.rateMs);
  if (entry.lastSeq !== null) element.dataset.seq = String(entry.lastSeq);
}

// ---- requests -------------------------------------------------------------------------------------------------

function send(message, sub) {
  const id = connection.request(message);
  if (id !== null) state.pending.set(id, { type: message.type, sub });
}

function subscribe(entry) {
  entry.note = "";
  entry.lastSeq = null;
  entry.awaitingSnapshot = true;
  send({
    type: "subscribe", sub: entry.sub, series: entry.series, rate_ms: state.rateMs, history_ms: state.windowMs,
  }, entry.sub);
}

/** After a reconnect: ask for what was missed since the last batch (or subscribe afresh if none arrived). */
function resume(entry) {
  if (entry.lastSeq === null) {
    subscribe(entry);
    return;
  }
  entry.awaitingSnapshot = false;
  send({
    type: "resume", sub: entry.sub, series: entry.series, rate_ms: state.rateMs, history_ms: state.windowMs,
    after_seq: entry.lastSeq,
  }, entry.sub);
}

function subscribeEverything() {
  state.pending.clear();
  send({ type: "subscribe_devices" }, null);
  for (const entry of state.subs.values()) resume(entry);
  alerts.subscribe();
  commands.reconnected();
}

function changeRate() {
  state.rateMs = Number($("rate").value);
  for (const entry of state.subs.values()) send({ type: "set_rate", sub: entry.sub, rate_ms: state.rateMs }, entry.sub);
}

function changeWindow() {
  const previous = state.windowMs;
  state.windowMs = Number($("window").value);
  for (const entry of state.subs.values()) {
    entry.panel.setWindow(state.windowMs);
    // A longer window needs the older points: a new subscription brings them in its snapshot.
    if (state.windowMs > previous) subscribe(entry);
  }
}

// ---- messages from the hub ------------------------------------------------------------------------------------

function handleMessage(message) {
  switch (message.type) {
    case "batch": return onBatch(message);
    case "snapshot": return onSnapshot(message);
    case "ack": return onAck(message);
    case "devices": return onDevices(message);
    case "device":
      commands.presenceChanged();
      return devices.update(message);
    case "alert": return alerts.handle(message);
    case "error": return onError(message);
    default: return undefined;
  }
}

function onAck(message) {
  if (alerts.reply(message) || commands.reply(message)) return;
  state.pending.delete(message.id);
  const entry = state.subs.get(message.sub);
  if (!entry) return;
  entry.error = "";
  if (typeof message.series === "number") entry.matched = message.series;
  if (typeof message.rate_ms === "number") entry.rateMs = message.rate_ms;
  if (message.recovered === true) entry.note = "resumed";
  if (message.recovered === false) {
    // The hub no longer holds what was missed: a fresh snapshot follows and replaces this panel's data.
    entry.note = "resynced";
    entry.awaitingSnapshot = true;
  }
  showPanelInfo(entry);
}

function onDevices(message) {
  state.pending.delete(message.id);
  devices.replaceAll(Array.isArray(message.devices) ? message.devices : []);
  commands.presenceChanged();
}

function onSnapshot(message) {
  const entry = state.subs.get(message.sub);
  if (!entry) return;
  entry.awaitingSnapshot = false;
  const series = message.series && typeof message.series === "object" ? message.series : {};
  entry.panel.replace(series);
  latest.forgetSub(entry.sub);
  for (const [key, points] of Object.entries(series)) {
    const last = Array.isArray(points) ? points[points.length - 1] : null;
    if (last) latest.set(key, last[0], last[1], entry.unit, entry.sub);
  }
}

function onBatch(message) {
  const entry = state.subs.get(message.sub);
  // Batches of a subscription that is being replaced are stale until its new snapshot arrives.
  if (!entry || entry.awaitingSnapshot) return;
  entry.lastSeq = message.seq;
  state.batches += 1;
  state.coalesced += Number(message.coalesced) || 0;
  for (const sample of Array.isArray(message.samples) ? message.samples : []) {
    const [key, ts, value] = sample;
    entry.panel.add(key, ts, value);
    latest.set(key, ts, value, entry.unit, entry.sub);
  }
  entry.panel.changed();
  showPanelInfo(entry);
  $("batches").textContent = `batches: ${state.batches}`;
  $("coalesced").textContent = `coalesced: ${state.coalesced}`;
}

function onError(message) {
  if (alerts.reply(message) || commands.reply(message)) return;
  const request = state.pending.get(message.id);
  state.pending.delete(message.id);
  const text = `${message.code}: ${message.message}`;
  const entry = request && request.sub ? state.subs.get(request.sub) : null;
  if (entry && request.type === "resume") {
    // The hub could not resume this subscription: start it afresh.
    subscribe(entry);
  } else if (entry) {
    entry.error = text;
    showPanelInfo(entry);
  } else {
    showMessage(text);
  }
}

// ---- start ----------------------------------------------------------------------------------------------------

async function main() {
  state.token = takeToken();
  $("vendor-missing").hidden = dygraphsAvailable();
  document.body.classList.toggle("no-charts", !dygraphsAvailable());
  $("login").addEventListener("submit", submitToken);
  $("controls").addEventListener("submit", showCustom);
  $("rate").addEventListener("change", changeRate);
  $("window").addEventListener("change", changeWindow);
  window.addEventListener("online", () => {
    if (!connection.isOpen) connection.reconnectNow();
  });
  try {
    applyLayout(await loadLayout());
  } catch (error) {
    showMessage(`${error.message}. Charts show what you enter in the Series box.`);
  }
  commands.start();
  connection.start();
}

main();
