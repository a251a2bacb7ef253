/// What `telemetryhub watch` shows: per series the latest value, the minimum and maximum seen, and a sparkline of
/// the recent values; plus connection totals. Pure: fed events, rendered to lines.
public struct WatchBoard: Sendable {
    /// One series' figures.
    public struct Row: Sendable, Equatable {
        public var latest: Sample
        public var min: Double
        public var max: Double
        /// The most recent values, oldest first (at most ``WatchBoard/width``).
        public var recent: [Double]
    }

    /// Values kept per series for the sparkline.
    public let width: Int
    public private(set) var rows: [SeriesKey: Row] = [:]
    /// Batches received.
    public private(set) var batches = 0
    /// Samples the hub reported as coalesced.
    public private(set) var coalesced = 0
    /// Samples received.
    public private(set) var samples = 0

    /// Creates an empty board keeping `width` values per series.
    public init(width: Int = 30) {
        self.width = Swift.max(1, width)
    }

    /// Replaces a series' history (a snapshot).
    public mutating func load(_ key: SeriesKey, samples: [Sample]) {
        rows[key] = nil
        for sample in samples { add(key, sample) }
    }

    /// Adds a batch.
    public mutating func batch(_ samples: [(SeriesKey, Sample)], coalesced: Int) {
        batches += 1
        self.coalesced += coalesced
        self.samples += samples.count
        for (key, sample) in samples { add(key, sample) }
    }

    /// Adds one sample (older ones than the latest still count for min/max but do not move the latest).
    public mutating func add(_ key: SeriesKey, _ sample: Sample) {
        guard var row = rows[key] else {
            rows[key] = Row(latest: sample, min: sample.value, max: sample.value, recent: [sample.value])
            return
        }
        row.min = Swift.min(row.min, sample.value)
        row.max = Swift.max(row.max, sample.value)
        if sample.ts >= row.latest.ts {
            row.latest = sample
            row.recent.append(sample.value)
            if row.recent.count > width { row.recent.removeFirst(row.recent.count - width) }
        }
        rows[key] = row
    }

    /// The table as text lines: a header, then one line per series sorted by key (at most `limit`).
    public func render(now: Int64, limit: Int = .max) -> [String] {
        let keys = rows.keys.sorted()
        let nameWidth = Swift.min(48, keys.map { $0.description.count }.max() ?? 6)
        var lines = [
            Self.pad("series", nameWidth) + "  " + Self.left("latest", 12) + "  " + Self.left("min", 10) + "  "
                + Self.left("max", 10) + "  " + Self.left("age", 6) + "  trend"
        ]
        for key in keys.prefix(limit) {
            guard let row = rows[key] else { continue }
            let age = Swift.max(0, now - row.latest.ts)
            lines.append(
                Self.pad(key.description, nameWidth) + "  " + Self.left(Self.format(row.latest.value), 12) + "  "
                    + Self.left(Self.format(row.min), 10) + "  " + Self.left(Self.format(row.max), 10) + "  "
                    + Self.left(DurationText.format(milliseconds: age), 6) + "  " + Self.sparkline(row.recent))
        }
        if keys.count > limit { lines.append("… and \(keys.count - limit) more series") }
        return lines
    }

    /// A sparkline of `values` scaled between their minimum and maximum (`▁` to `█`).
    public static func sparkline(_ values: [Double]) -> String {
        let levels: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        guard let low = values.min(), let high = values.max() else { return "" }
        let span = high - low
        return String(
            values.map { value -> Character in
                guard span > 0 else { return levels[3] }
                let index = Int(((value - low) / span * Double(levels.count - 1)).rounded())
                return levels[Swift.min(levels.count - 1, Swift.max(0, index))]
            })
    }

    static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        let magnitude = abs(value)
        let decimals = magnitude >= 100 ? 1 : magnitude >= 1 ? 2 : 4
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        return "\(rounded)"
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? String(text.prefix(width)) : text + String(repeating: " ", count: width - text.count)
    }

    static func left(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}
