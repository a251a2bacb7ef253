import Testing

@testable import HubCore

@Suite("SmoothingWindow")
struct SmoothingWindowTests {
    /// The function over the window computed the slow way: the samples with `ts > newest - windowMs`, at most the
    /// `maxSamples` newest of them, and always the newest.
    private func bruteForce(_ samples: [Sample], _ smoothing: AlertSmoothing, maxSamples: Int) -> Double {
        let newest = samples.last!
        let inWindow = samples.filter { $0.ts > newest.ts - smoothing.windowMs }.suffix(max(1, maxSamples))
        let values = inWindow.isEmpty ? [newest.value] : inWindow.map(\.value)
        switch smoothing.fn {
        case .avg: return values.reduce(0, +) / Double(values.count)
        case .min: return values.min()!
        case .max: return values.max()!
        }
    }

    /// How many samples the window should hold after `samples`.
    private func bruteCount(_ samples: [Sample], windowMs: Int64, maxSamples: Int) -> Int {
        let newest = samples.last!
        return max(1, min(max(1, maxSamples), samples.filter { $0.ts > newest.ts - windowMs }.count))
    }

    @Test(arguments: SmoothingFunction.allCases)
    func matchesBruteForceOverRandomSequences(fn: SmoothingFunction) {
        var random = SeededRandom(seed: 0x5EED_0000 + UInt64(fn.rawValue.utf8.first!))
        for windowMs: Int64 in [1, 7, 50, 1_000, 86_400_000] {
            for maxSamples in [1, 2, 5, 100, 10_000] {
                var window = SmoothingWindow(AlertSmoothing(fn: fn, windowMs: windowMs), maxSamples: maxSamples)
                var samples: [Sample] = []
                var ts = Int64.random(in: 0...1_000_000_000_000, using: &random)
                for step in 0..<600 {
                    // Gaps from 0 (equal timestamps) to well past the window; values from a few shapes.
                    let gap: Int64 =
                        switch Int.random(in: 0..<10, using: &random) {
                        case 0: 0
                        case 1: windowMs * 2 + Int64.random(in: 0...50, using: &random)
                        case 2: windowMs
                        default: Int64.random(in: 0...max(1, windowMs / 4), using: &random)
                        }
                    ts += gap
                    let value: Double =
                        switch step % 4 {
                        case 0: Double(Int.random(in: -5...5, using: &random))  // many ties
                        case 1: Double.random(in: -1_000...1_000, using: &random)
                        case 2: Double.random(in: 0...1, using: &random) * 1e-3
                        default: Double(step)  // a rising run
                        }
                    let sample = Sample(ts: ts, value: value)
                    samples.append(sample)
                    let got = window.add(sample)
                    let expected = bruteForce(samples, window.smoothing, maxSamples: maxSamples)
                    let count = bruteCount(samples, windowMs: windowMs, maxSamples: maxSamples)
                    #expect(window.count == count, "fn \(fn) window \(windowMs) max \(maxSamples) step \(step)")
                    switch fn {
                    case .avg:
                        let tolerance = 1e-9 * max(1, abs(expected))
                        #expect(
                            abs(got - expected) <= tolerance,
                            "avg window \(windowMs) max \(maxSamples) step \(step): \(got) vs \(expected)")
                    case .min, .max:
                        #expect(got == expected, "\(fn) window \(windowMs) max \(maxSamples) step \(step)")
                    }
                }
            }
        }
    }

    @Test func evictsByTimeWithAnOpenLowerBound() {
        var window = SmoothingWindow(AlertSmoothing(fn: .avg, windowMs: 1_000))
        #expect(window.add(Sample(ts: 0, value: 10)) == 10)
        #expect(window.add(Sample(ts: 500, value: 20)) == 15)
        #expect(window.count == 2)
        // The window is (ts - window_ms, ts]: the sample at exactly 1000 ms before goes.
        #expect(window.add(Sample(ts: 1_000, value: 30)) == 25)
        #expect(window.count == 2)
        #expect(window.add(Sample(ts: 1_499, value: 40)) == 30)
        #expect(window.count == 3)
        #expect(window.add(Sample(ts: 2_499, value: 0)) == 0)
        #expect(window.count == 1)
    }

    @Test func keepsTheNewestSampleAfterALongGap() {
        for fn in SmoothingFunction.allCases {
            var window = SmoothingWindow(AlertSmoothing(fn: fn, windowMs: 100))
            _ = window.add(Sample(ts: 0, value: 1))
            _ = window.add(Sample(ts: 50, value: 9))
            #expect(window.add(Sample(ts: 1_000_000, value: 5)) == 5)
            #expect(window.count == 1)
        }
    }

    @Test func minAndMaxFollowEvictions() {
        var low = SmoothingWindow(AlertSmoothing(fn: .min, windowMs: 100))
        var high = SmoothingWindow(AlertSmoothing(fn: .max, windowMs: 100))
        let values: [(Int64, Double)] = [(0, 5), (10, 1), (20, 9), (30, 3), (110, 4), (120, 7), (131, 6)]
        var lows: [Double] = []
        var highs: [Double] = []
        for (ts, value) in values {
            lows.append(low.add(Sample(ts: ts, value: value)))
            highs.append(high.add(Sample(ts: ts, value: value)))
        }
        // At 110 the window is (10, 110]: 9, 3, 4. At 120: (20, 120]: 3, 4, 7. At 131: (31, 131]: 4, 7, 6.
        #expect(lows == [5, 1, 1, 1, 3, 3, 4])
        #expect(highs == [5, 5, 9, 9, 9, 7, 7])
    }

    @Test func equalTimestampsAllCount() {
        var window = SmoothingWindow(AlertSmoothing(fn: .avg, windowMs: 10))
        #expect(window.add(Sample(ts: 100, value: 1)) == 1)
        #expect(window.add(Sample(ts: 100, value: 2)) == 1.5)
        #expect(window.add(Sample(ts: 100, value: 6)) == 3)
        #expect(window.count == 3)
        #expect(window.add(Sample(ts: 110, value: 0)) == 0)
        #expect(window.count == 1)
    }

    @Test func maxSamplesCapsTheWindow() {
        for fn in SmoothingFunction.allCases {
            var window = SmoothingWindow(AlertSmoothing(fn: fn, windowMs: 86_400_000), maxSamples: 3)
            #expect(window.maxSamples == 3)
            var results: [Double] = []
            for (index, value) in [10.0, 1, 2, 3, 20, 4, 5, 6].enumerated() {
                results.append(window.add(Sample(ts: Int64(index), value: value)))
                #expect(window.count == min(index + 1, 3))
            }
            switch fn {
            case .avg:
                let expected: [Double] = [10, 5.5, 13.0 / 3, 2, 25.0 / 3, 9, 29.0 / 3, 5]
                #expect(results == expected)
            case .min: #expect(results == [10, 1, 1, 1, 2, 3, 4, 4])
            case .max: #expect(results == [10, 10, 10, 3, 20, 20, 20, 6])
            }
        }
    }

    @Test func maxSamplesIsAtLeastOne() {
        var window = SmoothingWindow(AlertSmoothing(fn: .avg, windowMs: 1_000), maxSamples: 0)
        #expect(window.maxSamples == 1)
        #expect(window.add(Sample(ts: 1, value: 3)) == 3)
        #expect(window.add(Sample(ts: 2, value: 5)) == 5)
        #expect(window.count == 1)
    }

    @Test func longRunsDoNotDrift() {
        // Many adds and evictions (through several compactions): the average stays exact for exact inputs.
        var window = SmoothingWindow(AlertSmoothing(fn: .avg, windowMs: 10))
        var last = 0.0
        for step in 0..<100_000 {
            last = window.add(Sample(ts: Int64(step), value: step % 2 == 0 ? 0.1 : 0.7))
        }
        // The window (99989, 99999] holds 10 samples: five of each.
        #expect(window.count == 10)
        #expect(abs(last - 0.4) < 1e-12)
    }
}
