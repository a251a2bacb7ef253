/// How long a tier keeps data: an age, or forever.
public struct RetentionAge: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Milliseconds kept, or nil for forever.
    public var milliseconds: Int64?

    /// Keeps data for `milliseconds`.
    public init(milliseconds: Int64?) { self.milliseconds = milliseconds }

    /// Parses `7d`, `90d`, `2y`, `1h`, `forever`.
    public init?(text: String) {
        if text == "forever" {
            self.milliseconds = nil
            return
        }
        guard let ms = DurationText.milliseconds(text), ms > 0 else { return nil }
        self.milliseconds = ms
    }

    /// Keeps data forever.
    public static let forever = RetentionAge(milliseconds: nil)

    public var description: String { milliseconds.map { DurationText.format(milliseconds: $0) } ?? "forever" }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard let age = RetentionAge(text: text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "'\(text)' is not a retention age such as 1h, 7d, 2y or forever")
            }
            self = age
        } else {
            let ms = try container.decode(Int64.self)
            guard ms > 0 else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "a retention age in ms must be positive")
            }
            self.milliseconds = ms
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Retention ages of the three tiers; in an override, a nil tier keeps the default.
public struct TierRetention: Sendable, Equatable, Codable {
    /// Raw samples (chunks).
    public var raw: RetentionAge?
    /// 1-minute rollups.
    public var minute: RetentionAge?
    /// 1-hour rollups.
    public var hour: RetentionAge?

    enum CodingKeys: String, CodingKey {
        case raw
        case minute = "1m"
        case hour = "1h"
    }

    /// Creates tier ages.
    public init(raw: RetentionAge? = nil, minute: RetentionAge? = nil, hour: RetentionAge? = nil) {
        self.raw = raw
        self.minute = minute
        self.hour = hour
    }

    /// The age of `tier` (nil for raw).
    public func age(_ tier: RollupTier?) -> RetentionAge? {
        switch tier {
        case nil: raw
        case .minute: minute
        case .hour: hour
        }
    }
}

/// A per-selector override: series matching `match` keep their tiers as given here.
public struct RetentionOverride: Sendable, Equatable, Codable {
    /// A series selector such as `*/debug_*`.
    public var match: String
    /// Ages for the matching series.
    public var raw: RetentionAge?
    public var minute: RetentionAge?
    public var hour: RetentionAge?

    enum CodingKeys: String, CodingKey {
        case match, raw
        case minute = "1m"
        case hour = "1h"
    }

    /// Creates an override.
    public init(match: String, raw: RetentionAge? = nil, minute: RetentionAge? = nil, hour: RetentionAge? = nil) {
        self.match = match
        self.raw = raw
        self.minute = minute
        self.hour = hour
    }
}

/// Retention of every tier, by age and by total size, with per-selector overrides (the first matching override
/// wins, tier by tier; tiers it leaves out keep the defaults).
public struct RetentionPolicy: Sendable, Equatable {
    /// Default ages: raw 7 days, 1 minute 90 days, 1 hour 2 years.
    public var defaults: TierRetention
    /// Most bytes per tier (`raw`, `1m`, `1h`); the oldest data goes first; 0 or absent means no limit.
    public var maxBytes: [String: Int64]
    /// Overrides in order, with their parsed selectors.
    public private(set) var overrides: [(match: SeriesSelector, ages: TierRetention)]

    /// Creates a policy; throws a message naming the bad selector.
    public init(
        defaults: TierRetention = RetentionPolicy.standardAges, maxBytes: [String: Int64] = [:],
        overrides: [RetentionOverride] = []
    ) throws(ProtocolError) {
        self.defaults = defaults
        self.maxBytes = maxBytes
        self.overrides = try overrides.map { rule throws(ProtocolError) in
            (
                try SeriesSelector(parsing: rule.match),
                TierRetention(raw: rule.raw, minute: rule.minute, hour: rule.hour)
            )
        }
    }

    /// Raw 7 days, 1 minute 90 days, 1 hour 2 years.
    public static let standardAges = TierRetention(
        raw: RetentionAge(milliseconds: 7 * 86_400_000), minute: RetentionAge(milliseconds: 90 * 86_400_000),
        hour: RetentionAge(milliseconds: 730 * 86_400_000))

    /// The age `key` keeps `tier` (nil tier = raw).
    public func age(of key: SeriesKey, tier: RollupTier?) -> RetentionAge {
        for rule in overrides where rule.match.matches(key) {
            if let age = rule.ages.age(tier) { return age }
        }
        return defaults.age(tier) ?? .forever
    }

    /// The oldest timestamp `key` keeps in `tier` at `now`: data wholly before it is removed (nil keeps everything).
    public func cutoff(of key: SeriesKey, tier: RollupTier?, now: Int64) -> Int64? {
        guard let ms = age(of: key, tier: tier).milliseconds else { return nil }
        let (value, overflow) = now.subtractingReportingOverflow(ms)
        return overflow ? nil : value
    }

    /// The cut-off raw data of `series` may be removed up to: its age cut-off, but never past the 1-minute
    /// watermark, so that no sample leaves before its rollups are written.
    public func rawCutoff(of series: ArchivedSeries, now: Int64) -> Int64? {
        guard let cutoff = cutoff(of: series.key, tier: nil, now: now) else { return nil }
        return min(cutoff, series.rolledMinute)
    }

    /// Given rows oldest first as (id, bytes) and the total, the ids to remove to get under `limit`.
    public static func sizeCut(oldestFirst rows: [(id: Int64, bytes: Int64)], total: Int64, limit: Int64) -> [Int64] {
        guard limit > 0, total > limit else { return [] }
        var excess = total - limit
        var ids: [Int64] = []
        for row in rows where excess > 0 {
            ids.append(row.id)
            excess -= row.bytes
        }
        return ids
    }

    public static func == (lhs: RetentionPolicy, rhs: RetentionPolicy) -> Bool {
        lhs.defaults == rhs.defaults && lhs.maxBytes == rhs.maxBytes && lhs.overrides.count == rhs.overrides.count
            && zip(lhs.overrides, rhs.overrides).allSatisfy { $0.match == $1.match && $0.ages == $1.ages }
    }
}
