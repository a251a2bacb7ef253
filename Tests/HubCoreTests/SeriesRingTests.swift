import Testing

@testable import HubCore

@Suite("SeriesRing")
struct SeriesRingTests {
    private func ring(capacity: Int, _ timestamps: [Int64]) -> SeriesRing {
        var ring = SeriesRing(capacity: capacity)
        for ts in timestamps { ring.append(Sample(ts: ts, value: Double(ts))) }
        return ring
    }

    private func tss(_ samples: [Sample]) -> [Int64] { samples.map(\.ts) }

    @Test func emptyRing() {
        let ring = SeriesRing(capacity: 4)
        #expect(ring.count == 0)
        #expect(ring.capacity == 4)
        #expect(ring.latest == nil)
        #expect(ring.oldest == nil)
        #expect(ring.all.isEmpty)
        #expect(ring.range(from: .min, to: .max).isEmpty)
        #expect(ring.firstIndex(atOrAfter: 0) == 0)
    }

    @Test func appendInOrder() {
        var ring = SeriesRing(capacity: 4)
        #expect(ring.append(Sample(ts: 10, value: 1)) == .appended)
        #expect(ring.append(Sample(ts: 20, value: 2)) == .appended)
        #expect(ring.count == 2)
        #expect(ring.oldest == Sample(ts: 10, value: 1))
        #expect(ring.latest == Sample(ts: 20, value: 2))
        #expect(ring[0] == Sample(ts: 10, value: 1))
        #expect(ring[1] == Sample(ts: 20, value: 2))
    }

