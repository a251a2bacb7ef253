// The command panel: pick a room (from GET /api/rooms, with member and online counts), a command its members
// accept, arguments, timeout and TTL; Send posts a `command` on the dashboard WebSocket and the hub's `ack` (once
// every member answered or the timeout passed) shows as a summary and a per-device results table. Below that, the
// hub's recent commands (GET /api/commands?limit=10). Errors (forbidden, rate_limited, not_found, …) show in the
// panel; after `forbidden` the page knows its token cannot send and disables Send until the token changes.

import { naturalCompare } from "./charts.js";
import { formatTime } from "./tables.js";

const ROOMS_EVERY_MS = 10000;
const PRESENCE_REFRESH_MS = 2000;
const HISTORY_LIMIT = 5;
const RECENT_LIMIT = 10;
const RESULT_TEXT_MAX = 160;
// How long past its timeout an answer may take before the entry says so (the hub answers at the timeout).
const ANSWER_GRACE_MS = 15000;
const DEFAULT_TIMEOUT_MS = 5000;
const MAX_TIMEOUT_S = 3600;
const NAME_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
// The "other…" choice of the command select (no command name can be "*").
const OTHER = "*";

/** Statuses in the order summaries show them; others the hub may add come after, alphabetically. */
const STATUS_ORDER = ["ok", "error", "timeout", "offline", "expired", "queued", "pending"];
const ORIGIN_GROUPS = [["declared", "Rooms"], ["kind", "Device kinds"], ["device", "Single devices"]];

/** Runs `run` once, `delayMs` after the first of any number of calls. */
function coalesced(run, delayMs) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      run();
    }, delayMs);
  };
}

/** "accepted by all 6 members", "… by both members", "… by its member" or "accepted by 4 of 6 members". */
function acceptedText(accepting, members) {
  if (accepting < members) return `accepted by ${accepting} of ${plural(members, "member")}`;
  if (members === 1) return "accepted by its member";
  if (members === 2) return "accepted by both members";
  return `accepted by all ${members} members`;
}

/** A room for a URL path: `:` stays readable (it is allowed in a path segment), `*` and the rest are encoded. */
export function roomPath(room) {
  return encodeURIComponent(room).replace(/%3A/gi, ":").replace(/\*/g, "%2A");
}

function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

/** The first non-finite number in a parsed JSON value (1e999 parses as Infinity), as a path; "" when none. */
function nonFinite(value, path) {
  if (typeof value === "number") return Number.isFinite(value) ? "" : path;
  if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) {
      const found = nonFinite(inner, Array.isArray(value) ? `${path}[${key}]` : `${path}.${key}`);
      if (found) return found;
    }
  }
  return "";
}

