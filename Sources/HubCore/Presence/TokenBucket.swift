/// A token bucket: `ratePerSecond` tokens refill continuously up to `burst`.
///
/// Pure: callers pass `now` in milliseconds.
public struct TokenBucket: Sendable, Equatable {
    /// Tokens added per second.
    public let ratePerSecond: Double
    /// Most tokens held.
    public let burst: Double
    private var tokens: Double
    private var updatedAt: Int64?

    /// Creates a full bucket.
    public init(ratePerSecond: Double, burst: Double) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
        self.tokens = burst
    }

    /// Takes `cost` tokens when available; false when the caller is over its rate.
    public mutating func take(_ cost: Double = 1, now: Int64) -> Bool {
        if let updatedAt, now > updatedAt {
            tokens = Swift.min(burst, tokens + Double(now - updatedAt) * ratePerSecond / 1_000)
        }
        if updatedAt == nil || now > updatedAt! { updatedAt = now }
        guard tokens >= cost else { return false }
        tokens -= cost
        return true
    }
}
