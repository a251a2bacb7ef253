/// What happened to a sample offered to a ``SeriesRing``.
public enum AppendOutcome: Equatable, Sendable {
    /// Newer than everything held: appended at the end.
    case appended
    /// Same timestamp as a held sample: its value was replaced (last write wins).
    case replaced
    /// Late but inside the ring's span and the late tolerance: inserted in timestamp order.
    case inserted
    /// Older than the late tolerance or than the oldest sample of a full ring: dropped.
    case droppedLate
}

/// A fixed-capacity ring of samples for one series, kept in timestamp order.
///
/// Ordering rules:
/// - a sample newer than the newest held one is appended; when the ring is full the oldest sample is evicted;
/// - a sample with the timestamp of a held one replaces its value (last write wins);
/// - a late sample (older than the newest) is inserted in order when it is no more than `lateToleranceMs` older
///   than the newest sample and not older than the oldest sample of a full ring; otherwise it is dropped.
public struct SeriesRing: Sendable {
    /// The most samples held.
    public let capacity: Int
    private var timestamps: [Int64]
    private var values: [Double]
    /// Physical index of the logical first (oldest) element.
    private var head = 0
    /// Number of samples held.
    public private(set) var count = 0

    /// Creates an empty ring holding at most `capacity` samples.
    public init(capacity: Int) {
        precondition(capacity > 0, "ring capacity must be positive")
        self.capacity = capacity
        // Start small and grow to capacity: most series never fill a 3,600-sample ring quickly.
        let initial = Swift.min(capacity, 16)
        self.timestamps = []
        self.values = []
        self.timestamps.reserveCapacity(initial)
        self.values.reserveCapacity(initial)
    }

    /// Creates a ring holding the newest `capacity` of `samples`, which must be time-ordered with one sample per
    /// timestamp (as an archive returns them); used to warm rings at start-up without the ordering rules' cost.
    public init(capacity: Int, loading samples: [Sample]) {
        precondition(capacity > 0, "ring capacity must be positive")
        self.capacity = capacity
        let kept = samples.suffix(capacity)
        self.timestamps = kept.map(\.ts)
        self.values = kept.map(\.value)
        self.count = kept.count
    }

    @inline(__always)
    private func physical(_ logical: Int) -> Int {
        let index = head + logical
        return index >= timestamps.count ? index - timestamps.count : index
    }

    /// The sample at logical position `index` (0 is the oldest).
    public subscript(index: Int) -> Sample {
        precondition(index >= 0 && index < count)
        let position = physical(index)
        return Sample(ts: timestamps[position], value: values[position])
    }

    /// The newest sample.
    public var latest: Sample? { count == 0 ? nil : self[count - 1] }

    /// The oldest sample.
    public var oldest: Sample? { count == 0 ? nil : self[0] }

    /// Offers a sample, applying the ordering rules.
    @discardableResult
    public mutating func append(_ sample: Sample, lateToleranceMs: Int64 = .max) -> AppendOutcome {
        guard let newest = latest else {
            pushBack(sample)
            return .appended
        }
        if sample.ts > newest.ts {
            pushBack(sample)
            return .appended
        }
        if sample.ts == newest.ts {
            values[physical(count - 1)] = sample.value
            return .replaced
        }
        let (lateness, overflow) = newest.ts.subtractingReportingOverflow(sample.ts)
        if overflow || lateness > lateToleranceMs { return .droppedLate }
        let position = firstIndex(atOrAfter: sample.ts)
        if position < count, self[position].ts == sample.ts {
            values[physical(position)] = sample.value
            return .replaced
        }
        if position == 0 && count == capacity { return .droppedLate }
        insert(sample, at: position)
        return .inserted
    }

    private mutating func pushBack(_ sample: Sample) {
        if timestamps.count < capacity {
            // Still growing: the storage is linear (head == 0) and holds exactly `count` samples.
            timestamps.append(sample.ts)
            values.append(sample.value)
            count += 1
            return
        }
        timestamps[head] = sample.ts
        values[head] = sample.value
        head = head + 1 == capacity ? 0 : head + 1
    }

    private mutating func insert(_ sample: Sample, at position: Int) {
        // Rare path: linearize, insert, trim to capacity.
        var linearTS = [Int64]()
        var linearValues = [Double]()
        linearTS.reserveCapacity(count + 1)
        linearValues.reserveCapacity(count + 1)
        for index in 0..<count {
            let element = self[index]
            linearTS.append(element.ts)
            linearValues.append(element.value)
        }
        linearTS.insert(sample.ts, at: position)
        linearValues.insert(sample.value, at: position)
        if linearTS.count > capacity {
            linearTS.removeFirst()
            linearValues.removeFirst()
        }
        timestamps = linearTS
        values = linearValues
        head = 0
        count = linearTS.count
    }

    /// The logical index of the first sample with `ts >= bound` (count when none).
    public func firstIndex(atOrAfter bound: Int64) -> Int {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if timestamps[physical(mid)] < bound { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Samples with `from <= ts <= to`, oldest first, at most `limit` of them (the newest ones when cut).
    public func range(from: Int64, to: Int64, limit: Int = .max) -> [Sample] {
        guard count > 0, from <= to else { return [] }
        let start = firstIndex(atOrAfter: from)
        let end = to == .max ? count : firstIndex(atOrAfter: to + 1)
        guard start < end else { return [] }
        let first = Swift.max(start, end - Swift.max(0, limit))
        var result: [Sample] = []
        result.reserveCapacity(end - first)
        for index in first..<end { result.append(self[index]) }
        return result
    }

    /// All samples held, oldest first.
    public var all: [Sample] { range(from: .min, to: .max) }
}
