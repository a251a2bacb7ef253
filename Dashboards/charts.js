// Chart panels: a bounded time window of points per series, drawn with dygraphs (one line per series).

export const MAX_LINES = 20;
export const MAX_POINTS_PER_SERIES = 10000;
const MIN_REDRAW_MS = 100;

/** Natural order for series and device names: thermo-2 before thermo-10. */
export const naturalCompare = new Intl.Collator("en", { numeric: true }).compare;

/** A reading for people: at most 4 decimals, digits grouped as the browser's locale does. */
export function formatNumber(value) {
  return value.toLocaleString(undefined, { maximumFractionDigits: 4 });
}

/** True when dygraphs loaded (it is served from /vendor/ by the hub, Debian package libjs-dygraphs). */
export function dygraphsAvailable() {
  return typeof window !== "undefined" && typeof window.Dygraph === "function";
}

/** Index of the first element of sorted `times` that is >= `ts`. */
function lowerBound(times, ts) {
  let low = 0;
  let high = times.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (times[middle] < ts) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Points per series kept in time order, at most `maxSeries` series, only the last `windowMs` (measured from the
 * newest point) and at most `maxPoints` per series.
 */
export class SeriesBuffer {
  constructor({ windowMs, maxSeries = MAX_LINES, maxPoints = MAX_POINTS_PER_SERIES }) {
    this.windowMs = windowMs;
    this.maxSeries = maxSeries;
    this.maxPoints = maxPoints;
    this.series = new Map();
    this.newest = -Infinity;
    this.skipped = new Set();
  }

  /** Replaces everything with a snapshot: `{ "dev/metric": [[ts, value], …], … }`. */
  replace(snapshot) {
    this.series.clear();
    this.skipped.clear();
    this.newest = -Infinity;
    for (const key of Object.keys(snapshot).sort(naturalCompare)) {
      this.track(key);
      for (const [ts, value] of snapshot[key]) this.add(key, ts, value);
    }
    this.trim();
  }

  /** Adds one point (one at the same timestamp is replaced). Returns false when the series is not kept. */
  add(key, ts, value) {
    const line = this.track(key);
    if (!line || typeof ts !== "number" || typeof value !== "number") return false;
    const { times, values } = line;
    if (times.length === 0 || ts > times[times.length - 1]) {
      times.push(ts);
      values.push(value);
    } else {
      const index = lowerBound(times, ts);
      if (times[index] === ts) values[index] = value;
      else {
        times.splice(index, 0, ts);
        values.splice(index, 0, value);
      }
    }
    if (ts > this.newest) this.newest = ts;
    return true;
  }

  /** Drops points older than the window and beyond the per-series cap. */
  trim() {
    const cutoff = this.newest - this.windowMs;
    for (const { times, values } of this.series.values()) {
      const drop = Math.max(lowerBound(times, cutoff), times.length - this.maxPoints);
      if (drop > 0) {
        times.splice(0, drop);
        values.splice(0, drop);
      }
    }
  }

  setWindow(windowMs) {
    this.windowMs = windowMs;
    this.trim();
  }

  /** The line for `key`, created while fewer than `maxSeries` are kept; null (and counted) otherwise. */
  track(key) {
    let line = this.series.get(key);
    if (line) return line;
    if (this.series.size >= this.maxSeries) {
      this.skipped.add(key);
      return null;
    }
    line = { times: [], values: [] };
    this.series.set(key, line);
    return line;
  }

  get keys() {
    return [...this.series.keys()].sort(naturalCompare);
  }

  get pointCount() {
    let count = 0;
    for (const { times } of this.series.values()) count += times.length;
    return count;
  }

  /** Rows for dygraphs: `[Date, value-or-null per key]`, one row per distinct timestamp, in time order. */
  rows(keys = this.keys) {
    const lines = keys.map((key) => this.series.get(key));
    const stamps = new Set();
    for (const { times } of lines) for (const ts of times) stamps.add(ts);
    const ordered = [...stamps].sort((a, b) => a - b);
    const cursors = lines.map(() => 0);
    return ordered.map((ts) => {
      const row = [new Date(ts)];
      lines.forEach(({ times, values }, column) => {
        const at = cursors[column];
        if (times[at] === ts) {
          row.push(values[at]);
          cursors[column] = at + 1;
        } else {
          row.push(null);
        }
      });
      return row;
    });
  }
}

/**
 * One panel: title, a chart of its subscription's series and a small status line. Redraws are coalesced to one
 * per animation frame and spaced by several times the last draw's cost, so a busy chart never hogs the page.
 */
export class ChartPanel {
  constructor(template, { sub, title, unit = "", windowMs, closable = false, onClose }) {
    this.sub = sub;
    this.unit = unit;
    this.buffer = new SeriesBuffer({ windowMs });
    this.graph = null;
    this.labels = [];
    this.drawScheduled = false;
    this.lastDrawAt = 0;
    this.drawCostMs = 0;
    this.destroyed = false;

    this.element = template.content.firstElementChild.cloneNode(true);
    this.element.dataset.sub = sub;
    this.chart = this.element.querySelector(".chart");
    this.chart.dataset.sub = sub;
    this.chart.dataset.points = "0";
    this.chart.dataset.lastTs = "0";
    this.legend = this.element.querySelector(".legend");
    this.info = this.element.querySelector(".panel-info");
    this.note = this.element.querySelector(".panel-note");
    this.setTitle(title);
    const close = this.element.querySelector(".panel-close");
    if (closable) {
      close.hidden = false;
      close.addEventListener("click", () => onClose && onClose(this));
    }
    this.resizeObserver = new ResizeObserver(() => this.graph && this.graph.resize());
    this.resizeObserver.observe(this.chart);
  }

  setTitle(title) {
    const text = this.unit ? `${title} (${this.unit})` : title;
    this.element.querySelector(".panel-title").textContent = text;
    this.chart.setAttribute("aria-label", `Chart: ${text}`);
  }

  /** The subscription's state line: series matched, rate, seq, errors. */
  setInfo(text, isError = false) {
    this.info.textContent = text;
    this.info.classList.toggle("error", isError);
  }

  replace(snapshot) {
    this.buffer.replace(snapshot);
    this.scheduleDraw();
  }

  add(key, ts, value) {
    return this.buffer.add(key, ts, value);
  }

  /** Call after a batch of `add`s. */
  changed() {
    this.buffer.trim();
    this.scheduleDraw();
  }

  setWindow(windowMs) {
    this.buffer.setWindow(windowMs);
    this.scheduleDraw();
  }

  scheduleDraw() {
    if (this.drawScheduled) return;
    this.drawScheduled = true;
    const wait = Math.max(MIN_REDRAW_MS, this.drawCostMs * 4) - (performance.now() - this.lastDrawAt);
    const frame = () => requestAnimationFrame(() => this.draw());
    if (wait > 0) setTimeout(frame, wait);
    else frame();
  }

  draw() {
    this.drawScheduled = false;
    if (this.destroyed) return;
    const started = performance.now();
    const keys = this.buffer.keys;
    this.chart.dataset.points = String(this.buffer.pointCount);
    this.chart.dataset.lastTs = String(Number.isFinite(this.buffer.newest) ? this.buffer.newest : 0);
    this.showNote(keys);
    if (dygraphsAvailable()) this.drawGraph(keys);
    else this.drawValues(keys);
    this.lastDrawAt = performance.now();
    this.drawCostMs = this.lastDrawAt - started;
  }

  drawGraph(keys) {
    const rows = this.buffer.rows(keys);
    if (rows.length === 0) {
      this.chart.dataset.empty = "true";
      return;
    }
    delete this.chart.dataset.empty;
    const labels = ["time", ...keys];
    const labelsChanged = labels.join("\n") !== this.labels.join("\n");
    this.labels = labels;
    if (!this.graph) {
      this.graph = new window.Dygraph(this.chart, rows, {
        labels,
        labelsDiv: this.legend,
        legend: "always",
        labelsSeparateLines: false,
        connectSeparatedPoints: true,
        strokeWidth: 1.5,
        highlightCircleSize: 3,
        highlightSeriesOpts: { strokeWidth: 2.5, highlightCircleSize: 4 },
        axes: {
          x: { valueFormatter: (ms) => new Date(ms).toLocaleTimeString() },
          y: { axisLabelWidth: 48 },
        },
        gridLineColor: "#e3e7ee",
        axisLineColor: "#c3cad5",
      });
      return;
    }
    this.graph.updateOptions(labelsChanged ? { file: rows, labels } : { file: rows });
  }

  /** Without dygraphs: the newest value of each series as text, so the panel still says something. */
  drawValues(keys) {
    const unit = this.unit ? ` ${this.unit}` : "";
    const items = keys.map((key) => {
      const { times, values } = this.buffer.series.get(key);
      const item = document.createElement("span");
      const value = values.length ? formatNumber(values[values.length - 1]) : "–";
      item.textContent = `${key}: ${value}${times.length ? unit : ""}`;
      return item;
    });
    this.legend.replaceChildren(...items);
  }

  showNote(keys) {
    const skipped = this.buffer.skipped.size;
    if (skipped > 0) {
      this.note.textContent = `Drawing ${keys.length} of ${keys.length + skipped} series; the table lists all.`;
    } else if (keys.length === 0) {
      this.note.textContent = "No matching series yet.";
    }
    this.note.hidden = skipped === 0 && keys.length > 0;
  }

  destroy() {
    this.destroyed = true;
    this.resizeObserver.disconnect();
    if (this.graph) this.graph.destroy();
    this.graph = null;
    this.element.remove();
  }
}
