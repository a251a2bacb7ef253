/// An aggregate of the samples in one time bucket.
public struct RollupPoint: Equatable, Sendable {
    /// Start of the bucket (Unix ms, a multiple of the step).
    public var ts: Int64
    public var min: Double
    public var max: Double
    public var sum: Double
    public var count: Int
    /// The mean of the bucket. Sample values are at most ``Sample/maxMagnitude`` in size, so the sum of any
    /// bucket a query can span stays finite; should it not, the mean is still bounded by `min` and `max`.
    public var avg: Double {
        let mean = sum / Double(count)
        return mean.isFinite ? mean : Swift.min(Swift.max(mean, min), max)
    }

    /// Creates a point.
    public init(ts: Int64, min: Double, max: Double, sum: Double, count: Int) {
        self.ts = ts
        self.min = min
        self.max = max
        self.sum = sum
        self.count = count
    }
}

/// Aggregation of samples into fixed steps.
public enum Rollup {
    /// Aggregates time-ordered `samples` into buckets of `stepMs` aligned to multiples of the step.
    public static func buckets(_ samples: [Sample], stepMs: Int64) -> [RollupPoint] {
        precondition(stepMs > 0)
        var points: [RollupPoint] = []
        for sample in samples {
            let start = floorDiv(sample.ts, stepMs) * stepMs
            if let last = points.last, last.ts == start {
                points[points.count - 1].min = Swift.min(last.min, sample.value)
                points[points.count - 1].max = Swift.max(last.max, sample.value)
                points[points.count - 1].sum += sample.value
                points[points.count - 1].count += 1
            } else {
                points.append(RollupPoint(ts: start, min: sample.value, max: sample.value, sum: sample.value, count: 1))
            }
        }
        return points
    }

    /// `a / b` rounded towards negative infinity.
    public static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }
}