    @Test func wraparoundKeepsTheNewest() {
        var ring = SeriesRing(capacity: 4)
        for ts in Int64(1)...10 {
            #expect(ring.append(Sample(ts: ts * 10, value: Double(ts))) == .appended)
            #expect(ring.count == min(Int(ts), 4))
        }
        #expect(ring.count == 4)
        #expect(
            ring.all == [
                Sample(ts: 70, value: 7), Sample(ts: 80, value: 8), Sample(ts: 90, value: 9),
                Sample(ts: 100, value: 10),
            ])
        #expect(ring.oldest?.ts == 70)
        #expect(ring.latest?.ts == 100)
        #expect((0..<4).map { ring[$0].ts } == [70, 80, 90, 100])
    }

    @Test func capacityOne() {
        var ring = SeriesRing(capacity: 1)
        ring.append(Sample(ts: 1, value: 1))
        ring.append(Sample(ts: 2, value: 2))
        #expect(ring.all == [Sample(ts: 2, value: 2)])
        #expect(ring.append(Sample(ts: 1, value: 9)) == .droppedLate)
        #expect(ring.append(Sample(ts: 2, value: 5)) == .replaced)
        #expect(ring.all == [Sample(ts: 2, value: 5)])
    }

    @Test func largeCapacityGrowsPastInitialReservation() {
        var ring = SeriesRing(capacity: 100)
        for ts in Int64(0)..<250 { ring.append(Sample(ts: ts, value: Double(ts))) }
        #expect(ring.count == 100)
        #expect(tss(ring.all) == Array(150..<250))
    }

    @Test func duplicateTimestampReplacesValue() {
        var ring = ring(capacity: 4, [10, 20, 30])
        #expect(ring.append(Sample(ts: 30, value: -1)) == .replaced)
        #expect(ring.latest == Sample(ts: 30, value: -1))
        #expect(ring.append(Sample(ts: 20, value: -2)) == .replaced)
        #expect(ring.append(Sample(ts: 10, value: -3)) == .replaced)
        #expect(ring.all == [Sample(ts: 10, value: -3), Sample(ts: 20, value: -2), Sample(ts: 30, value: -1)])
        #expect(ring.count == 3)
    }

    @Test func duplicateAfterWraparound() {
        var ring = ring(capacity: 3, [1, 2, 3, 4, 5])  // holds 3, 4, 5 with head moved
        #expect(ring.append(Sample(ts: 4, value: 40)) == .replaced)
        #expect(ring.append(Sample(ts: 3, value: 30)) == .replaced)
        #expect(ring.all == [Sample(ts: 3, value: 30), Sample(ts: 4, value: 40), Sample(ts: 5, value: 5)])
    }

    @Test func lateSampleInsertedInOrderWithinTolerance() {
        var ring = ring(capacity: 8, [10, 20, 40])
        #expect(ring.append(Sample(ts: 30, value: 3), lateToleranceMs: 10) == .inserted)
        #expect(tss(ring.all) == [10, 20, 30, 40])
        #expect(ring[2] == Sample(ts: 30, value: 3))
        // Exactly at the tolerance is still accepted.
        #expect(ring.append(Sample(ts: 15, value: 1.5), lateToleranceMs: 25) == .inserted)
        #expect(tss(ring.all) == [10, 15, 20, 30, 40])
        // Older than the oldest of a ring that is not full: goes first.
        #expect(ring.append(Sample(ts: 5, value: 0.5)) == .inserted)
        #expect(tss(ring.all) == [5, 10, 15, 20, 30, 40])
        #expect(ring.oldest == Sample(ts: 5, value: 0.5))
        #expect(ring.latest == Sample(ts: 40, value: 40))
        // Appending after an insert still works.
        #expect(ring.append(Sample(ts: 50, value: 5)) == .appended)
        #expect(tss(ring.all) == [5, 10, 15, 20, 30, 40, 50])
    }

    @Test func lateSampleBeyondToleranceDropped() {
        var ring = ring(capacity: 8, [10, 20, 40])
        #expect(ring.append(Sample(ts: 29, value: 0), lateToleranceMs: 10) == .droppedLate)
        #expect(ring.append(Sample(ts: 5, value: 0), lateToleranceMs: 10) == .droppedLate)
        #expect(tss(ring.all) == [10, 20, 40])
        #expect(ring.count == 3)
    }

    @Test func lateSampleIntoFullRingEvictsOldest() {
        var ring = ring(capacity: 4, [10, 20, 30, 40, 50, 60])  // holds 30...60, wrapped
        #expect(ring.append(Sample(ts: 45, value: 4.5)) == .inserted)
        #expect(tss(ring.all) == [40, 45, 50, 60])
        #expect(ring.count == 4)
        #expect(ring.append(Sample(ts: 70, value: 7)) == .appended)
        #expect(tss(ring.all) == [45, 50, 60, 70])
    }

    @Test func lateSampleOlderThanOldestOfFullRingDropped() {
        var ring = ring(capacity: 4, [10, 20, 30, 40, 50, 60])  // holds 30...60
        #expect(ring.append(Sample(ts: 25, value: 0)) == .droppedLate)
        #expect(ring.append(Sample(ts: 1, value: 0)) == .droppedLate)
        #expect(tss(ring.all) == [30, 40, 50, 60])
        // Equal to the oldest is a replacement, not a drop.
        #expect(ring.append(Sample(ts: 30, value: -30)) == .replaced)
        #expect(ring.oldest == Sample(ts: 30, value: -30))
    }

    @Test func rangeBoundsAreInclusive() {
        let ring = ring(capacity: 10, [10, 20, 30, 40, 50])
        #expect(tss(ring.range(from: 20, to: 40)) == [20, 30, 40])
        #expect(tss(ring.range(from: 19, to: 41)) == [20, 30, 40])
        #expect(tss(ring.range(from: 21, to: 39)) == [30])
        #expect(tss(ring.range(from: 30, to: 30)) == [30])
        #expect(tss(ring.range(from: .min, to: .max)) == [10, 20, 30, 40, 50])
        #expect(tss(ring.range(from: 50, to: .max)) == [50])
        #expect(tss(ring.range(from: .min, to: 10)) == [10])
        #expect(
            ring.range(from: 20, to: 40) == [
                Sample(ts: 20, value: 20), Sample(ts: 30, value: 30), Sample(ts: 40, value: 40),
            ])
    }

    @Test func emptyRanges() {
        let ring = ring(capacity: 10, [10, 20, 30])
        #expect(ring.range(from: 21, to: 29).isEmpty)
        #expect(ring.range(from: 31, to: 100).isEmpty)
        #expect(ring.range(from: 0, to: 9).isEmpty)
        #expect(ring.range(from: 30, to: 20).isEmpty)  // from after to
        #expect(ring.range(from: 10, to: 30, limit: 0).isEmpty)
        #expect(ring.range(from: .max, to: .max).isEmpty)
    }

    @Test func limitKeepsTheNewest() {
        let ring = ring(capacity: 10, [10, 20, 30, 40, 50])
        #expect(tss(ring.range(from: .min, to: .max, limit: 2)) == [40, 50])
        #expect(tss(ring.range(from: 10, to: 40, limit: 3)) == [20, 30, 40])
        #expect(tss(ring.range(from: 10, to: 40, limit: 1)) == [40])
        #expect(tss(ring.range(from: 10, to: 40, limit: 100)) == [10, 20, 30, 40])
    }

    @Test func rangeAfterWraparound() {
        let ring = ring(capacity: 4, Array(stride(from: Int64(10), through: 100, by: 10)))  // 70, 80, 90, 100
        #expect(tss(ring.range(from: 75, to: 95)) == [80, 90])
        #expect(tss(ring.range(from: 0, to: 80)) == [70, 80])
        #expect(tss(ring.range(from: 0, to: 1_000, limit: 3)) == [80, 90, 100])
        #expect(ring.range(from: 10, to: 60).isEmpty)
        #expect(ring.firstIndex(atOrAfter: 85) == 2)
        #expect(ring.firstIndex(atOrAfter: 101) == 4)
        #expect(ring.firstIndex(atOrAfter: 0) == 0)
    }

    @Test func negativeTimestamps() {
        var ring = ring(capacity: 4, [-30, -20, -10])
        #expect(ring.append(Sample(ts: -25, value: 0)) == .inserted)
        #expect(tss(ring.all) == [-30, -25, -20, -10])
        #expect(tss(ring.range(from: -26, to: -15)) == [-25, -20])
    }

    // MARK: Property test

    /// A brute-force model of the documented rules: a sorted array, trimmed from the front.
    private struct Model {
        let capacity: Int
        var samples: [Sample] = []

        mutating func append(_ sample: Sample, tolerance: Int64) -> AppendOutcome {
            guard let newest = samples.last else {
                samples.append(sample)
                return .appended
            }
            if sample.ts > newest.ts {
                samples.append(sample)
                if samples.count > capacity { samples.removeFirst() }
                return .appended
            }
            if sample.ts == newest.ts {
                samples[samples.count - 1].value = sample.value
                return .replaced
            }
            if newest.ts - sample.ts > tolerance { return .droppedLate }
            if let index = samples.firstIndex(where: { $0.ts == sample.ts }) {
                samples[index].value = sample.value
                return .replaced
            }
            if samples.count == capacity, sample.ts < samples[0].ts { return .droppedLate }
            samples.append(sample)
            samples.sort { $0.ts < $1.ts }
            if samples.count > capacity { samples.removeFirst() }
            return .inserted
        }

        func range(from: Int64, to: Int64, limit: Int) -> [Sample] {
            let inside = samples.filter { $0.ts >= from && $0.ts <= to }
            return Array(inside.suffix(limit))
        }
    }

    @Test(arguments: [(1, Int64(5)), (3, 20), (5, 1_000), (8, 0)])
    func randomOperationsMatchModel(capacity: Int, tolerance: Int64) {
        var random = SeededRandom(seed: UInt64(capacity) &* 7_919 &+ UInt64(tolerance))
        var ring = SeriesRing(capacity: capacity)
        var model = Model(capacity: capacity)
        var clock: Int64 = 1_000
        var outcomes: [AppendOutcome: Int] = [:]
        for step in 0..<4_000 {
            // Mostly moving forward, often late, sometimes repeating.
            let choice = Int.random(in: 0..<10, using: &random)
            let ts: Int64
            switch choice {
            case 0..<4:
                clock += Int64.random(in: 1...10, using: &random)
                ts = clock
            case 4..<8:
                ts = clock - Int64.random(in: 0...40, using: &random)
            default:
                ts = clock
            }
            let sample = Sample(ts: ts, value: Double(step))
            let expected = model.append(sample, tolerance: tolerance)
            let actual = ring.append(sample, lateToleranceMs: tolerance)
            outcomes[actual, default: 0] += 1
            #expect(actual == expected, "step \(step): offered \(ts) to \(model.samples.map(\.ts))")
            #expect(ring.count == model.samples.count)
            #expect(ring.all == model.samples, "step \(step)")
            #expect(ring.latest == model.samples.last)
            #expect(ring.oldest == model.samples.first)
            guard ring.all == model.samples else { return }

            let from = clock - Int64.random(in: -5...60, using: &random)
            let to = from + Int64.random(in: -5...60, using: &random)
            let limit = Int.random(in: 0...(capacity + 2), using: &random)
            #expect(ring.range(from: from, to: to, limit: limit) == model.range(from: from, to: to, limit: limit))
            #expect(ring.range(from: from, to: to) == model.range(from: from, to: to, limit: .max))
        }
        // The generator exercised every path (capacity 1 can never insert).
        #expect(outcomes[.appended, default: 0] > 0)
        #expect(outcomes[.replaced, default: 0] > 0)
        #expect(outcomes[.droppedLate, default: 0] > 0 || tolerance >= 40)
        #expect(outcomes[.inserted, default: 0] > 0 || capacity == 1 || tolerance == 0)
    }
}
