import Testing

@testable import HubCore

@Suite("TokenBucket")
struct TokenBucketTests {
    @Test func startsFullAndAllowsBurst() {
        var bucket = TokenBucket(ratePerSecond: 2, burst: 3)
        #expect(bucket.ratePerSecond == 2)
        #expect(bucket.burst == 3)
        #expect(bucket.take(now: 0) == true)
        #expect(bucket.take(now: 0) == true)
        #expect(bucket.take(now: 0) == true)
        #expect(bucket.take(now: 0) == false)
        #expect(bucket.take(now: 0) == false)
    }

    @Test func refillsOverTime() {
        var bucket = TokenBucket(ratePerSecond: 2, burst: 3)
        for _ in 0..<3 { _ = bucket.take(now: 1_000) }
        #expect(bucket.take(now: 1_000) == false)
        #expect(bucket.take(now: 1_499) == false)  // 0.998 tokens
        #expect(bucket.take(now: 1_500) == true)  // 1.0 token: 0.998 + 0.002
        #expect(bucket.take(now: 1_500) == false)
        #expect(bucket.take(now: 2_000) == true)
        #expect(bucket.take(now: 2_000) == false)
    }

    @Test func refillIsCappedAtBurst() {
        var bucket = TokenBucket(ratePerSecond: 10, burst: 2)
        _ = bucket.take(now: 0)
        _ = bucket.take(now: 0)
        // An hour of silence still only gives back `burst` tokens.
        #expect(bucket.take(now: 3_600_000) == true)
        #expect(bucket.take(now: 3_600_000) == true)
        #expect(bucket.take(now: 3_600_000) == false)
    }

    @Test func clockGoingBackwardsGivesNothing() {
        var bucket = TokenBucket(ratePerSecond: 1, burst: 1)
        #expect(bucket.take(now: 10_000) == true)
        #expect(bucket.take(now: 5_000) == false)
        // Only 0.5 s since 10,000: the earlier call did not move the clock back.
        #expect(bucket.take(now: 10_500) == false)
        #expect(bucket.take(now: 11_000) == true)
    }

    @Test func cost() {
        var bucket = TokenBucket(ratePerSecond: 1, burst: 5)
        #expect(bucket.take(2.5, now: 0) == true)
        #expect(bucket.take(2.5, now: 0) == true)
        #expect(bucket.take(0.5, now: 0) == false)
        #expect(bucket.take(6, now: 100_000) == false)  // more than burst can never be paid
        #expect(bucket.take(5, now: 100_000) == true)
    }

    @Test func sustainedRate() {
        var bucket = TokenBucket(ratePerSecond: 2, burst: 1)
        var grantedAt: [Int64] = []
        for ms in stride(from: Int64(0), to: 10_000, by: 125) where bucket.take(now: ms) { grantedAt.append(ms) }
        // The initial token, then one every 500 ms.
        #expect(grantedAt == Array(stride(from: 0, to: 10_000, by: 500)))
    }
}
