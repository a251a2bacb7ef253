/// Exponential backoff with full jitter for reconnecting clients.
public struct Backoff: Sendable, Equatable {
    /// Delay before the first retry, in milliseconds.
    public var initialMs: Double
    /// Longest delay, in milliseconds.
    public var maxMs: Double
    /// Growth factor per failed attempt.
    public var multiplier: Double

    /// Creates a policy (defaults: 250 ms doubling up to 10 s).
    public init(initialMs: Double = 250, maxMs: Double = 10_000, multiplier: Double = 2) {
        self.initialMs = initialMs
        self.maxMs = maxMs
        self.multiplier = multiplier
    }

    /// The delay before retry number `attempt` (0-based): uniform in [cap/2, cap] where cap grows exponentially.
    public func delayMs(attempt: Int, using random: inout some RandomNumberGenerator) -> Double {
        let exponent = Double(Swift.min(attempt, 30))
        let cap = Swift.min(maxMs, initialMs * pow(multiplier, exponent))
        return Double.random(in: (cap / 2)...cap, using: &random)
    }

    private func pow(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        var remaining = Int(exponent)
        while remaining > 0 {
            result *= base
            remaining -= 1
        }
        return result
    }
}

/// A fast, seedable random number generator (SplitMix64) for repeatable simulations.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) {
        self.state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
