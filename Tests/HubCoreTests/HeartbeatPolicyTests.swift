import Testing

@testable import HubCore

@Suite("HeartbeatPolicy")
struct HeartbeatPolicyTests {
    @Test func defaults() {
        let policy = HeartbeatPolicy()
        #expect(policy.intervalMs == 15_000)
        #expect(policy.missedLimit == 3)
    }

    @Test func expiresAtExactlyThreeIntervals() {
        let policy = HeartbeatPolicy()
        #expect(policy.verdict(lastActivity: 1_000, now: 1_000) == .ping)
        #expect(policy.verdict(lastActivity: 1_000, now: 16_000) == .ping)
        #expect(policy.verdict(lastActivity: 1_000, now: 45_999) == .ping)
        #expect(policy.verdict(lastActivity: 1_000, now: 46_000) == .expire)
        #expect(policy.verdict(lastActivity: 1_000, now: 1_000_000) == .expire)
    }

    @Test func customPolicy() {
        let policy = HeartbeatPolicy(intervalMs: 100, missedLimit: 2)
        #expect(policy.verdict(lastActivity: 0, now: 199) == .ping)
        #expect(policy.verdict(lastActivity: 0, now: 200) == .expire)
        // Activity in the future (clock skew between threads) is not an expiry.
        #expect(policy.verdict(lastActivity: 500, now: 0) == .ping)
    }
}

@Suite("HeartbeatPolicy.assess")
struct HeartbeatAssessmentTests {
    let policy = HeartbeatPolicy(intervalMs: 1_000)

    @Test func tokenExpiryComesFirstThenStalledWritesThenSilence() {
        #expect(policy.assess(lastActivity: 0, writeStartedAt: 0, tokenExpiresAt: 500, now: 500) == .tokenExpired)
        #expect(policy.assess(lastActivity: 2_999, writeStartedAt: 0, tokenExpiresAt: .max, now: 3_000) == .stalled)
        #expect(policy.assess(lastActivity: 2_999, writeStartedAt: 1, tokenExpiresAt: .max, now: 3_000) == .ping)
        #expect(policy.assess(lastActivity: 0, writeStartedAt: nil, tokenExpiresAt: .max, now: 3_000) == .expire)
        #expect(policy.assess(lastActivity: 1, writeStartedAt: nil, tokenExpiresAt: .max, now: 3_000) == .ping)
    }
}
