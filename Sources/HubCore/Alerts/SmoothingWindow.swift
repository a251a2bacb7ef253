/// The avg, min or max of the samples in the last `window_ms` (by sample time), updated in amortised O(1) per
/// sample and holding at most `maxSamples` of them (the oldest go first past that).
public struct SmoothingWindow: Sendable {
    /// What it computes.
    public let smoothing: AlertSmoothing
    /// Most samples held.
    public let maxSamples: Int
    private var samples: [Sample] = []
    private var head = 0
    private var sum = 0.0
    /// Candidates for min (values increasing) or max (values decreasing), oldest first.
    private var extremes: [(seq: Int, value: Double)] = []
    private var extremesHead = 0
    /// Sequence number of `samples[head]`; samples are numbered as they are added.
    private var headSeq = 0

    /// Creates an empty window.
    public init(_ smoothing: AlertSmoothing, maxSamples: Int = 10_000) {
        self.smoothing = smoothing
        self.maxSamples = max(1, maxSamples)
    }

    /// Samples in the window.
    public var count: Int { samples.count - head }

    /// Adds a sample (not older than the newest) and returns the function over the window.
    public mutating func add(_ sample: Sample) -> Double {
        let seq = headSeq + count
        samples.append(sample)
        sum += sample.value
        switch smoothing.fn {
        case .avg: break
        case .min:
            while extremes.count > extremesHead, extremes[extremes.count - 1].value >= sample.value {
                extremes.removeLast()
            }
            extremes.append((seq, sample.value))
        case .max:
            while extremes.count > extremesHead, extremes[extremes.count - 1].value <= sample.value {
                extremes.removeLast()
            }
            extremes.append((seq, sample.value))
        }
        let horizon = sample.ts - smoothing.windowMs
        while head < samples.count - 1, samples[head].ts <= horizon || samples.count - head > maxSamples {
            sum -= samples[head].value
            if extremesHead < extremes.count, extremes[extremesHead].seq == headSeq { extremesHead += 1 }
            head += 1
            headSeq += 1
        }
        compact()
        switch smoothing.fn {
        case .avg: return sum / Double(count)
        case .min, .max: return extremes[extremesHead].value
        }
    }

    private mutating func compact() {
        if head > 64, head * 2 > samples.count {
            samples.removeFirst(head)
            head = 0
            sum = samples.reduce(0) { $0 + $1.value }  // no drift from long runs of adds and removes
        }
        if extremesHead > 64, extremesHead * 2 > extremes.count {
            extremes.removeFirst(extremesHead)
            extremesHead = 0
        }
    }
}
