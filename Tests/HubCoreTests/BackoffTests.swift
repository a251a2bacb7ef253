import Testing

@testable import HubCore

@Suite("Backoff and SeededRandom")
struct BackoffTests {
    @Test func defaults() {
        let backoff = Backoff()
        #expect(backoff.initialMs == 250)
        #expect(backoff.maxMs == 10_000)
        #expect(backoff.multiplier == 2)
    }

    @Test func delaysStayWithinHalfCapAndCap() {
        let backoff = Backoff()
        var random = SeededRandom(seed: 1)
        for attempt in 0..<40 {
            let cap = min(10_000, 250 * Double(1 << min(attempt, 30)))
            for _ in 0..<200 {
                let delay = backoff.delayMs(attempt: attempt, using: &random)
                #expect(delay >= cap / 2 && delay <= cap, "attempt \(attempt): \(delay) outside [\(cap / 2), \(cap)]")
            }
        }
    }

    @Test func growthAndCap() {
        let backoff = Backoff(initialMs: 100, maxMs: 5_000, multiplier: 3)
        var random = SeededRandom(seed: 9)
        func range(_ attempt: Int) -> ClosedRange<Double> {
            var low = Double.infinity
            var high = -Double.infinity
            for _ in 0..<2_000 {
                let delay = backoff.delayMs(attempt: attempt, using: &random)
                low = min(low, delay)
                high = max(high, delay)
            }
            return low...high
        }
        // attempt 0: [50, 100]; 1: [150, 300]; 2: [450, 900]; 3: [1350, 2700]; 4+: capped at [2500, 5000].
        for (attempt, cap) in [(0, 100.0), (1, 300), (2, 900), (3, 2_700), (4, 5_000), (10, 5_000), (1_000, 5_000)] {
            let observed = range(attempt)
            #expect(observed.lowerBound >= cap / 2 && observed.upperBound <= cap, "attempt \(attempt): \(observed)")
            // Jitter spreads over the whole interval.
            #expect(observed.lowerBound < cap / 2 * 1.05, "attempt \(attempt): \(observed)")
            #expect(observed.upperBound > cap * 0.95, "attempt \(attempt): \(observed)")
        }
    }

    @Test func hugeAttemptDoesNotOverflow() {
        var random = SeededRandom(seed: 3)
        let delay = Backoff(initialMs: 1, maxMs: 1e300, multiplier: 10).delayMs(attempt: .max, using: &random)
        #expect(delay.isFinite)
        #expect(delay >= 0.5e30 && delay <= 1e30)  // the exponent is capped at 30
    }

    @Test func sameSeedSameDelays() {
        var a = SeededRandom(seed: 77)
        var b = SeededRandom(seed: 77)
        let backoff = Backoff()
        let first = (0..<20).map { backoff.delayMs(attempt: $0, using: &a) }
        let second = (0..<20).map { backoff.delayMs(attempt: $0, using: &b) }
        #expect(first == second)
    }

    @Test func seededRandomIsSplitMix64() {
        var random = SeededRandom(seed: 0)
        // Reference outputs of SplitMix64 seeded with 0.
        #expect(random.next() == 0xE220_A839_7B1D_CDAF)
        #expect(random.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(random.next() == 0x06C4_5D18_8009_454F)
    }

    @Test func seededRandomRepeatsAndDiffers() {
        var a = SeededRandom(seed: 123)
        var b = SeededRandom(seed: 123)
        var c = SeededRandom(seed: 124)
        let sa = (0..<10).map { _ in a.next() }
        let sb = (0..<10).map { _ in b.next() }
        let sc = (0..<10).map { _ in c.next() }
        #expect(sa == sb)
        #expect(sa != sc)
        #expect(Set(sa).count == 10)
    }
}
