/// The state of one alert: of one rule over one series.
///
/// An instance rests in `ok`; `resolved` is only ever an event (the instance is back in `ok` after it).
public enum AlertState: String, Sendable, Codable, CaseIterable {
    /// Nothing wrong (or a pending alert whose condition stopped holding before `for_ms`).
    case ok
    /// The condition holds; waiting for `for_ms`.
    case pending
    /// The condition held for `for_ms`.
    case firing
    /// A firing alert whose clear condition held for `clear_for_ms`.
    case resolved
    /// No sample for `nodata_ms`.
    case nodata

    /// Whether an alert in this state is active (listed, ackable).
    public var isActive: Bool { self == .pending || self == .firing || self == .nodata }
}

/// Who acknowledged an alert, when and why.
public struct AlertAck: Sendable, Codable, Equatable {
    /// The token subject of whoever acked.
    public var by: String
    /// Their comment.
    public var comment: String
    /// When (Unix ms).
    public var at: Int64

    /// Creates an ack.
    public init(by: String, comment: String, at: Int64) {
        self.by = by
        self.comment = comment
        self.at = at
    }
}

/// Identifies one alert instance: a rule over a series.
public struct AlertInstanceKey: Hashable, Sendable, Codable {
    /// The rule id.
    public var rule: String
    /// The series.
    public var series: SeriesKey

    /// Creates a key.
    public init(rule: String, series: SeriesKey) {
        self.rule = rule
        self.series = series
    }

    enum CodingKeys: String, CodingKey { case rule, device, metric }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        rule = try container.decode(String.self, forKey: .rule)
        series = SeriesKey(
            device: try container.decode(String.self, forKey: .device),
            metric: try container.decode(String.self, forKey: .metric))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rule, forKey: .rule)
        try container.encode(series.device, forKey: .device)
        try container.encode(series.metric, forKey: .metric)
    }
}

/// The persisted state of one alert instance, with its timers as absolute hub times, so a restart resumes it
/// exactly: a pending alert fires when its `for_ms` is up, a firing one is not fired again, a clearing one resolves
/// when its `clear_for_ms` is up.
public struct AlertInstance: Sendable, Codable, Equatable {
    /// Which rule over which series.
    public var key: AlertInstanceKey
    /// The current state (never `resolved`).
    public var state: AlertState
    /// The id of the current episode (from leaving `ok` until back in it); nil in `ok`.
    public var alert: String?
    /// When the instance entered `state`.
    public var since: Int64
    /// When the current episode began.
    public var started: Int64?
    /// While firing: since when the clear condition has held (nil when it does not).
    public var clearingSince: Int64?
    /// In `nodata`: whether the alert was firing when data stopped.
    public var wasFiring: Bool
    /// The last judged value (the sample, or the smoothed value) and its sample time.
    public var value: Double?
    /// The timestamp of the sample behind `value`.
    public var valueTs: Int64?
    /// Set by an ack until the episode ends.
    public var ack: AlertAck?
    /// Whether the last event went out silenced (so a silence ending can be announced).
    public var silence: String?

    /// A fresh instance in `ok`.
    public init(key: AlertInstanceKey, since: Int64) {
        self.key = key
        self.state = .ok
        self.since = since
        self.wasFiring = false
    }
}