/** A `key=value` value: numbers, true/false/null and quoted or bracketed JSON are JSON; anything else is text. */
function argValue(key, raw) {
  if (raw === "") return { value: "" };
  const looksJSON = /^["[{]/.test(raw);
  try {
    const value = JSON.parse(raw);
    if (looksJSON || value === null || typeof value === "number" || typeof value === "boolean") {
      if (nonFinite(value, key)) return { error: `${key}: ${raw} is not a finite number` };
      return { value };
    }
  } catch (error) {
    if (looksJSON) return { error: `${key}: not valid JSON (${error.message})` };
  }
  return { value: raw };
}

/**
 * The arguments field: empty, a JSON object (`{"value": 21}`) or `key=value` entries, one per line or separated
 * by commas (`value=21, mode=eco`). Returns `{ args }` or `{ error }` (a sentence for the inline message).
 */
export function parseArgs(text) {
  const trimmed = String(text || "").trim();
  if (trimmed === "") return { args: {} };
  if (/^[[{]/.test(trimmed)) {
    let value;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      return { error: `Not valid JSON: ${error.message}` };
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      return { error: "The arguments must be a JSON object, such as {\"value\": 21}" };
    }
    const bad = nonFinite(value, "arguments");
    if (bad) return { error: `${bad} is not a finite number` };
    return { args: value };
  }
  const args = {};
  // A comma starts a new entry only when `key=` follows it, so `list=[1,2]` and `text=a, b` stay whole.
  for (const entry of trimmed.split(/\n|,(?=\s*[A-Za-z0-9._:-]+\s*=)/)) {
    const line = entry.trim();
    if (line === "") continue;
    const equals = line.indexOf("=");
    if (equals <= 0) {
      return { error: `"${line}" is not key=value (or write a JSON object, such as {"value": 21})` };
    }
    const key = line.slice(0, equals).trim();
    if (!key || /\s/.test(key)) return { error: `"${key}" is not an argument name` };
    if (Object.hasOwn(args, key)) return { error: `${key} is given twice` };
    const parsed = argValue(key, line.slice(equals + 1).trim());
    if (parsed.error) return { error: parsed.error };
    args[key] = parsed.value;
  }
  return { args };
}

/** Arguments for people: `value=21, mode="eco"` style, compact JSON per value. */
export function argsText(args) {
  if (!args || typeof args !== "object") return "";
  return Object.entries(args).map(([key, value]) => `${key}=${JSON.stringify(value)}`).join(", ");
}

/** Seconds typed by the user → whole milliseconds; null when empty, NaN when not a number in range. */
function milliseconds(text, { min, max }) {
  const trimmed = String(text || "").trim();
  if (trimmed === "") return null;
  const seconds = Number(trimmed);
  if (!Number.isFinite(seconds)) return NaN;
  const ms = Math.round(seconds * 1000);
  return ms >= min && ms <= max ? ms : NaN;
}

function statusRank(status) {
  const index = STATUS_ORDER.indexOf(status);
  return index < 0 ? STATUS_ORDER.length : index;
}

/** [[status, count], …] in display order, from an ack's `summary` or else counted from its `results`. */
export function summaryCounts(record) {
  let counts = record && record.summary && typeof record.summary === "object" ? { ...record.summary } : null;
  if (!counts) {
    counts = {};
    for (const result of Array.isArray(record && record.results) ? record.results : []) {
      counts[result.status] = (counts[result.status] || 0) + 1;
    }
  }
  return Object.entries(counts)
    .filter(([, count]) => typeof count === "number" && count > 0)
    .sort(([a], [b]) => statusRank(a) - statusRank(b) || a.localeCompare(b));
}

function summaryText(record) {
  const counts = summaryCounts(record);
  return counts.length ? counts.map(([status, count]) => `${count} ${status}`).join(", ") : "no devices";
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function statusBadge(status) {
  const badge = element("span", `cmd-status cmd-status-${/^[a-z_]+$/.test(status) ? status : "other"}`, status);
  return badge;
}

function summaryLine(record) {
  const line = element("p", "command-summary");
  const counts = summaryCounts(record);
  if (!counts.length) line.append(element("span", "muted", "no devices answered"));
  counts.forEach(([status, count], index) => {
    if (index > 0) line.append(element("span", "visually-hidden", ", "));
    const chip = statusBadge(status);
    chip.textContent = `${count} ${status}`;
    chip.classList.add("cmd-count");
    chip.dataset.status = status;
    chip.dataset.count = String(count);
    line.append(chip);
  });
  return line;
}

function timeElement(ms, className) {
  const time = element("time", className);
  if (typeof ms === "number" && Number.isFinite(ms) && ms > 0) {
    time.dateTime = new Date(ms).toISOString();
    time.textContent = formatTime(ms);
    time.title = new Date(ms).toLocaleString();
  }
  return time;
}

function resultText(result) {
  if (result.status === "ok" || result.result !== undefined) {
    if (result.result === undefined || result.result === null) return result.error ? String(result.error) : "";
    return typeof result.result === "string" ? result.result : JSON.stringify(result.result);
  }
  return result.error ? String(result.error) : "";
}

function httpError(status, body, fallback) {
  const info = body && body.error && typeof body.error === "object" ? body.error : {};
  const error = new Error(info.message || fallback || `HTTP ${status}`);
  error.status = status;
  error.code = info.code || (status === 404 ? "not_found" : `http_${status}`);
  return error;
}

/**
 * Elements (all required): section, summary, unavailable, form, room, allRooms, name, custom, customLabel, hint,
 * args, argsError, timeout, ttl, send, formError, readonly, error, status, results, recentBox, recentSummary,
 * recentRefresh, recent, recentError.
 * request(message) → id or null: sends on the dashboard connection (null when it is not open).
 * token() → the page's token (null without one), sent as `Authorization: Bearer` on the HTTP calls.
 */
export class CommandPanel {
  constructor(options) {
    Object.assign(this, options);
    // room name → { room, members, online, commands, origin } from the last GET /api/rooms
    this.rooms = new Map();
    this.roomsLoaded = false;
    this.available = null;
    this.roomsInFlight = false;
    this.roomsAgain = false;
    // the members' command specs of the selected room (GET /api/rooms/{room}), for hints
    this.detail = null;
    this.detailSeq = 0;
    // request id → entry while its ack is awaited
    this.requests = new Map();
    // newest first, at most HISTORY_LIMIT: { key, requestId, state, room, name, args, members, sentAt, record, … }
    this.entries = [];
    this.nextKey = 1;
    // the token that got `forbidden` for a command (Send stays disabled while the page uses it)
    this.forbiddenToken = undefined;
    this.connected = false;
    this.roomOptionsBuilt = false;
    this.argsPlaceholder = this.args.placeholder;
    this.schedulePresenceRefresh = coalesced(() => this.refreshRooms(), PRESENCE_REFRESH_MS);
    this.listen();
    this.showAvailability();
    this.updateCommandField();
    this.updateSend();
  }

  listen() {
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendCommand();
    });
    this.room.addEventListener("change", () => this.roomChanged());
    this.allRooms.addEventListener("change", () => this.refreshRooms());
    this.name.addEventListener("change", () => this.updateCommandField());
    this.custom.addEventListener("input", () => this.showFormError(""));
    this.args.addEventListener("input", () => this.checkArgs());
    this.args.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        this.form.requestSubmit();
      }
    });
    for (const field of [this.timeout, this.ttl]) field.addEventListener("input", () => this.showFormError(""));
    this.recentRefresh.addEventListener("click", () => this.refreshRecent());
    this.recentBox.addEventListener("toggle", () => {
      if (this.recentBox.open) this.refreshRecent();
    });
    this.results.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button && this.results.contains(button)) this.entryAction(button);
    });
    this.recent.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action='show']");
      if (button && this.recent.contains(button)) this.showCommand(button.dataset.command);
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.refreshRooms();
    });
  }

  // ---- lifecycle ----------------------------------------------------------------------------------------------

  /** Once the page knows its token: loads the rooms and keeps them fresh. */
  start() {
    this.refreshRooms();
    this.roomTimer = setInterval(() => {
      if (!document.hidden) this.refreshRooms();
    }, ROOMS_EVERY_MS);
  }

  /** On every (re)connect: commands awaiting an answer on the old connection will not get one there. */
  reconnected() {
    for (const [id, entry] of this.requests) {
      this.requests.delete(id);
      if (entry.state === "sending") {
        entry.state = "lost";
        entry.note = "The connection dropped before the hub answered; the command may still have run. "
          + "Recent commands shows what the hub recorded.";
      }
    }
    this.renderEntries();
    this.updateSend();
    if (this.available === false) this.available = null;
    this.refreshRooms();
  }

  setConnected(connected) {
    this.connected = connected;
    this.section.dataset.live = String(connected);
  }

  /** A presence change (or the device list): member and online counts may have changed. */
  presenceChanged() {
    if (this.available !== false) this.schedulePresenceRefresh();
  }

  // ---- HTTP ---------------------------------------------------------------------------------------------------

  async getJSON(path) {
    const headers = { Accept: "application/json" };
    const token = this.token();
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await fetch(new URL(path, location.href), { headers, cache: "no-store" });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw httpError(response.status, body, response.statusText);
    return body;
  }

  // ---- rooms --------------------------------------------------------------------------------------------------

  async refreshRooms() {
    if (this.roomsInFlight) {
      this.roomsAgain = true;
      return;
    }
    this.roomsInFlight = true;
    try {
      const body = await this.getJSON(this.allRooms.checked ? "api/rooms?all=true" : "api/rooms");
      const list = body && Array.isArray(body.rooms) ? body.rooms : [];
      this.rooms = new Map(list
        .filter((room) => room && typeof room.room === "string" && room.room !== "")
        .map((room) => [room.room, {
          room: room.room,
          members: Number(room.members) || 0,
          online: Number(room.online) || 0,
          commands: Array.isArray(room.commands) ? room.commands.filter((name) => typeof name === "string") : [],
          origin: typeof room.origin === "string" ? room.origin : "declared",
        }]));
      this.roomsLoaded = true;
      if (this.available !== true) {
        this.available = true;
        this.showAvailability();
      }
      if (this.roomsError) this.showError("");
      this.roomsError = false;
      this.renderRooms();
    } catch (error) {
      if (error.status === 404 && !this.roomsLoaded) {
        // A hub without the rooms API: no panel (asked again after a reconnect, in case the hub was upgraded).
        this.available = false;
        this.showAvailability();
      } else {
        this.roomsError = true;
        this.showError(`Could not load the rooms: ${error.code ? `${error.code}: ` : ""}${error.message}`);
      }
    } finally {
      this.roomsInFlight = false;
      if (this.roomsAgain) {
        this.roomsAgain = false;
        this.refreshRooms();
      }
    }
  }

  roomLabel(room) {
    const info = this.rooms.get(room);
    if (!info) return `${room} (no members now)`;
    return `${info.room} (${info.online} of ${plural(info.members, "member")} online)`;
  }

  originOf(name) {
    const origin = this.rooms.get(name)?.origin ?? "declared";
    return ORIGIN_GROUPS.some(([known]) => known === origin) ? origin : "";
  }

  /** The room names grouped as the select shows them: rooms, kinds, single devices, then any other origin. */
  groupedRooms(names) {
    return [...ORIGIN_GROUPS.map(([origin]) => origin), ""]
      .map((origin) => [origin, names.filter((name) => this.originOf(name) === origin)])
      .filter(([, members]) => members.length > 0);
  }

  renderRooms() {
    const previous = this.room.value;
    const names = [...this.rooms.keys()];
    // A selected room that left the list stays selectable (marked), so a refresh never changes the choice.
    if (previous && !this.rooms.has(previous)) names.push(previous);
    const groups = this.groupedRooms(names);
    const wanted = groups.flatMap(([, members]) => members);
    const current = [...this.room.options].map((option) => option.value).filter((value) => value !== "");
    if (this.roomOptionsBuilt && current.length === wanted.length
      && current.every((value, index) => value === wanted[index])) {
      // Same rooms: update the counts in place (an open drop-down stays open).
      for (const option of this.room.options) {
        if (option.value === "") continue;
        const label = this.roomLabel(option.value);
        if (option.textContent !== label) option.textContent = label;
      }
    } else {
      this.buildRoomOptions(groups, previous);
    }
    this.section.dataset.rooms = String(this.rooms.size);
    this.summary.textContent = this.rooms.size ? plural(this.rooms.size, "room") : "";
    if (this.room.value !== previous) this.roomChanged();
    else this.updateCommandOptions();
  }

  buildRoomOptions(groups, previous) {
    this.roomOptionsBuilt = true;
    const children = [];
    if (groups.length === 0) {
      const empty = new Option("no rooms yet", "");
      empty.disabled = true;
      children.push(empty);
    }
    const labels = new Map(ORIGIN_GROUPS);
    for (const [origin, members] of groups) {
      const options = members.map((name) => new Option(this.roomLabel(name), name));
      if (!labels.has(origin)) {
        children.push(...options);
        continue;
      }
      const group = document.createElement("optgroup");
      group.label = labels.get(origin);
      group.append(...options);
      children.push(group);
    }
    this.room.replaceChildren(...children);
    const names = groups.flatMap(([, members]) => members);
    if (names.includes(previous)) this.room.value = previous;
    else if (names.length) this.room.value = names[0];
  }

  selectedRoom() {
    return this.room.value ? this.rooms.get(this.room.value) || null : null;
  }

  roomChanged() {
    this.detail = null;
    this.updateCommandOptions();
    this.loadRoomDetail();
  }

  async loadRoomDetail() {
    const room = this.room.value;
    const seq = ++this.detailSeq;
    if (!room) return;
    try {
      const body = await this.getJSON(`api/rooms/${roomPath(room)}`);
      if (seq !== this.detailSeq) return;
      this.detail = { room, members: body && Array.isArray(body.members) ? body.members : [] };
    } catch {
      if (seq !== this.detailSeq) return;
      this.detail = null;
    }
    this.updateHint();
  }

  // ---- the command field --------------------------------------------------------------------------------------

  updateCommandOptions() {
    const room = this.selectedRoom();
    const commands = room ? [...room.commands].sort(naturalCompare) : [];
    const wanted = [...commands, OTHER];
    const current = [...this.name.options].map((option) => option.value);
    if (current.length !== wanted.length || current.some((value, index) => value !== wanted[index])) {
      const previous = this.name.value;
      const options = commands.map((name) => new Option(name, name));
      options.push(new Option(commands.length ? "other…" : "type a name…", OTHER));
      this.name.replaceChildren(...options);
      this.name.value = wanted.includes(previous) ? previous : wanted[0];
    }
    this.section.dataset.commands = String(commands.length);
    this.updateCommandField();
  }

  updateCommandField() {
    const other = this.name.value === OTHER || this.name.options.length === 0;
    this.customLabel.hidden = !other;
    this.custom.required = other;
    this.updateHint();
  }

  commandName() {
    return this.name.value === OTHER || this.name.options.length === 0 ? this.custom.value.trim() : this.name.value;
  }

  /** "accepted by 4 of 6 members · takes value" for the chosen command, as far as the room's detail tells. */
  updateHint() {
    const room = this.selectedRoom();
    const name = this.commandName();
    const parts = [];
    let placeholder = this.argsPlaceholder;
    if (room && room.commands.length === 0) parts.push("The members of this room list no commands: type a name.");
    if (room && name && this.detail && this.detail.room === room.room) {
      const members = this.detail.members;
      const specs = members.map((member) => (Array.isArray(member.commands) ? member.commands : [])
        .find((spec) => spec === name || (spec && spec.name === name))).filter(Boolean);
      if (members.length && specs.length) {
        parts.push(acceptedText(specs.length, members.length));
        const args = [...new Set(specs.flatMap((spec) => (Array.isArray(spec.args) ? spec.args : [])))];
        if (args.length) parts.push(`takes ${args.join(", ")}`);
        if (args.length) placeholder = args.map((arg) => `${arg}=…`).join("\n");
      }
    }
    this.args.placeholder = placeholder;
    this.hint.textContent = parts.join(" · ");
    this.hint.hidden = parts.length === 0;
  }

  checkArgs() {
    const parsed = parseArgs(this.args.value);
    this.argsError.textContent = parsed.error || "";
    this.argsError.hidden = !parsed.error;
    if (parsed.error) this.args.setAttribute("aria-invalid", "true");
    else this.args.removeAttribute("aria-invalid");
    return parsed;
  }

  showFormError(text, field) {
    this.formError.textContent = text;
    this.formError.hidden = !text;
    for (const input of [this.custom, this.timeout, this.ttl]) {
      if (input === field) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
    if (field) field.focus();
  }

  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }

  // ---- sending ------------------------------------------------------------------------------------------------

  waiting() {
    return [...this.requests.values()].some((entry) => entry.state === "sending");
  }

  forbidden() {
    return this.forbiddenToken !== undefined && this.forbiddenToken === this.token();
  }

  updateSend() {
    const forbidden = this.forbidden();
    const waiting = this.waiting();
    this.send.disabled = forbidden || waiting;
    this.send.textContent = waiting ? "Waiting…" : "Send";
    this.readonly.hidden = !forbidden;
    this.section.dataset.canSend = forbidden ? "false" : "unknown";
  }

  sendCommand() {
    if (this.forbidden() || this.waiting()) return;
    this.showError("");
    const room = this.room.value;
    if (!room) {
      this.showFormError("Choose a room first.", this.room);
      return;
    }
    const name = this.commandName();
    if (!NAME_PATTERN.test(name)) {
      this.showFormError(name ? `"${name}" is not a command name (letters, digits and . _ : -)`
        : "Type the command name.", this.custom);
      return;
    }
    const parsed = this.checkArgs();
    if (parsed.error) {
      this.args.focus();
      return;
    }
    const timeoutMs = milliseconds(this.timeout.value, { min: 1, max: MAX_TIMEOUT_S * 1000 });
    if (Number.isNaN(timeoutMs)) {
      this.showFormError(`The timeout is a number of seconds, more than 0 and at most ${MAX_TIMEOUT_S}.`,
        this.timeout);
      return;
    }
    const ttlMs = milliseconds(this.ttl.value, { min: 0, max: Number.MAX_SAFE_INTEGER });
    if (Number.isNaN(ttlMs)) {
      this.showFormError("The TTL is a number of seconds, 0 or more.", this.ttl);
      return;
    }
    this.showFormError("");

    const message = { type: "command", room, name, args: parsed.args };
    if (timeoutMs !== null) message.timeout_ms = timeoutMs;
    if (ttlMs !== null) message.ttl_ms = ttlMs;
    const requestId = this.request(message);
    if (requestId === null) {
      this.showError("Not sent: the page is not connected to the hub. Try again when it says live.");
      return;
    }
    const info = this.rooms.get(room);
    const entry = {
      key: this.nextKey++,
      requestId,
      state: "sending",
      room,
      name,
      args: parsed.args,
      members: info ? info.members : null,
      sentAt: Date.now(),
      timeoutMs: timeoutMs ?? DEFAULT_TIMEOUT_MS,
      record: null,
      note: "",
    };
    entry.watchdog = setTimeout(() => this.overdue(entry), entry.timeoutMs + ANSWER_GRACE_MS);
    this.requests.set(requestId, entry);
    this.addEntry(entry);
    this.announce(`Sending ${name} to ${room}${entry.members !== null ? ` (${plural(entry.members, "device")})` : ""}`);
    this.updateSend();
  }

  /** No answer long after the timeout: say so and let the user send again (a late answer still shows). */
  overdue(entry) {
    if (entry.state !== "sending") return;
    entry.state = "overdue";
    entry.note = "No answer from the hub yet; it will show here if it comes. Recent commands shows what the hub "
      + "recorded.";
    this.renderEntries();
    this.updateSend();
  }

  /** An `ack` or `error` answering one of this panel's commands: handled (true) or not ours (false). */
  reply(message) {
    const entry = this.requests.get(message.id);
    if (!entry) return false;
    this.requests.delete(message.id);
    clearTimeout(entry.watchdog);
    if (message.type === "error") this.refused(entry, message);
    else this.answered(entry, message);
    this.updateSend();
    return true;
  }

  answered(entry, message) {
    const { type, id, ...record } = message;
    entry.state = "done";
    entry.note = "";
    entry.record = record;
    this.renderEntries();
    this.announce(`${entry.name} to ${entry.room}: ${summaryText(record)}`);
    if (this.recentBox.open) this.refreshRecent();
  }

  refused(entry, error) {
    this.entries = this.entries.filter((shown) => shown !== entry);
    this.renderEntries();
    const hub = `${error.code}: ${error.message}`;
    let text;
    switch (error.code) {
      case "forbidden":
        this.forbiddenToken = this.token();
        text = `Not sent: this token may not send commands (it needs the operator role). ${hub}`;
        break;
      case "rate_limited":
        text = `Not sent: too many commands at once; wait a moment and send again. ${hub}`;
        break;
      case "not_found":
        text = `Not sent: room ${entry.room} has no members. ${hub}`;
        this.refreshRooms();
        break;
      case "unknown_type":
        text = `Not sent: this hub does not take commands from the dashboard yet. ${hub}`;
        break;
      default:
        text = `Not sent: ${hub}`;
    }
    this.showError(text);
    this.announce("");
  }

  announce(text) {
    this.status.textContent = text;
  }

  // ---- entries ------------------------------------------------------------------------------------------------

  addEntry(entry) {
    if (entry.record && entry.record.command) {
      this.entries = this.entries.filter((shown) => !shown.record || shown.record.command !== entry.record.command);
    }
    this.entries.unshift(entry);
    if (this.entries.length > HISTORY_LIMIT) this.entries.length = HISTORY_LIMIT;
    this.renderEntries();
  }

  async entryAction(button) {
    const entry = this.entries.find((shown) => String(shown.key) === button.closest("li").dataset.key);
    if (!entry) return;
    if (button.dataset.action === "remove") {
      this.entries = this.entries.filter((shown) => shown !== entry);
      this.requests.forEach((waiting, id) => {
        if (waiting === entry) this.requests.delete(id);
      });
      this.renderEntries();
      this.updateSend();
      this.results.focus();
      return;
    }
    if (button.dataset.action === "update" && entry.record && entry.record.command && !entry.updating) {
      entry.updating = true;
      this.renderEntries();
      try {
        const record = await this.getJSON(`api/commands/${encodeURIComponent(entry.record.command)}`);
        entry.record = record && typeof record === "object" ? record : entry.record;
        entry.note = "";
      } catch (error) {
        entry.note = `Could not update: ${error.code}: ${error.message}`;
      }
      entry.updating = false;
      this.renderEntries();
    }
  }

  /** A command from the recent list (GET /api/commands/{id}) shown on top of the results, with its table. */
  async showCommand(id) {
    if (!id) return;
    this.recentError.hidden = true;
    try {
      const record = await this.getJSON(`api/commands/${encodeURIComponent(id)}`);
      if (!record || typeof record !== "object") return;
      this.addEntry({
        key: this.nextKey++, requestId: null, state: "done", room: record.room, name: record.name,
        args: record.args || {}, members: Array.isArray(record.results) ? record.results.length : null,
        sentAt: record.ts, record, note: "", fromHistory: true,
      });
      const item = this.results.querySelector("li");
      if (item) item.focus();
    } catch (error) {
      this.recentError.textContent = `Could not load ${id}: ${error.code}: ${error.message}`;
      this.recentError.hidden = false;
    }
  }

  renderEntries() {
    // Keeps keyboard focus on the same control of the same entry across the rebuild.
    const active = document.activeElement;
    const focusItem = active && this.results.contains(active) ? active.closest("li") : null;
    const focus = focusItem ? { key: focusItem.dataset.key, action: active.dataset.action || "" } : null;
    this.results.replaceChildren(...this.entries.map((entry) => this.entryElement(entry)));
    this.section.dataset.entries = String(this.entries.length);
    if (focus) {
      const item = this.results.querySelector(`li[data-key="${focus.key}"]`);
      const target = item && (focus.action ? item.querySelector(`[data-action="${focus.action}"]`) : item);
      if (target) target.focus({ preventScroll: true });
    }
  }

  entryElement(entry) {
    const record = entry.record;
    const item = element("li", "command-entry");
    item.tabIndex = -1;
    item.dataset.key = String(entry.key);
    item.dataset.state = entry.state;
    item.dataset.room = entry.room || "";
    item.dataset.name = entry.name || "";
    if (entry.requestId !== null) item.dataset.request = String(entry.requestId);
    if (record && record.command) item.dataset.command = String(record.command);
    if (record && typeof record.open === "boolean") item.dataset.open = String(record.open);

    const head = element("div", "command-head");
    head.append(element("span", "command-name", entry.name || ""), element("span", "muted", " → "),
      element("span", "command-room", entry.room || ""), timeElement(record ? record.ts : entry.sentAt, "muted"));
    if (record && record.command) head.append(element("span", "command-id muted", record.command));
    item.append(head);

    const args = argsText(record ? record.args : entry.args);
    const meta = [];
    if (args) meta.push(args);
    if (record && record.sender) meta.push(`by ${record.sender}${record.source ? ` via ${record.source}` : ""}`);
    if (record && typeof record.answered_at === "number" && typeof record.ts === "number") {
      meta.push(`answered in ${Math.max(0, record.answered_at - record.ts)} ms`);
    }
    if (meta.length) item.append(element("p", "command-meta muted", meta.join(" · ")));

    if (entry.state === "sending" || entry.state === "overdue") {
      const count = entry.members;
      const progress = element("p", "command-progress",
        count !== null ? `sending to ${plural(count, "device")}…` : "sending…");
      item.append(progress);
    }
    if (record) {
      item.append(summaryLine(record));
      const results = Array.isArray(record.results) ? record.results : [];
      const open = results.filter((result) => result.status === "queued" || result.status === "pending").length;
      if (open) {
        item.append(element("p", "command-note muted",
          `${plural(open, "device")} still ${open === 1 ? "has" : "have"} it queued or pending: Update shows what `
          + "became of it."));
      }
      if (results.length) item.append(this.resultsTable(results, entry));
    }
    if (entry.note) item.append(element("p", `command-note ${entry.state === "done" ? "error" : "muted"}`, entry.note));

    const actions = element("div", "command-actions");
    if (record && record.command) {
      const update = element("button", "secondary", entry.updating ? "Updating…" : "Update");
      update.type = "button";
      update.dataset.action = "update";
      // aria-disabled rather than disabled: a disabled button would lose the keyboard focus.
      if (entry.updating) update.setAttribute("aria-disabled", "true");
      update.setAttribute("aria-label", `Update the results of ${record.command} (${entry.name} to ${entry.room})`);
      actions.append(update);
    }
    if (entry.state !== "sending") {
      const remove = element("button", "secondary", "Remove");
      remove.type = "button";
      remove.dataset.action = "remove";
      remove.setAttribute("aria-label", `Remove ${entry.name} to ${entry.room} from this list`);
      actions.append(remove);
    }
    if (actions.children.length) item.append(actions);
    return item;
  }

  resultsTable(results, entry) {
    const wrap = element("div", "table-wrap command-table-wrap");
    const table = element("table", "command-table");
    table.createCaption().textContent = `Results of ${entry.name} to ${entry.room}, per device`;
    table.caption.className = "visually-hidden";
    const head = table.createTHead().insertRow();
    for (const [text, className] of [["device"], ["status"], ["latency", "num"], ["result or error"]]) {
      const th = element("th", className, text);
      th.scope = "col";
      head.append(th);
    }
    const body = table.createTBody();
    for (const result of results) {
      if (!result || typeof result !== "object") continue;
      const status = String(result.status || "unknown");
      const row = body.insertRow();
      row.dataset.device = String(result.device || "");
      row.dataset.status = status;
      if (result.late === true) row.dataset.late = "true";
      row.insertCell().textContent = String(result.device || "");
      const statusCell = row.insertCell();
      statusCell.append(statusBadge(status));
      if (result.late === true) {
        const late = element("span", "cmd-late", "late");
        late.title = "This answer came after the command's answer had been sent";
        statusCell.append(" ", late);
      }
      const latency = row.insertCell();
      latency.className = "num";
      latency.textContent = typeof result.latency_ms === "number" ? `${result.latency_ms} ms` : "";
      const text = resultText(result);
      const detail = row.insertCell();
      detail.className = `command-detail${status === "ok" ? "" : " error"}`;
      detail.textContent = text.length > RESULT_TEXT_MAX ? `${text.slice(0, RESULT_TEXT_MAX)}…` : text;
      if (text.length > RESULT_TEXT_MAX) detail.title = text;
    }
    wrap.append(table);
    return wrap;
  }

  // ---- recent commands ----------------------------------------------------------------------------------------

  async refreshRecent() {
    if (this.recentInFlight) return;
    this.recentInFlight = true;
    this.recentRefresh.disabled = true;
    this.recentRefresh.textContent = "Refreshing…";
    try {
      const body = await this.getJSON(`api/commands?limit=${RECENT_LIMIT}`);
      const list = body && Array.isArray(body.commands) ? body.commands : [];
      this.recent.replaceChildren(...list.filter((record) => record && typeof record === "object")
        .map((record) => this.recentLine(record)));
      this.recentSummary.textContent = `Recent commands (${list.length})`;
      this.recentError.hidden = true;
      this.recent.dataset.loaded = String(Date.now());
    } catch (error) {
      this.recentError.textContent = `Could not load the recent commands: ${error.code}: ${error.message}`;
      this.recentError.hidden = false;
    } finally {
      this.recentInFlight = false;
      this.recentRefresh.disabled = false;
      this.recentRefresh.textContent = "Refresh";
    }
  }

  recentLine(record) {
    const line = element("li", "command-recent-line");
    line.dataset.command = String(record.command || "");
    line.dataset.room = String(record.room || "");
    line.dataset.name = String(record.name || "");
    if (typeof record.open === "boolean") line.dataset.open = String(record.open);
    const head = element("div", "command-head");
    head.append(timeElement(record.ts, "muted"), element("span", "command-name", record.name || ""),
      element("span", "muted", " → "), element("span", "command-room", record.room || ""));
    if (record.sender) head.append(element("span", "muted", `by ${record.sender}`));
    const summary = summaryLine(record);
    if (record.open === true) summary.append(element("span", "muted", "open"));
    if (record.command) {
      const show = element("button", "link", "results");
      show.type = "button";
      show.dataset.action = "show";
      show.dataset.command = String(record.command);
      show.setAttribute("aria-label", `Show the results of ${record.command} (${record.name} to ${record.room})`);
      summary.append(show);
    }
    line.append(head, summary);
    return line;
  }

  showAvailability() {
    const unavailable = this.available === false;
    this.section.dataset.available = this.available === null ? "unknown" : String(this.available);
    this.unavailable.hidden = !unavailable;
    this.form.hidden = unavailable;
    this.recentBox.hidden = unavailable;
  }
}
