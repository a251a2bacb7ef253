/// The range of timestamps the hub stores: integer Unix milliseconds from 0 to 2^53 − 1 (what a JSON number holds
/// exactly). Every timestamp that comes from the network is checked against it, so arithmetic on timestamps (a
/// range's length, a bucket's start) cannot overflow.
public enum Timestamps {
    /// The largest timestamp: 2^53 − 1 ms (about the year 287,396).
    public static let max: Int64 = 9_007_199_254_740_991
    /// Every valid timestamp.
    public static let range: ClosedRange<Int64> = 0...max
}

/// The query parameters of a history request (`GET /api/series/{device}/{metric}?from&to&step&limit`), checked.
///
/// `from` and `to` are clamped to ``Timestamps/range`` (so `from=-1` means "from the start"); `step` must be a
/// positive number of milliseconds within that range too; `limit` must be 1 to ``maxLimit``. A `from`–`to` range
/// over which `step` would make more than ``maxPoints`` buckets is refused (without `to`, the data bound them).
/// Anything else is `invalid_message` naming the field.
///
/// Invariants of a parsed query: `0 <= from <= to <= Timestamps.max`; `step` is nil or in `1...Timestamps.max`;
/// `(to - from) / step <= maxPoints` when `to` was given; `1 <= limit <= maxLimit`.
public struct SeriesQuery: Equatable, Sendable {
    /// The oldest timestamp wanted.
    public var from: Int64
    /// The newest timestamp wanted.
    public var to: Int64
    /// Bucket width for rollups; nil for raw samples.
    public var step: Int64?
    /// Most points returned (the newest when cut).
    public var limit: Int

    /// Most points one query may ask for.
    public static let maxLimit = 10_000_000
    /// Most rollup buckets one query may span.
    public static let maxPoints: Int64 = 10_000_000
    /// `limit` when the query leaves it out.
    public static let defaultLimit = 100_000

    /// Creates a query from checked values.
    public init(from: Int64, to: Int64, step: Int64?, limit: Int) {
        self.from = from
        self.to = to
        self.step = step
        self.limit = limit
    }

    /// Parses the parameters that `parameter(name)` returns (nil when absent).
    public init(_ parameter: (String) -> String?) throws(ProtocolError) {
        from = try Self.integer(parameter, "from").map(Self.clamp) ?? 0
        let givenTo = try Self.integer(parameter, "to").map(Self.clamp)
        to = givenTo ?? Timestamps.max
        guard from <= to else { throw .invalidMessage("'from' (\(from)) is after 'to' (\(to))") }
        let limit = try Self.integer(parameter, "limit") ?? Int64(Self.defaultLimit)
        guard (1...Int64(Self.maxLimit)).contains(limit) else {
            throw .invalidMessage("'limit' must be 1 to \(Self.maxLimit)")
        }
        self.limit = Int(limit)
        step = try Self.integer(parameter, "step")
        if let step {
            guard Timestamps.range.contains(step), step > 0 else {
                throw .invalidMessage("'step' must be a positive number of ms up to \(Timestamps.max)")
            }
            // No overflow: 0 <= from <= to <= 2^53 - 1. Without `to` the stored data bound the buckets.
            if givenTo != nil, (to - from) / step > Self.maxPoints {
                throw .invalidMessage(
                    "'step' \(step) from \(from) to \(to) makes more than 10,000,000 buckets; narrow the range")
            }
        }
    }

    /// Parses an optional `limit`-like positive integer parameter (1 to `max`) with a default.
    public static func positive(_ parameter: (String) -> String?, _ name: String, default value: Int, max: Int)
        throws(ProtocolError) -> Int
    {
        guard let number = try integer(parameter, name) else { return value }
        guard (1...Int64(max)).contains(number) else { throw .invalidMessage("'\(name)' must be 1 to \(max)") }
        return Int(number)
    }

    /// An integer parameter, or nil when absent.
    static func integer(_ parameter: (String) -> String?, _ name: String) throws(ProtocolError) -> Int64? {
        guard let text = parameter(name) else { return nil }
        guard let value = Int64(text) else {
            throw .invalidMessage("'\(name)' must be an integer, got '\(text.prefix(40))'")
        }
        return value
    }

    private static func clamp(_ ts: Int64) -> Int64 {
        Swift.min(Swift.max(ts, 0), Timestamps.max)
    }
}
