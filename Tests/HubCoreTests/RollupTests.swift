import Testing

@testable import HubCore

@Suite("Rollup")
struct RollupTests {
    @Test func empty() {
        #expect(Rollup.buckets([], stepMs: 1_000).isEmpty)
    }

    @Test func simpleBuckets() {
        let samples = [
            Sample(ts: 1_000, value: 1), Sample(ts: 1_500, value: 3), Sample(ts: 1_999, value: 2),
            Sample(ts: 2_000, value: 10), Sample(ts: 5_250, value: -4),
        ]
        let points = Rollup.buckets(samples, stepMs: 1_000)
        #expect(
            points == [
                RollupPoint(ts: 1_000, min: 1, max: 3, sum: 6, count: 3),
                RollupPoint(ts: 2_000, min: 10, max: 10, sum: 10, count: 1),
                RollupPoint(ts: 5_000, min: -4, max: -4, sum: -4, count: 1),
            ])
        #expect(points.map(\.avg) == [2, 10, -4])
    }

    @Test func negativeTimestampsAlignDownward() {
        #expect(Rollup.floorDiv(-1, 10) == -1)
        #expect(Rollup.floorDiv(-10, 10) == -1)
        #expect(Rollup.floorDiv(-11, 10) == -2)
        #expect(Rollup.floorDiv(0, 10) == 0)
        #expect(Rollup.floorDiv(9, 10) == 0)
        #expect(Rollup.floorDiv(10, 10) == 1)
        let samples = [
            Sample(ts: -21, value: 1), Sample(ts: -20, value: 2), Sample(ts: -11, value: 3), Sample(ts: -10, value: 4),
            Sample(ts: -1, value: 5), Sample(ts: 0, value: 6), Sample(ts: 9, value: 7),
        ]
        let points = Rollup.buckets(samples, stepMs: 10)
        #expect(points.map(\.ts) == [-30, -20, -10, 0])
        #expect(points.map(\.count) == [1, 2, 2, 2])
        #expect(points.map(\.sum) == [1, 5, 9, 13])
    }

    @Test func bucketStartsAreMultiplesOfTheStep() {
        let points = Rollup.buckets([Sample(ts: 1_732_240_012_345, value: 1)], stepMs: 60_000)
        #expect(points.map(\.ts) == [1_732_239_960_000])
        #expect(points[0].ts % 60_000 == 0)
    }

    @Test(arguments: [1, 7, 60, 1_000] as [Int64])
    func matchesBruteForce(step: Int64) {
        var random = SeededRandom(seed: UInt64(step))
        var ts = Int64.random(in: -5_000...0, using: &random)
        var samples: [Sample] = []
        for _ in 0..<2_000 {
            ts += Int64.random(in: 0...25, using: &random)
            samples.append(Sample(ts: ts, value: Double(Int.random(in: -1_000...1_000, using: &random)) / 8))
        }
        var expected: [Int64: (min: Double, max: Double, sum: Double, count: Int)] = [:]
        var order: [Int64] = []
        for sample in samples {
            // Floor division by brute force: the largest multiple of step not above ts.
            var start = (sample.ts / step) * step
            while start > sample.ts { start -= step }
            while start + step <= sample.ts { start += step }
            if let bucket = expected[start] {
                expected[start] = (
                    min(bucket.min, sample.value), max(bucket.max, sample.value), bucket.sum + sample.value,
                    bucket.count + 1
                )
            } else {
                expected[start] = (sample.value, sample.value, sample.value, 1)
                order.append(start)
            }
        }
        let points = Rollup.buckets(samples, stepMs: step)
        #expect(points.map(\.ts) == order)
        #expect(points.map(\.ts) == points.map(\.ts).sorted())
        for point in points {
            guard let bucket = expected[point.ts] else {
                Issue.record("unexpected bucket \(point.ts)")
                continue
            }
            #expect(
                point.min == bucket.min && point.max == bucket.max && point.sum == bucket.sum
                    && point.count == bucket.count)
        }
        #expect(points.reduce(0) { $0 + $1.count } == samples.count)
    }
}
