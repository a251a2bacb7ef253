import Testing

@testable import HubCore

@Suite("ResumeJournal: which dropped subscriptions can resume, and from where")
struct ResumeJournalTests {
    private let temp = SeriesKey(device: "thermo-1", metric: "temp")
    private let hum = SeriesKey(device: "thermo-1", metric: "hum")

    private func selectors(_ texts: [String]) -> [SeriesSelector] {
        texts.compactMap { try? SeriesSelector(parsing: $0) }
    }

    /// A record whose batch log holds `logged` (seq, oldest ts) pairs.
    private func record(
        sub: String = "s1", selectors texts: [String] = ["thermo-*/temp", "*/hum"], lastSeq: UInt64 = 10,
        logged: [(UInt64, Int64)] = [], delivered: [SeriesKey: Int64] = [:], subscribedAt: Int64 = 100,
        detachedAt: Int64 = 1_000
    ) -> RememberedSubscription {
        RememberedSubscription(
            sub: sub, selectors: selectors(texts), rateMs: 250, lastSeq: lastSeq, delivered: delivered,
            batches: logged.map { BatchMark(seq: $0.0, minTs: $0.1) }, subscribedAt: subscribedAt,
            detachedAt: detachedAt)
    }

    // MARK: canResume / replayFrom

    @Test func canResumeOnlyWhenEveryLaterBatchIsRemembered() {
        let full = record(lastSeq: 10, logged: (6...10).map { (UInt64($0), Int64($0) * 100) })
        #expect(full.canResume(afterSeq: 10))  // saw everything
        #expect(full.canResume(afterSeq: 9))
        #expect(full.canResume(afterSeq: 5))  // batches 6…10 are all known
        #expect(!full.canResume(afterSeq: 4))  // batch 5 is forgotten
        #expect(!full.canResume(afterSeq: 0))
        #expect(!full.canResume(afterSeq: 11))  // a seq the hub never sent
        #expect(!full.canResume(afterSeq: .max))

        let noLog = record(lastSeq: 10, logged: [])
        #expect(noLog.canResume(afterSeq: 10))
        #expect(!noLog.canResume(afterSeq: 9))

        let fresh = record(lastSeq: 0, logged: [])
        #expect(fresh.canResume(afterSeq: 0))
        #expect(!fresh.canResume(afterSeq: 1))

        // A resumed subscription's log starts after the seq it was resumed at.
        let resumed = record(lastSeq: 20, logged: [(18, 10), (19, 30), (20, 50)])
        #expect(resumed.canResume(afterSeq: 17))
        #expect(!resumed.canResume(afterSeq: 16))
    }

    @Test func replayStartsAfterTheNewestDeliveredOrAtTheOldestMissedBatch() {
        let remembered = record(
            lastSeq: 10, logged: [(8, 300), (9, 450), (10, 480)], delivered: [temp: 500], subscribedAt: 100)
        #expect(remembered.replayFrom(temp, afterSeq: 10) == 501)
        #expect(remembered.replayFrom(temp, afterSeq: 9) == 480)
        #expect(remembered.replayFrom(temp, afterSeq: 8) == 450)
        #expect(remembered.replayFrom(temp, afterSeq: 7) == 300)
        // Never delivered: everything since the subscription began (its snapshot held what came before).
        #expect(remembered.replayFrom(hum, afterSeq: 10) == 100)
        #expect(remembered.replayFrom(hum, afterSeq: 7) == 100)
        // Missed batches older than the subscription start still count.
        let early = record(lastSeq: 2, logged: [(1, 50), (2, 60)], subscribedAt: 100)
        #expect(early.replayFrom(hum, afterSeq: 0) == 50)
        // No overflow at the end of time.
        let last = record(lastSeq: 1, logged: [(1, .max)], delivered: [temp: .max])
        #expect(last.replayFrom(temp, afterSeq: 1) == .max)
    }

