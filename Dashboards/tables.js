// The device list (presence) and the latest value of every subscribed series.

import { formatNumber, naturalCompare } from "./charts.js";

const RENDER_EVERY_MS = 250;
const ROW_LIMIT = 500;

/** A timestamp as local time; the date too when it is not today. */
export function formatTime(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms <= 0) return "";
  const date = new Date(ms);
  const today = new Date().toDateString() === date.toDateString();
  return today ? date.toLocaleTimeString() : date.toLocaleString();
}

/** A value with its unit, as the latest-value table shows it. */
function formatValue(value, unit) {
  if (typeof value !== "number") return "";
  return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** Runs `render` at most every RENDER_EVERY_MS, after something asked for it. */
export function throttled(render) {
  let timer = null;
  return () => {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      render();
    }, RENDER_EVERY_MS);
  };
}

/** Devices from `subscribe_devices`: the `devices` list, then one `device` event per presence change. */
export class DeviceTable {
  constructor({ body, summary, more, filter, onSelect }) {
    this.body = body;
    this.summary = summary;
    this.more = more;
    this.filter = filter;
    this.onSelect = onSelect;
    this.devices = new Map();
    this.scheduleRender = throttled(() => this.render());
    filter.addEventListener("input", () => this.scheduleRender());
  }

  replaceAll(list) {
    this.devices.clear();
    for (const device of list) this.devices.set(device.device, { ...device });
    this.scheduleRender();
  }

  /** A presence event: `ts` is when the state changed. */
  update(event) {
    const known = this.devices.get(event.device) || { device: event.device, rooms: [] };
    const next = { ...known, state: event.state, reason: event.reason, since: event.ts ?? known.since };
    if (event.kind !== undefined) next.kind = event.kind;
    if (event.rooms !== undefined) next.rooms = event.rooms;
    this.devices.set(event.device, next);
    this.scheduleRender();
  }

  matches(device, needle) {
    if (!needle) return true;
    const text = [device.device, device.kind, ...(device.rooms || [])].join(" ").toLowerCase();
    return text.includes(needle);
  }

  render() {
    const all = [...this.devices.values()];
    const online = all.filter((device) => device.state === "online").length;
    this.summary.textContent = `${online} of ${all.length} online`;
    const needle = this.filter.value.trim().toLowerCase();
    const shown = all.filter((device) => this.matches(device, needle));
    shown.sort((a, b) => naturalCompare(a.device, b.device));
    this.body.replaceChildren(...shown.slice(0, ROW_LIMIT).map((device) => this.row(device)));
    this.more.hidden = shown.length <= ROW_LIMIT;
    this.more.textContent = `Showing ${ROW_LIMIT} of ${shown.length}; narrow the filter to see the others.`;
  }

  row(device) {
    const row = document.createElement("tr");
    const state = device.state || "unknown";
    row.dataset.device = device.device;
    row.dataset.state = state;
    const select = document.createElement("button");
    select.type = "button";
    select.className = "link";
    select.textContent = device.device;
    select.title = `Chart every series of ${device.device}`;
    select.addEventListener("click", () => this.onSelect(device.device));
    row.insertCell().append(select);
    cell(row, device.kind || "");
    cell(row, (device.rooms || []).join(", "), "rooms");
    cell(row, state, `state state-${state === "online" ? "online" : "offline"}`);
    cell(row, device.reason || "");
    const since = cell(row, formatTime(device.since));
    if (device.since) since.title = new Date(device.since).toISOString();
    return row;
  }
}

/** The latest value per series over every subscription, with the unit of the panel that shows it. */
export class LatestTable {
  constructor({ body, more }) {
    this.body = body;
    this.more = more;
    this.entries = new Map();
    this.rows = new Map();
    this.changed = new Set();
    this.structureChanged = false;
    this.scheduleRender = throttled(() => this.render());
  }

  set(key, ts, value, unit, sub) {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { ts: -Infinity, value: null, unit, subs: new Set() };
      this.entries.set(key, entry);
      this.structureChanged = true;
    }
    entry.subs.add(sub);
    if (unit) entry.unit = unit;
    if (ts >= entry.ts) {
      entry.ts = ts;
      entry.value = value;
      this.changed.add(key);
    }
    this.scheduleRender();
  }

  /** Forgets the series only `sub` showed (its panel was closed or now shows other series). */
  forgetSub(sub) {
    for (const [key, entry] of this.entries) {
      entry.subs.delete(sub);
      if (entry.subs.size === 0) {
        this.entries.delete(key);
        this.structureChanged = true;
      }
    }
    this.scheduleRender();
  }

  render() {
    if (this.structureChanged) {
      this.structureChanged = false;
      const keys = [...this.entries.keys()].sort(naturalCompare);
      this.rows.clear();
      for (const key of keys.slice(0, ROW_LIMIT)) this.rows.set(key, this.row(key));
      this.body.replaceChildren(...this.rows.values());
      this.more.hidden = keys.length <= ROW_LIMIT;
      this.more.textContent = `Showing ${ROW_LIMIT} of ${keys.length} series.`;
    } else {
      for (const key of this.changed) {
        const row = this.rows.get(key);
        if (row) this.fill(row, this.entries.get(key));
      }
    }
    this.changed.clear();
  }

  row(key) {
    const row = document.createElement("tr");
    row.dataset.series = key;
    cell(row, key);
    cell(row, "", "num");
    cell(row, "");
    this.fill(row, this.entries.get(key));
    return row;
  }

  fill(row, entry) {
    row.cells[1].textContent = formatValue(entry.value, entry.unit);
    row.cells[2].textContent = formatTime(entry.ts);
    row.dataset.ts = String(entry.ts);
  }
}
