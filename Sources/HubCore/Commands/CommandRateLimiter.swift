/// Per-user command rate limits: one token bucket per token subject.
///
/// Pure: callers pass `now` in milliseconds. Buckets idle long enough to be full again are forgotten, so the table
/// stays small.
public struct CommandRateLimiter: Sendable {
    private let ratePerSecond: Double
    private let burst: Double
    private var buckets: [String: (bucket: TokenBucket, used: Int64)] = [:]
    private var lastSweep: Int64 = 0

    /// Creates a limiter allowing each user `ratePerSecond` commands, in bursts up to `burst`.
    public init(ratePerSecond: Double, burst: Double) {
        self.ratePerSecond = ratePerSecond
        self.burst = burst
    }

    /// Takes one command from `user`'s bucket; false when the user is over the rate.
    public mutating func allow(_ user: String, now: Int64) -> Bool {
        let refillMs = Int64((burst / ratePerSecond * 1_000).rounded(.up))
        if now - lastSweep > 60_000 {
            lastSweep = now
            buckets = buckets.filter { now - $0.value.used < refillMs }
        }
        var entry = buckets[user] ?? (TokenBucket(ratePerSecond: ratePerSecond, burst: burst), now)
        let allowed = entry.bucket.take(now: now)
        entry.used = now
        buckets[user] = entry
        return allowed
    }

    /// Users with a bucket.
    public var trackedUsers: Int { buckets.count }
}