    @Test func missedSamplesComeFromTheRingUnlessItEvictedSome() {
        let remembered = record(lastSeq: 10, logged: [(10, 500)], delivered: [temp: 500])
        var ring = SeriesRing(capacity: 4)
        for ts in stride(from: Int64(400), through: 700, by: 100) { ring.append(Sample(ts: ts, value: Double(ts))) }
        // Full ring whose oldest (400) is before the replay start (501): everything after 500 is held.
        #expect(
            remembered.missed(temp, in: ring, afterSeq: 10) == [
                Sample(ts: 600, value: 600), Sample(ts: 700, value: 700),
            ])
        // One more sample evicts 400; still fine. Two more evict 500 and 600: the oldest (700) is after 501.
        ring.append(Sample(ts: 800, value: 800))
        #expect(remembered.missed(temp, in: ring, afterSeq: 10)?.count == 3)
        ring.append(Sample(ts: 900, value: 900))
        ring.append(Sample(ts: 1_000, value: 1_000))
        #expect(remembered.missed(temp, in: ring, afterSeq: 10) == nil)
        // A ring that never filled holds the series' whole life: nothing can be missing.
        var young = SeriesRing(capacity: 10)
        young.append(Sample(ts: 900, value: 1))
        #expect(remembered.missed(temp, in: young, afterSeq: 10) == [Sample(ts: 900, value: 1)])
    }

    // MARK: claim

    @Test func claimMatchesOwnerSubAndSelectorsInAnyOrder() {
        var journal = ResumeJournal(windowMs: 60_000, limit: 100)
        journal.remember([record(selectors: ["thermo-*/temp", "*/hum"])], owner: "alice", now: 1_000)
        #expect(journal.count == 1)
        let wanted = selectors(["thermo-*/temp", "*/hum"])
        #expect(journal.claim(owner: "bob", sub: "s1", selectors: wanted, afterSeq: 10, now: 1_000) == nil)
        #expect(journal.claim(owner: "alice", sub: "s2", selectors: wanted, afterSeq: 10, now: 1_000) == nil)
        #expect(
            journal.claim(owner: "alice", sub: "s1", selectors: selectors(["thermo-*/temp"]), afterSeq: 10, now: 1_000)
                == nil)
        #expect(
            journal.claim(
                owner: "alice", sub: "s1", selectors: selectors(["thermo-*/temp", "*/hum", "*/co2"]), afterSeq: 10,
                now: 1_000) == nil)
        #expect(journal.claim(owner: "alice", sub: "s1", selectors: wanted, afterSeq: 11, now: 1_000) == nil)
        #expect(journal.count == 1)

        let claimed = journal.claim(
            owner: "alice", sub: "s1", selectors: selectors(["*/hum", "thermo-*/temp"]), afterSeq: 10, now: 1_000)
        #expect(claimed == record(selectors: ["thermo-*/temp", "*/hum"]))
        // A claim takes the record away.
        #expect(journal.count == 0)
        #expect(journal.claim(owner: "alice", sub: "s1", selectors: wanted, afterSeq: 10, now: 1_000) == nil)
    }

    @Test func theNewestResumableRecordWins() {
        var journal = ResumeJournal(windowMs: 60_000, limit: 100)
        let older = record(lastSeq: 5, logged: [(5, 50)], detachedAt: 1_000)
        let newer = record(lastSeq: 7, logged: [(5, 50), (6, 60), (7, 70)], detachedAt: 2_000)
        journal.remember([older], owner: "alice", now: 1_000)
        journal.remember([newer], owner: "alice", now: 2_000)
        let wanted = selectors(["thermo-*/temp", "*/hum"])
        #expect(journal.claim(owner: "alice", sub: "s1", selectors: wanted, afterSeq: 5, now: 2_500) == newer)
        #expect(journal.claim(owner: "alice", sub: "s1", selectors: wanted, afterSeq: 5, now: 2_500) == older)
        #expect(journal.count == 0)

        // A newer record that cannot resume after the client's seq does not hide an older one that can.
        journal.remember([record(lastSeq: 3, detachedAt: 3_000)], owner: "alice", now: 3_000)
        journal.remember([record(lastSeq: 9, logged: [(9, 90)], detachedAt: 3_100)], owner: "alice", now: 3_100)
        #expect(journal.claim(owner: "alice", sub: "s1", selectors: wanted, afterSeq: 3, now: 3_200)?.lastSeq == 3)
        #expect(journal.count == 1)
    }

    // MARK: Expiry and limits

    @Test func recordsExpireAfterTheWindow() {
        var journal = ResumeJournal(windowMs: 1_000, limit: 100)
        journal.remember([record(detachedAt: 0)], owner: "alice", now: 0)
        journal.remember([record(sub: "s2", detachedAt: 500)], owner: "alice", now: 500)
        let wanted = selectors(["thermo-*/temp", "*/hum"])
        var probe = journal
        #expect(probe.claim(owner: "alice", sub: "s1", selectors: wanted, afterSeq: 10, now: 999) != nil)
        probe = journal
        #expect(probe.claim(owner: "alice", sub: "s1", selectors: wanted, afterSeq: 10, now: 1_000) == nil)
        #expect(probe.count == 1)  // the claim expired the old record on the way

        journal.expire(now: 1_499)
        #expect(journal.count == 1)
        #expect(journal.claim(owner: "alice", sub: "s2", selectors: wanted, afterSeq: 10, now: 1_499) != nil)
        journal.remember([record(sub: "s3", detachedAt: 2_000)], owner: "alice", now: 2_000)
        journal.expire(now: 3_000)
        #expect(journal.count == 0)
    }

    @Test func theOldestRecordsGoBeyondTheLimit() {
        var journal = ResumeJournal(windowMs: 60_000, limit: 2)
        journal.remember([record(sub: "a", detachedAt: 1), record(sub: "b", detachedAt: 1)], owner: "alice", now: 1)
        journal.remember([record(sub: "c", detachedAt: 2)], owner: "alice", now: 2)
        #expect(journal.count == 2)
        let wanted = selectors(["thermo-*/temp", "*/hum"])
        #expect(journal.claim(owner: "alice", sub: "a", selectors: wanted, afterSeq: 10, now: 3) == nil)
        #expect(journal.claim(owner: "alice", sub: "b", selectors: wanted, afterSeq: 10, now: 3) != nil)
        #expect(journal.claim(owner: "alice", sub: "c", selectors: wanted, afterSeq: 10, now: 3) != nil)
    }

    @Test func aZeroWindowOrLimitRemembersNothing() {
        var noWindow = ResumeJournal(windowMs: 0, limit: 10)
        noWindow.remember([record()], owner: "alice", now: 1_000)
        #expect(noWindow.count == 0)
        var noRoom = ResumeJournal(windowMs: 60_000, limit: 0)
        noRoom.remember([record()], owner: "alice", now: 1_000)
        #expect(noRoom.count == 0)
    }

    @Test func ownersAreKeptApart() {
        var journal = ResumeJournal(windowMs: 60_000, limit: 10)
        journal.remember([record(lastSeq: 4)], owner: "alice", now: 1_000)
        journal.remember([record(lastSeq: 8)], owner: "bob", now: 1_001)
        let wanted = selectors(["thermo-*/temp", "*/hum"])
        #expect(journal.claim(owner: "alice", sub: "s1", selectors: wanted, afterSeq: 4, now: 1_002)?.lastSeq == 4)
        #expect(journal.claim(owner: "alice", sub: "s1", selectors: wanted, afterSeq: 8, now: 1_002) == nil)
        #expect(journal.claim(owner: "bob", sub: "s1", selectors: wanted, afterSeq: 8, now: 1_002)?.lastSeq == 8)
    }
}
