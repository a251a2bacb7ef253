import Foundation
import Testing

@testable import HubCore

// MARK: - Helpers

private let temp1 = "thermo-1/temp"
private let temp2 = "thermo-2/temp"
private let hum1 = "thermo-1/hum"

/// A key the test knows to be valid.
private func series(_ text: String) -> SeriesKey {
    guard let key = SeriesKey(parsing: text) else { fatalError("bad key \(text)") }
    return key
}

/// A selector the test knows to be valid.
private func selector(_ text: String) -> SeriesSelector {
    do {
        return try SeriesSelector(parsing: text)
    } catch {
        fatalError("bad selector \(text)")
    }
}

/// The error `body` throws, or nil when it throws none.
private func thrown<T>(_ body: () throws -> T) -> ProtocolError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error as? ProtocolError
    }
}

/// A number from `JSONSerialization`.
private func number(_ value: Any?) -> Double? {
    if let number = value as? NSNumber { return number.doubleValue }
    if let value = value as? Int { return Double(value) }
    return value as? Double
}

/// One `[series, ts, value]` element of a batch.
private struct Row: Equatable, CustomStringConvertible {
    var series: String
    var ts: Int64
    var value: Double

    init(_ series: String, _ ts: Int64, _ value: Double = 1) {
        self.series = series
        self.ts = ts
        self.value = value
    }

    var description: String { "[\(series),\(ts),\(value)]" }
}

/// A `batch` frame parsed back with Foundation.
private struct Batch: Equatable {
    var sub: String
    var seq: Int
    var samples: [Row]
    var coalesced: Int
}

/// A frame parsed with `JSONSerialization` as one object.
private func jsonObject(_ frame: [UInt8]) throws -> [String: Any] {
    let value = try JSONSerialization.jsonObject(with: Data(frame))
    return try #require(value as? [String: Any], "not an object: \(String(decoding: frame, as: UTF8.self))")
}

/// The `type` of a frame.
private func frameType(_ frame: [UInt8]) throws -> String? {
    try jsonObject(frame)["type"] as? String
}

/// A frame parsed as a `batch`.
private func batch(_ frame: [UInt8]) throws -> Batch {
    let object = try jsonObject(frame)
    #expect(object["type"] as? String == "batch")
    #expect(Set(object.keys) == ["type", "sub", "seq", "samples", "coalesced"])
    let rows = try #require(object["samples"] as? [[Any]])
    let samples = try rows.map { row -> Row in
        try #require(row.count == 3)
        let key = try #require(row[0] as? String)
        let ts = try #require(number(row[1]))
        let value = try #require(number(row[2]))
        return Row(key, Int64(ts), value)
    }
    let sub = try #require(object["sub"] as? String)
    let seq = try #require(number(object["seq"]))
    let coalesced = try #require(number(object["coalesced"]))
    return Batch(sub: sub, seq: Int(seq), samples: samples, coalesced: Int(coalesced))
}

/// The batches among a poll's frames, in order.
private func batches(_ poll: DashboardScheduler.Poll) throws -> [Batch] {
    try poll.frames.filter { try frameType($0) == "batch" }.map(batch)
}

/// The ack a subscribe gets.
private func ack(_ name: String, series: Int = 1, rateMs: Int64 = 0) -> [UInt8] {
    DashboardReply.subscribed(id: .number(1), sub: name, series: series, rateMs: rateMs).encoded
}

/// One dashboard connection as the adapter drives it: a scheduler plus the routes it handed out.
///
/// A class, so that `#expect` can call its methods (it cannot call mutating ones).
private final class Connection {
    var scheduler: DashboardScheduler
    var routes: [SeriesKey: DashboardScheduler.Handle] = [:]

    init(_ configuration: DashboardConfiguration = DashboardConfiguration()) {
        scheduler = DashboardScheduler(configuration: configuration)
    }

    /// Subscribes `name` to `keys` without activating it; the selectors default to the keys themselves.
    @discardableResult
    func subscribe(
        _ name: String, _ keys: [String], selectors: [String]? = nil, rateMs: Int64, now: Int64, seq: UInt64 = 0
    ) throws -> [SeriesKey] {
        let released = try scheduler.subscribe(
            name, selectors: (selectors ?? keys).map(selector), rateMs: rateMs, now: now, seq: seq)
        for key in released { routes[key] = nil }
        for (key, handle) in try scheduler.add(keys.map(series), to: name) { routes[key] = handle }
        return released
    }

    /// Subscribes and activates `name` with an ack and no snapshot, then writes the ack.
    func start(_ name: String, _ keys: [String], selectors: [String]? = nil, rateMs: Int64, now: Int64)
        throws
    {
        try subscribe(name, keys, selectors: selectors, rateMs: rateMs, now: now)
        scheduler.activate(
            name, reply: ack(name, series: keys.count, rateMs: rateMs), snapshot: nil, floors: [:], now: now)
        let poll = scheduler.poll(now: now, buffered: 0)
        #expect(poll.frames.count == 1)
        #expect(try poll.frames.map(frameType) == ["ack"])
    }

    /// Offers a sample of `key` through its route.
    @discardableResult
    func offer(_ key: String, ts: Int64, value: Double = 1, now: Int64, buffered: Int = 0) -> Bool {
        guard let handle = routes[series(key)] else {
            Issue.record("no route for \(key)")
            return false
        }
        return scheduler.offer(handle, ts: ts, value: value, now: now, buffered: buffered)
    }

    func poll(now: Int64, buffered: Int = 0) -> DashboardScheduler.Poll {
        scheduler.poll(now: now, buffered: buffered)
    }

    func offer(_ handle: DashboardScheduler.Handle, ts: Int64, now: Int64, buffered: Int = 0) -> Bool {
        scheduler.offer(handle, ts: ts, value: 1, now: now, buffered: buffered)
    }

    func add(_ keys: [SeriesKey], to name: String) throws(ProtocolError) -> [(SeriesKey, DashboardScheduler.Handle)] {
        try scheduler.add(keys, to: name)
    }

    func unsubscribe(_ name: String) throws(ProtocolError) -> [SeriesKey] {
        try scheduler.unsubscribe(name)
    }

    func setRate(_ name: String, rateMs: Int64) throws(ProtocolError) {
        try scheduler.setRate(name, rateMs: rateMs)
    }

    func seriesAppeared(_ key: SeriesKey) -> DashboardScheduler.Handle? {
        scheduler.seriesAppeared(key)
    }

    func isStuck(now: Int64, buffered: Int) -> Bool {
        scheduler.isStuck(now: now, buffered: buffered)
    }

    @discardableResult
    func enqueue(_ frame: [UInt8]) -> Bool {
        scheduler.enqueue(frame)
    }
}

/// Backpressure marks small enough to reason about.
private let high = 2_048
private let low = 1_024
private let marks = DashboardConfiguration(highWaterBytes: high, lowWaterBytes: low, slowConsumerMs: 30_000)

// MARK: - Tests

@Suite("DashboardScheduler: rates, batching, backpressure, limits and resume")
struct DashboardSchedulerTests {
    // MARK: Rates

    @Test func aSubscriptionGetsAtMostOneBatchPerRate() throws {
        let c = Connection()
        try c.start("s1", [temp1], rateMs: 250, now: 1_000)
        #expect(c.poll(now: 1_000).wakeAt == nil)  // nothing waits: only input can make anything due

        #expect(c.offer(temp1, ts: 1_000, now: 1_000))  // wake the writer: the subscription had nothing waiting
        var poll = c.poll(now: 1_000)
        #expect(poll.frames.isEmpty)
        #expect(poll.wakeAt == 1_250)
        #expect(!poll.close)
        #expect(!c.offer(temp1, ts: 1_100, now: 1_100))  // already waiting: no need to wake
        poll = c.poll(now: 1_249)
        #expect(poll.frames.isEmpty)
        #expect(poll.wakeAt == 1_250)

        poll = c.poll(now: 1_250)
        #expect(
            try batches(poll) == [
                Batch(sub: "s1", seq: 1, samples: [Row(temp1, 1_000), Row(temp1, 1_100)], coalesced: 0)
            ])
        #expect(poll.frames.count == 1)
        #expect(poll.wakeAt == nil)

        #expect(c.offer(temp1, ts: 1_260, now: 1_260))
        poll = c.poll(now: 1_260)
        #expect(poll.frames.isEmpty)
        #expect(poll.wakeAt == 1_500)
        #expect(c.poll(now: 1_499).frames.isEmpty)
        #expect(try batches(c.poll(now: 1_500)).map(\.seq) == [2])

        // After a quiet spell longer than the rate, a new sample goes out at once.
        c.offer(temp1, ts: 5_000, now: 5_000)
        #expect(try batches(c.poll(now: 5_000)).map(\.samples) == [[Row(temp1, 5_000)]])
    }

    @Test func steadyInputAtRate250MakesOneBatchEvery250Ms() throws {
        let c = Connection()
        try c.start("s1", [temp1], rateMs: 250, now: 0)
        var sentAt: [Int64] = []
        var rows: [Row] = []
        var expectedWake: Int64? = nil
        for now in stride(from: Int64(0), through: 3_000, by: 10) {
            c.offer(temp1, ts: now, value: Double(now), now: now)
            let poll = c.poll(now: now)
            let sent = try batches(poll)
            #expect(sent.count <= 1)
            if let first = sent.first {
                #expect(expectedWake == nil || expectedWake == now)
                sentAt.append(now)
                rows += first.samples
                #expect(poll.wakeAt == nil)
            } else {
                #expect(poll.wakeAt == (sentAt.last ?? 0) + 250)
                expectedWake = poll.wakeAt
            }
        }
        #expect(sentAt == Array(stride(from: Int64(250), through: 3_000, by: 250)))
        #expect(rows == stride(from: Int64(0), through: 3_000, by: 10).map { Row(temp1, $0, Double($0)) })
    }

    @Test func rateZeroIsDueAtOnceButStillOneFramePerPollPerSubscription() throws {
        let c = Connection()
        try c.start("s1", [temp1, hum1], rateMs: 0, now: 0)
        try c.start("s2", [temp1], rateMs: 0, now: 0)

        #expect(c.offer(temp1, ts: 1, value: 21.5, now: 5))
        #expect(!c.offer(hum1, ts: 1, value: 40, now: 5))
        #expect(!c.offer(temp1, ts: 2, value: 21.75, now: 5))
        let poll = c.poll(now: 5)
        #expect(poll.frames.count == 2)
        #expect(poll.wakeAt == nil)
        let sent = try batches(poll)
        #expect(
            sent == [
                Batch(
                    sub: "s1", seq: 1, samples: [Row(temp1, 1, 21.5), Row(hum1, 1, 40), Row(temp1, 2, 21.75)],
                    coalesced: 0),
                Batch(sub: "s2", seq: 1, samples: [Row(temp1, 1, 21.5), Row(temp1, 2, 21.75)], coalesced: 0),
            ])
        #expect(c.poll(now: 5).frames.isEmpty)

        #expect(c.offer(hum1, ts: 3, now: 5))
        #expect(try batches(c.poll(now: 5)) == [Batch(sub: "s1", seq: 2, samples: [Row(hum1, 3)], coalesced: 0)])
    }

    @Test func setRateChangesWhenTheNextBatchIsDue() throws {
        let c = Connection()
        try c.start("s1", [temp1], rateMs: 1_000, now: 0)
        c.offer(temp1, ts: 10, now: 10)
        #expect(c.poll(now: 10).wakeAt == 1_000)
        try c.setRate("s1", rateMs: 100)
        #expect(c.poll(now: 10).wakeAt == 100)
        #expect(c.poll(now: 99).frames.isEmpty)
        #expect(try batches(c.poll(now: 100)).map(\.seq) == [1])
        try c.setRate("s1", rateMs: 0)
        c.offer(temp1, ts: 101, now: 101)
        #expect(try batches(c.poll(now: 101)).map(\.seq) == [2])
    }

    // MARK: Batches

    @Test func oneBatchCarriesEverySampleInArrivalOrderAsValidJSON() throws {
        let c = Connection()
        try c.start("panel.main:1", [temp1, temp2, hum1], selectors: ["thermo-*/*"], rateMs: 500, now: 0)
        let offered = [
            Row(temp1, 1_732_240_000_000, 21.5), Row(temp2, 1_732_240_000_001, -3.25), Row(hum1, 1_732_240_000_001, 0),
            Row(temp1, 1_732_240_000_002, 1e6), Row(temp2, 1_732_240_000_000, 0.001),
        ]
        for row in offered { c.offer(row.series, ts: row.ts, value: row.value, now: 100) }
        #expect(c.scheduler.pendingSamples == 5)
        let poll = c.poll(now: 500)
        #expect(poll.frames.count == 1)
        let object = try jsonObject(poll.frames[0])
        #expect(object["type"] as? String == "batch")
        #expect(object["sub"] as? String == "panel.main:1")
        #expect(try batch(poll.frames[0]) == Batch(sub: "panel.main:1", seq: 1, samples: offered, coalesced: 0))
        #expect(c.scheduler.pendingSamples == 0)
        #expect(c.scheduler.counters == .init(samplesSent: 5, samplesCoalesced: 0, batches: 1, stalls: 0))
    }

    @Test func seqIncreasesByOnePerBatchOfEachSubscription() throws {
        let c = Connection()
        try c.start("a", [temp1], rateMs: 0, now: 0)
        try c.start("b", [temp2], rateMs: 0, now: 0)
        var seqs: [String: [Int]] = [:]
        for round in 0..<6 {
            c.offer(temp1, ts: Int64(round), now: Int64(round))
            if round.isMultiple(of: 2) { c.offer(temp2, ts: Int64(round), now: Int64(round)) }
            for sent in try batches(c.poll(now: Int64(round))) { seqs[sent.sub, default: []].append(sent.seq) }
        }
        #expect(seqs["a"] == [1, 2, 3, 4, 5, 6])
        #expect(seqs["b"] == [1, 2, 3])
        #expect(c.scheduler.counters.batches == 9)
        #expect(c.scheduler.counters.samplesSent == 9)
    }

    @Test func subscriptionsWithDifferentRatesShareOneConnection() throws {
        let c = Connection()
        try c.start("fast", [temp1], rateMs: 100, now: 0)
        _ = try c.scheduler.subscribe("slow", selectors: [selector("thermo-1/*")], rateMs: 1_000, now: 0)
        let routes = try c.add([series(temp1), series(hum1)], to: "slow")
        // thermo-1/temp is already routed to this connection; only the new series needs a route.
        #expect(routes.map { $0.0 } == [series(hum1)])
        for (key, handle) in routes { c.routes[key] = handle }
        #expect(c.scheduler.series(of: "slow") == [series(hum1), series(temp1)])
        c.scheduler.activate("slow", reply: ack("slow"), snapshot: nil, floors: [:], now: 0)
        #expect(c.poll(now: 0).frames.count == 1)

        var sent: [String: [(at: Int64, batch: Batch)]] = [:]
        for now in stride(from: Int64(0), through: 2_000, by: 10) {
            c.offer(temp1, ts: now, now: now)
            c.offer(hum1, ts: now, now: now)
            let poll = c.poll(now: now)
            for batch in try batches(poll) { sent[batch.sub, default: []].append((now, batch)) }
            if now == 110 { #expect(poll.wakeAt == 200) }  // the earlier of the two subscriptions' due times
            if now == 1_010 { #expect(poll.wakeAt == 1_100) }
        }
        let fast = sent["fast"] ?? []
        let slow = sent["slow"] ?? []
        #expect(fast.map(\.at) == Array(stride(from: Int64(100), through: 2_000, by: 100)))
        #expect(slow.map(\.at) == [1_000, 2_000])
        #expect(fast.map(\.batch.seq) == Array(1...20))
        #expect(slow.map(\.batch.seq) == [1, 2])
        let everyTs = stride(from: Int64(0), through: 2_000, by: 10).map { $0 }
        #expect(fast.flatMap(\.batch.samples) == everyTs.map { Row(temp1, $0) })
        let slowRows = slow.flatMap(\.batch.samples)
        #expect(slowRows.filter { $0.series == temp1 } == everyTs.map { Row(temp1, $0) })
        #expect(slowRows.filter { $0.series == hum1 } == everyTs.map { Row(hum1, $0) })
        #expect((fast + slow).allSatisfy { $0.batch.coalesced == 0 })
    }

    // MARK: Replies, activation

    @Test func theAckAndSnapshotGoOutBeforeTheFirstBatch() throws {
        let c = Connection()
        try c.subscribe("s1", [temp1, temp2], selectors: ["thermo-*/temp"], rateMs: 0, now: 0)
        // Samples that arrive while the snapshot is read wait, and do not wake the writer.
        #expect(!c.offer(temp1, ts: 90, now: 1))
        #expect(!c.offer(temp1, ts: 100, now: 2))
        #expect(!c.offer(temp1, ts: 110, value: 2, now: 3))
        #expect(!c.offer(temp2, ts: 50, value: 3, now: 4))
        let idle = c.poll(now: 5)
        #expect(idle.frames.isEmpty)
        #expect(idle.wakeAt == nil)

        let reply = DashboardReply.subscribed(id: .number(2), sub: "s1", series: 2, rateMs: 0).encoded
        let snapshot = DashboardReply.snapshot(
            sub: "s1", series: [(series(temp1), [Sample(ts: 90, value: 1), Sample(ts: 100, value: 1)])]
        ).encoded
        // The snapshot holds thermo-1/temp up to ts 100 and nothing of thermo-2/temp.
        c.scheduler.activate("s1", reply: reply, snapshot: snapshot, floors: [series(temp1): 100], now: 10)
        #expect(c.scheduler.pendingSamples == 2)
        #expect(c.scheduler.queuedByteCount == reply.count + snapshot.count)

        let poll = c.poll(now: 10)
        #expect(poll.frames.count == 3)
        #expect(poll.frames[0] == reply)
        #expect(poll.frames[1] == snapshot)
        #expect(
            try batch(poll.frames[2])
                == Batch(sub: "s1", seq: 1, samples: [Row(temp1, 110, 2), Row(temp2, 50, 3)], coalesced: 0))
        #expect(c.scheduler.queuedByteCount == 0)
    }

    @Test func queuedRepliesPrecedeBatchesInTheSamePoll() throws {
        let c = Connection()
        try c.start("s1", [temp1], rateMs: 0, now: 0)
        c.offer(temp1, ts: 1, now: 1)
        let pong = DashboardReply.server(.pong(id: .number(9), ts: 1)).encoded
        let event = DashboardReply.device(
            PresenceEvent(device: "thermo-1", state: .offline, reason: .heartbeatTimeout, ts: 1), kind: nil, rooms: nil
        ).encoded
        #expect(c.enqueue(pong))
        #expect(c.enqueue(event))
        let poll = c.poll(now: 1)
        #expect(try poll.frames.map(frameType) == ["pong", "device", "batch"])
        #expect(poll.frames[0] == pong)
        #expect(poll.frames[1] == event)
    }

    @Test func anInactiveSubscriptionSendsNothingUntilActivated() throws {
        let c = Connection()
        try c.subscribe("s1", [temp1], rateMs: 0, now: 0)
        for ts in Int64(1)...3 { #expect(!c.offer(temp1, ts: ts, now: ts)) }
        #expect(c.scheduler.pendingSamples == 3)
        #expect(c.poll(now: 100).frames.isEmpty)
        #expect(c.poll(now: 10_000).frames.isEmpty)
        // Activating an unknown subscription queues nothing.
        c.scheduler.activate("nope", reply: ack("nope"), snapshot: nil, floors: [:], now: 10_000)
        #expect(c.scheduler.queuedByteCount == 0)
        // A snapshot that holds everything up to ts 2 leaves only the sample at ts 3.
        c.scheduler.activate("s1", reply: ack("s1"), snapshot: nil, floors: [series(temp1): 2], now: 10_000)
        let poll = c.poll(now: 10_000)
        #expect(try poll.frames.map(frameType) == ["ack", "batch"])
        #expect(try batches(poll).map(\.samples) == [[Row(temp1, 3)]])
    }

    @Test func activationDropsEverySampleTheSnapshotHolds() throws {
        let c = Connection()
        try c.subscribe("s1", [temp1, temp2], selectors: ["thermo-*/temp"], rateMs: 0, now: 0)
        c.offer(temp1, ts: 5, now: 1)
        c.offer(temp2, ts: 5, now: 1)
        c.scheduler.activate(
            "s1", reply: ack("s1"), snapshot: nil, floors: [series(temp1): 5, series(temp2): 9], now: 2)
        #expect(c.scheduler.pendingSamples == 0)
        let poll = c.poll(now: 2)
        #expect(try poll.frames.map(frameType) == ["ack"])
        #expect(poll.wakeAt == nil)
        // The first live sample after activation wakes the writer and is batch 1.
        #expect(c.offer(temp2, ts: 10, now: 3))
        #expect(try batches(c.poll(now: 3)).map(\.seq) == [1])
    }

    // MARK: Backpressure

    @Test func overTheHighMarkNothingIsSentAndTheLatestValuePerSeriesWins() throws {
        let c = Connection(marks)
        try c.start("s1", [temp1, hum1], selectors: ["thermo-1/*"], rateMs: 0, now: 0)
        #expect(c.offer(temp1, ts: 1, value: 1, now: 10))
        // The client stopped reading before the writer ran.
        var poll = c.poll(now: 10, buffered: high + 2_000)
        #expect(poll.frames.isEmpty)
        #expect(!poll.close)
        #expect(poll.wakeAt == 30_010)  // only the slow-consumer deadline is due
        #expect(c.scheduler.counters.stalls == 1)

        c.offer(temp1, ts: 2, value: 2, now: 20, buffered: high + 2_000)
        c.offer(temp1, ts: 3, value: 3, now: 21, buffered: high + 2_000)
        c.offer(hum1, ts: 2, value: 20, now: 22, buffered: high + 2_000)
        c.offer(temp1, ts: 4, value: 4, now: 23, buffered: high + 2_000)
        c.offer(hum1, ts: 3, value: 30, now: 24, buffered: high + 2_000)
        #expect(c.scheduler.pendingSamples == 2)
        #expect(c.scheduler.counters.samplesCoalesced == 4)
        let pong = DashboardReply.server(.pong(id: nil, ts: 25)).encoded
        c.enqueue(pong)

        // At the mark counts as over; between the marks it stays over (hysteresis).
        poll = c.poll(now: 30, buffered: high)
        #expect(poll.frames.isEmpty)
        poll = c.poll(now: 40, buffered: low + 1)
        #expect(poll.frames.isEmpty)
        #expect(poll.wakeAt == 30_010)
        #expect(c.scheduler.counters.stalls == 1)

        // At the low mark sending resumes: queued replies first, then one merged batch.
        poll = c.poll(now: 50, buffered: low)
        #expect(poll.frames.count == 2)
        #expect(poll.frames[0] == pong)
        #expect(
            try batch(poll.frames[1])
                == Batch(sub: "s1", seq: 1, samples: [Row(temp1, 4, 4), Row(hum1, 3, 30)], coalesced: 4))

        // The next batch starts counting afresh.
        c.offer(temp1, ts: 5, now: 60)
        c.offer(temp1, ts: 6, now: 60)
        #expect(
            try batches(c.poll(now: 60)) == [
                Batch(sub: "s1", seq: 2, samples: [Row(temp1, 5), Row(temp1, 6)], coalesced: 0)
            ])
        #expect(c.scheduler.counters == .init(samplesSent: 4, samplesCoalesced: 4, batches: 2, stalls: 1))
    }

    @Test func whileCoalescingTheNewestTimestampWinsNotTheLastArrival() throws {
        let c = Connection(marks)
        try c.start("s1", [temp1], rateMs: 0, now: 0)
        c.offer(temp1, ts: 10, value: 10, now: 1, buffered: high)
        // A late sample (inside the store's tolerance) arrives after a newer one: it is the one dropped.
        c.offer(temp1, ts: 5, value: 5, now: 2, buffered: high)
        #expect(
            try batches(c.poll(now: 3, buffered: low)) == [
                Batch(sub: "s1", seq: 1, samples: [Row(temp1, 10, 10)], coalesced: 1)
            ])
    }

    @Test func anOfferThatSeesTheHighMarkStartsCoalescingForEverySubscription() throws {
        let c = Connection(marks)
        try c.start("a", [temp1], rateMs: 0, now: 0)
        try c.start("b", [temp1], rateMs: 0, now: 0)
        for ts in Int64(1)...5 { c.offer(temp1, ts: ts, now: ts, buffered: high) }
        #expect(c.scheduler.pendingSamples == 2)
        #expect(c.scheduler.counters.samplesCoalesced == 8)
        #expect(c.poll(now: 6, buffered: high).frames.isEmpty)
        let sent = try batches(c.poll(now: 7, buffered: 0))
        #expect(
            sent == [
                Batch(sub: "a", seq: 1, samples: [Row(temp1, 5)], coalesced: 4),
                Batch(sub: "b", seq: 1, samples: [Row(temp1, 5)], coalesced: 4),
            ])
    }

    @Test func onceUnderTheLowMarkSamplesAreKeptAgain() throws {
        let c = Connection(marks)
        try c.start("s1", [temp1], rateMs: 1_000, now: 0)
        c.offer(temp1, ts: 100, now: 100, buffered: high)
        c.offer(temp1, ts: 200, now: 200, buffered: high)  // replaces ts 100
        let poll = c.poll(now: 300, buffered: 0)  // drained, but the batch is not due before 1000
        #expect(poll.frames.isEmpty)
        #expect(poll.wakeAt == 1_000)
        // The client keeps up again: nothing more may be dropped.
        c.offer(temp1, ts: 400, now: 400, buffered: 0)
        c.offer(temp1, ts: 500, now: 500, buffered: 0)
        #expect(
            try batches(c.poll(now: 1_000))
                == [
                    Batch(
                        sub: "s1", seq: 1, samples: [Row(temp1, 200), Row(temp1, 400), Row(temp1, 500)], coalesced: 1)
                ])
    }

    @Test func moreSamplesThanMaxBatchSamplesCoalesceWithoutBackpressure() throws {
        let c = Connection(DashboardConfiguration(maxBatchSamples: 4))
        try c.start("s1", [temp1, hum1], selectors: ["thermo-1/*"], rateMs: 1_000, now: 0)
        for ts in Int64(1)...5 {
            c.offer(temp1, ts: ts, value: Double(ts), now: ts)
            c.offer(hum1, ts: ts, value: Double(ts * 10), now: ts)
        }
        #expect(c.scheduler.pendingSamples == 2)
        let sent = try batches(c.poll(now: 1_000))
        #expect(sent == [Batch(sub: "s1", seq: 1, samples: [Row(temp1, 5, 5), Row(hum1, 5, 50)], coalesced: 8)])
        #expect(c.scheduler.counters.stalls == 0)
        #expect(c.scheduler.counters.samplesCoalesced == 8)
        // Under the cap nothing is dropped.
        for ts in Int64(6)...8 { c.offer(temp1, ts: ts, now: ts + 1_000) }
        #expect(try batches(c.poll(now: 2_000)).map(\.coalesced) == [0])
    }

    @Test func theCapNeverKeepsFewerThanOneSamplePerSeries() throws {
        let c = Connection(DashboardConfiguration(maxBatchSamples: 1))
        try c.start("s1", [temp1, temp2, hum1], selectors: ["thermo-*/*"], rateMs: 1_000, now: 0)
        c.offer(temp1, ts: 1, now: 1)
        c.offer(temp2, ts: 1, now: 1)
        c.offer(hum1, ts: 1, now: 1)
        c.offer(temp1, ts: 2, now: 2)
        #expect(
            try batches(c.poll(now: 1_000))
                == [Batch(sub: "s1", seq: 1, samples: [Row(temp1, 2), Row(temp2, 1), Row(hum1, 1)], coalesced: 1)])
    }

    @Test func aConsumerOverTheMarkPastTheDeadlineIsClosed() throws {
        let polled = Connection(marks)
        try polled.start("s1", [temp1], rateMs: 0, now: 0)
        var poll = polled.poll(now: 1_000, buffered: high)
        #expect(!poll.close)
        #expect(poll.wakeAt == 31_000)
        poll = polled.poll(now: 30_999, buffered: low + 1)  // between the marks: still over
        #expect(!poll.close)
        #expect(poll.wakeAt == 31_000)
        #expect(polled.poll(now: 31_000, buffered: high).close)
        // Once closed, always closed.
        #expect(polled.poll(now: 31_001, buffered: 0).close)

        let asked = Connection(marks)
        try asked.start("s1", [temp1], rateMs: 0, now: 0)
        #expect(!asked.isStuck(now: 1_000, buffered: high))
        #expect(!asked.isStuck(now: 30_999, buffered: high))
        #expect(asked.isStuck(now: 31_000, buffered: high))
        #expect(asked.poll(now: 31_000, buffered: 0).close)

        // An offer that sees the mark starts the clock too.
        let offered = Connection(marks)
        try offered.start("s1", [temp1], rateMs: 0, now: 0)
        offered.offer(temp1, ts: 1, now: 500, buffered: high)
        #expect(!offered.isStuck(now: 30_499, buffered: high))
        #expect(offered.isStuck(now: 30_500, buffered: high))
    }

    @Test func recoveringUnderTheLowMarkResetsTheDeadline() throws {
        let c = Connection(marks)
        try c.start("s1", [temp1], rateMs: 0, now: 0)
        #expect(!c.poll(now: 1_000, buffered: high).close)
        c.offer(temp1, ts: 1, now: 1_500, buffered: high)
        let recovered = c.poll(now: 20_000, buffered: low)
        #expect(!recovered.close)
        #expect(try batches(recovered).count == 1)
        var poll = c.poll(now: 25_000, buffered: high)
        #expect(poll.wakeAt == 55_000)
        poll = c.poll(now: 31_000, buffered: high)
        #expect(!poll.close)
        #expect(!c.isStuck(now: 54_999, buffered: high))
        #expect(c.poll(now: 55_000, buffered: high).close)
        #expect(c.scheduler.counters.stalls == 2)
    }

    @Test func tooManyQueuedBytesCloseTheConnection() throws {
        let c = Connection(DashboardConfiguration(highWaterBytes: high, lowWaterBytes: low, maxQueuedBytes: 65_536))
        try c.start("s1", [temp1], rateMs: 0, now: 0)
        // Exactly the limit is fine, and writing it frees the room again.
        c.enqueue([UInt8](repeating: UInt8(ascii: " "), count: 65_536))
        #expect(c.scheduler.queuedByteCount == 65_536)
        #expect(!c.isStuck(now: 1, buffered: 0))
        var poll = c.poll(now: 1)
        #expect(!poll.close)
        #expect(poll.frames.count == 1)
        #expect(c.scheduler.queuedByteCount == 0)

        // A slow client lets replies pile up; one byte past the limit closes it long before the deadline.
        #expect(!c.poll(now: 2, buffered: high).close)
        c.enqueue([UInt8](repeating: UInt8(ascii: " "), count: 40_000))
        #expect(!c.isStuck(now: 3, buffered: high))
        c.enqueue([UInt8](repeating: UInt8(ascii: " "), count: 25_537))
        #expect(c.isStuck(now: 4, buffered: high))
        poll = c.poll(now: 4, buffered: 0)
        #expect(poll.close)
        #expect(poll.frames.isEmpty)
    }

    // MARK: Limits

    @Test func maxSubscriptionsIsTooLargeButReplacingStillWorks() throws {
        let c = Connection(DashboardConfiguration(maxSubscriptions: 2))
        try c.subscribe("a", [temp1], rateMs: 0, now: 0)
        try c.subscribe("b", [temp2], rateMs: 0, now: 0)
        let error = thrown { try c.scheduler.subscribe("c", selectors: [selector(hum1)], rateMs: 0, now: 0) }
        #expect(error?.code == .tooLarge)
        #expect(c.scheduler.subscriptionNames == ["a", "b"])
        #expect(thrown { try c.scheduler.subscribe("a", selectors: [selector(hum1)], rateMs: 0, now: 0) } == nil)
        _ = try c.unsubscribe("b")
        #expect(thrown { try c.scheduler.subscribe("c", selectors: [selector(hum1)], rateMs: 0, now: 0) } == nil)
        #expect(c.scheduler.subscriptionNames == ["a", "c"])
    }

    @Test func maxSeriesPerSubscriptionIsTooLargeFromAddAndLimitsSeriesAppeared() throws {
        let c = Connection(DashboardConfiguration(maxSeriesPerSubscription: 3))
        let keys = (1...4).map { series("thermo-\($0)/temp") }
        _ = try c.scheduler.subscribe("s1", selectors: [selector("thermo-*/temp")], rateMs: 0, now: 0)
        // Too many: nothing is added.
        #expect(thrown { try c.add(keys, to: "s1") }?.code == .tooLarge)
        #expect(c.scheduler.seriesCount(of: "s1") == 0)
        #expect(c.scheduler.series(of: "s1").isEmpty)

        let routes = try c.add(Array(keys[0..<3]), to: "s1")
        #expect(routes.map { $0.0 } == Array(keys[0..<3]))
        #expect(c.scheduler.seriesCount(of: "s1") == 3)
        // Series it already carries do not count twice.
        #expect(try c.add([keys[0], keys[2]], to: "s1").isEmpty)
        #expect(thrown { try c.add([keys[3]], to: "s1") }?.code == .tooLarge)
        #expect(c.seriesAppeared(keys[3]) == nil)
        #expect(c.scheduler.seriesCount(of: "s1") == 3)

        // Another subscription with room takes the new series; the full one does not.
        _ = try c.scheduler.subscribe("s2", selectors: [selector("*/temp")], rateMs: 0, now: 0)
        #expect(c.seriesAppeared(keys[3]) != nil)
        #expect(c.scheduler.series(of: "s2") == [keys[3]])
        #expect(c.scheduler.series(of: "s1") == Array(keys[0..<3]))
    }

    @Test func unknownSubscriptionsAreNotFound() throws {
        let c = Connection()
        try c.subscribe("s1", [temp1], rateMs: 0, now: 0)
        #expect(thrown { try c.setRate("s2", rateMs: 100) }?.code == .notFound)
        #expect(thrown { try c.unsubscribe("s2") }?.code == .notFound)
        #expect(thrown { try c.add([series(temp2)], to: "s2") }?.code == .notFound)
        #expect(c.scheduler.hasSubscription("s1"))
        #expect(!c.scheduler.hasSubscription("s2"))
        #expect(c.scheduler.seriesCount(of: "s2") == 0)
        #expect(c.scheduler.series(of: "s2").isEmpty)
        _ = try c.unsubscribe("s1")
        #expect(thrown { try c.unsubscribe("s1") }?.code == .notFound)
    }

    @Test func addingTheSameSeriesTwiceCarriesItOnce() throws {
        let c = Connection()
        _ = try c.scheduler.subscribe(
            "s1", selectors: [selector("thermo-*/temp"), selector("*/temp")], rateMs: 0, now: 0)
        // Two selectors matching the same series may list it twice.
        let routes = try c.add([series(temp1), series(temp1)], to: "s1")
        #expect(routes.count == 1)
        #expect(c.scheduler.seriesCount(of: "s1") == 1)
        for (key, handle) in routes { c.routes[key] = handle }
        c.scheduler.activate("s1", reply: ack("s1"), snapshot: nil, floors: [:], now: 0)
        c.offer(temp1, ts: 1, now: 1)
        #expect(try batches(c.poll(now: 1)).map(\.samples) == [[Row(temp1, 1)]])
    }

    // MARK: Series joining and leaving

    @Test func anAppearingSeriesJoinsOnlyTheMatchingSubscriptions() throws {
        let c = Connection()
        try c.start("temps", [temp1], selectors: ["thermo-*/temp"], rateMs: 0, now: 0)
        try c.start("hums", [hum1], selectors: ["*/hum"], rateMs: 0, now: 0)
        try c.start("both", [temp1, hum1], selectors: ["*/hum", "thermo-*/temp"], rateMs: 0, now: 0)
        let newcomer = series("thermo-9/temp")
        let handle = try #require(c.seriesAppeared(newcomer))
        #expect(c.scheduler.series(of: "temps") == [series(temp1), newcomer])
        #expect(c.scheduler.series(of: "hums") == [series(hum1)])
        #expect(c.scheduler.series(of: "both") == [series(hum1), series(temp1), newcomer])
        #expect(c.scheduler.seriesCount(of: "both") == 3)
        // Already routed here: nothing more to do.
        #expect(c.seriesAppeared(newcomer) == nil)
        #expect(c.seriesAppeared(series("lamp-1/power")) == nil)

        #expect(c.offer(handle, ts: 7, now: 7, buffered: 0))
        let sent = try batches(c.poll(now: 7))
        #expect(sent.map(\.sub).sorted() == ["both", "temps"])
        #expect(sent.allSatisfy { $0.samples == [Row("thermo-9/temp", 7)] })
    }

    @Test func unsubscribeReleasesUnsharedSeriesAndStaleHandlesAreIgnored() throws {
        let c = Connection()
        try c.start("s1", [temp1, temp2], selectors: ["thermo-*/temp"], rateMs: 0, now: 0)
        try c.start("s2", [temp2, hum1], selectors: [temp2, hum1], rateMs: 0, now: 0)
        let oldTemp1 = try #require(c.routes[series(temp1)])
        let oldTemp2 = try #require(c.routes[series(temp2)])

        #expect(try c.unsubscribe("s1") == [series(temp1)])
        #expect(c.scheduler.subscriptionNames == ["s2"])
        // The released series' handle no longer delivers; the shared one still does.
        #expect(!c.offer(oldTemp1, ts: 1, now: 1, buffered: 0))
        #expect(c.scheduler.pendingSamples == 0)
        #expect(c.offer(oldTemp2, ts: 1, now: 1, buffered: 0))
        #expect(try batches(c.poll(now: 1)).map(\.sub) == ["s2"])

        // A new subscription gets a fresh handle for the released series (possibly reusing its slot); the old
        // handle stays dead.
        _ = try c.scheduler.subscribe("s3", selectors: [selector(temp1)], rateMs: 0, now: 2)
        let routes = try c.add([series(temp1)], to: "s3")
        let fresh = try #require(routes.first?.1)
        #expect(fresh != oldTemp1)
        c.scheduler.activate("s3", reply: ack("s3"), snapshot: nil, floors: [:], now: 2)
        #expect(!c.offer(oldTemp1, ts: 3, now: 3, buffered: 0))
        #expect(c.scheduler.pendingSamples == 0)
        #expect(c.offer(fresh, ts: 3, now: 3, buffered: 0))
        let poll = c.poll(now: 3)
        #expect(try batches(poll) == [Batch(sub: "s3", seq: 1, samples: [Row(temp1, 3)], coalesced: 0)])

        // Releasing the last carrier of everything empties the connection.
        #expect(Set(try c.unsubscribe("s2")) == [series(temp2), series(hum1)])
        #expect(try c.unsubscribe("s3") == [series(temp1)])
        #expect(!c.offer(fresh, ts: 4, now: 4, buffered: 0))
    }

    @Test func subscribingAgainUnderTheSameNameReplacesTheSubscription() throws {
        let c = Connection()
        try c.start("s1", [temp1, temp2], selectors: ["thermo-*/temp"], rateMs: 0, now: 0)
        c.offer(temp1, ts: 1, now: 1)
        #expect(try batches(c.poll(now: 1)).map(\.seq) == [1])
        let old = try #require(c.routes[series(temp1)])
        c.offer(temp1, ts: 2, now: 2)  // waiting when the replacement comes

        let released = try c.subscribe("s1", [hum1], selectors: ["*/hum"], rateMs: 500, now: 3)
        #expect(Set(released) == [series(temp1), series(temp2)])
        #expect(c.scheduler.subscriptionNames == ["s1"])
        #expect(c.scheduler.series(of: "s1") == [series(hum1)])
        #expect(c.scheduler.pendingSamples == 0)
        #expect(!c.offer(old, ts: 4, now: 4, buffered: 0))

        c.offer(hum1, ts: 5, now: 5)
        #expect(c.poll(now: 5).frames.isEmpty)  // not active yet
        c.scheduler.activate("s1", reply: ack("s1", rateMs: 500), snapshot: nil, floors: [:], now: 5)
        var poll = c.poll(now: 5)
        #expect(try poll.frames.map(frameType) == ["ack"])
        #expect(poll.wakeAt == 505)  // the new rate is in force
        poll = c.poll(now: 505)
        #expect(try batches(poll) == [Batch(sub: "s1", seq: 1, samples: [Row(hum1, 5)], coalesced: 0)])
    }

    // MARK: Resume

    @Test func rememberedSubscriptionsResumeOnANewConnection() throws {
        let selectors = ["thermo-1/temp", "thermo-1/hum"]
        let first = Connection()
        try first.start("s1", [temp1, hum1], selectors: selectors, rateMs: 0, now: 1_000)
        try first.subscribe("pending", [temp2], rateMs: 0, now: 1_000)  // never activated: not remembered
        first.offer(temp1, ts: 1_100, value: 1, now: 1_100)
        first.offer(hum1, ts: 1_100, value: 2, now: 1_100)
        #expect(try batches(first.poll(now: 1_100)).map(\.seq) == [1])
        first.offer(temp1, ts: 1_200, value: 3, now: 1_200)
        #expect(try batches(first.poll(now: 1_200)).map(\.seq) == [2])
        first.offer(temp1, ts: 1_300, value: 4, now: 1_300)  // never written: the connection drops

        let remembered = first.scheduler.remembered(now: 2_000)
        #expect(
            remembered == [
                RememberedSubscription(
                    sub: "s1", selectors: selectors.map(selector), rateMs: 0, lastSeq: 2,
                    delivered: [series(temp1): 1_200, series(hum1): 1_100],
                    batches: [BatchMark(seq: 1, minTs: 1_100), BatchMark(seq: 2, minTs: 1_200)], subscribedAt: 1_000,
                    detachedAt: 2_000)
            ])

        var journal = ResumeJournal(windowMs: 300_000, limit: 100)
        journal.remember(remembered, owner: "alice", now: 2_000)
        // The client saw batch 1 only; it lists its selectors in another order.
        let claimed = journal.claim(
            owner: "alice", sub: "s1", selectors: selectors.reversed().map(selector), afterSeq: 1, now: 2_500)
        let record = try #require(claimed)
        #expect(journal.count == 0)
        #expect(record.replayFrom(series(temp1), afterSeq: 1) == 1_200)
        #expect(record.replayFrom(series(hum1), afterSeq: 1) == 1_101)

        // The new connection: subscribe numbered after the client's seq, route, replay.
        let second = Connection()
        try second.subscribe("s1", [temp1, hum1], selectors: selectors, rateMs: 0, now: 2_500, seq: 1)
        // Live samples arrive while the store is read; one of them is also in the replay.
        #expect(!second.offer(temp1, ts: 2_450, value: 6, now: 2_500))
        #expect(!second.offer(temp1, ts: 2_600, value: 7, now: 2_500))
        let reply = DashboardReply.resumed(id: .number(5), sub: "s1", recovered: true, series: 2, rateMs: 0).encoded
        let replay: [(SeriesKey, [Sample])] = [
            (series(temp1), [Sample(ts: 1_200, value: 3), Sample(ts: 1_300, value: 4), Sample(ts: 2_450, value: 6)]),
            (series(hum1), []),
        ]
        second.scheduler.activateResumed("s1", reply: reply, replay: replay, now: 2_500)
        let poll = second.poll(now: 2_500)
        #expect(poll.frames.count == 3)
        #expect(poll.frames[0] == reply)
        let sent = try poll.frames.dropFirst().map(batch)
        #expect(
            sent == [
                Batch(
                    sub: "s1", seq: 2, samples: [Row(temp1, 1_200, 3), Row(temp1, 1_300, 4), Row(temp1, 2_450, 6)],
                    coalesced: 0),
                Batch(sub: "s1", seq: 3, samples: [Row(temp1, 2_600, 7)], coalesced: 0),
            ])
        #expect(second.scheduler.counters == .init(samplesSent: 4, samplesCoalesced: 0, batches: 2, stalls: 0))

        // Dropped again: the record goes on from there.
        let again = try #require(second.scheduler.remembered(now: 3_000).first)
        #expect(again.lastSeq == 3)
        #expect(again.delivered == [series(temp1): 2_600])
        #expect(again.batches == [BatchMark(seq: 2, minTs: 1_200), BatchMark(seq: 3, minTs: 2_600)])
        #expect(again.subscribedAt == 2_500)
        #expect(again.canResume(afterSeq: 1))
        #expect(!again.canResume(afterSeq: 0))
    }

    @Test func aReplayIsSplitAtMaxBatchSamplesAndNumberedAfterTheClientsSeq() throws {
        let c = Connection(DashboardConfiguration(maxBatchSamples: 2))
        try c.subscribe("s1", [temp1, hum1], selectors: ["thermo-1/*"], rateMs: 0, now: 100, seq: 17)
        let reply = DashboardReply.resumed(id: .number(5), sub: "s1", recovered: true, series: 2, rateMs: 0).encoded
        let replay: [(SeriesKey, [Sample])] = [
            (series(temp1), [10, 30, 50].map { Sample(ts: $0, value: Double($0)) }),
            (series(hum1), [20, 40].map { Sample(ts: $0, value: Double($0)) }),
        ]
        c.scheduler.activateResumed("s1", reply: reply, replay: replay, now: 100)
        let poll = c.poll(now: 100)
        #expect(poll.frames.first == reply)
        #expect(
            try poll.frames.dropFirst().map(batch) == [
                Batch(sub: "s1", seq: 18, samples: [Row(temp1, 10, 10), Row(hum1, 20, 20)], coalesced: 0),
                Batch(sub: "s1", seq: 19, samples: [Row(temp1, 30, 30), Row(hum1, 40, 40)], coalesced: 0),
                Batch(sub: "s1", seq: 20, samples: [Row(temp1, 50, 50)], coalesced: 0),
            ])
        #expect(c.scheduler.counters.batches == 3)
        #expect(c.scheduler.counters.samplesSent == 5)
        let remembered = try #require(c.scheduler.remembered(now: 200).first)
        #expect(remembered.lastSeq == 20)
        #expect(remembered.delivered == [series(temp1): 50, series(hum1): 40])
        #expect(remembered.batches.map(\.seq) == [18, 19, 20])
        #expect(remembered.batches.map(\.minTs) == [10, 30, 50])

        // Live batches continue the numbering.
        c.offer(temp1, ts: 60, now: 101)
        #expect(try batches(c.poll(now: 101)).map(\.seq) == [21])
    }

    @Test func anUnrecoveredResumeGetsASnapshotAndSeqContinues() throws {
        let c = Connection()
        try c.subscribe("s1", [temp1], rateMs: 0, now: 0, seq: 17)
        let reply = DashboardReply.resumed(id: .number(5), sub: "s1", recovered: false, series: 1, rateMs: 0).encoded
        let snapshot = DashboardReply.snapshot(sub: "s1", series: [(series(temp1), [Sample(ts: 5, value: 1)])]).encoded
        c.scheduler.activate("s1", reply: reply, snapshot: snapshot, floors: [series(temp1): 5], now: 0)
        c.offer(temp1, ts: 6, now: 1)
        let poll = c.poll(now: 1)
        #expect(try poll.frames.map(frameType) == ["ack", "snapshot", "batch"])
        #expect(try batch(poll.frames[2]).seq == 18)

        // An empty replay sends only the ack.
        let empty = Connection()
        try empty.subscribe("s1", [temp1], rateMs: 0, now: 0, seq: 17)
        empty.scheduler.activateResumed("s1", reply: reply, replay: [], now: 0)
        #expect(empty.poll(now: 0).frames == [reply])
        empty.offer(temp1, ts: 1, now: 1)
        #expect(try batches(empty.poll(now: 1)).map(\.seq) == [18])
    }

    @Test func theBatchLogKeepsTheLastResumeBatches() throws {
        let c = Connection(DashboardConfiguration(resumeBatches: 3))
        try c.start("s1", [temp1], rateMs: 0, now: 0)
        for ts in Int64(1)...5 {
            c.offer(temp1, ts: ts * 10, now: ts)
            _ = c.poll(now: ts)
        }
        let remembered = try #require(c.scheduler.remembered(now: 10).first)
        #expect(remembered.lastSeq == 5)
        #expect(
            remembered.batches == [
                BatchMark(seq: 3, minTs: 30), BatchMark(seq: 4, minTs: 40), BatchMark(seq: 5, minTs: 50),
            ])
        #expect(remembered.canResume(afterSeq: 5))
        #expect(remembered.canResume(afterSeq: 2))
        #expect(!remembered.canResume(afterSeq: 1))
        #expect(remembered.replayFrom(series(temp1), afterSeq: 2) == 30)
        #expect(remembered.replayFrom(series(temp1), afterSeq: 5) == 51)
    }

    // MARK: Counters and flags

    @Test func countersAddUpAcrossBatchesCoalescingAndStalls() throws {
        let c = Connection(marks)
        #expect(c.scheduler.counters == .init())
        try c.start("s1", [temp1], rateMs: 0, now: 0)
        c.offer(temp1, ts: 1, now: 1)
        c.offer(temp1, ts: 2, now: 1)
        _ = c.poll(now: 1)
        for round in Int64(0)..<3 {
            let now = 10 + round * 10
            c.offer(temp1, ts: now, now: now, buffered: high)
            c.offer(temp1, ts: now + 1, now: now, buffered: high)
            _ = c.poll(now: now + 5, buffered: 0)
        }
        #expect(c.scheduler.counters == .init(samplesSent: 5, samplesCoalesced: 3, batches: 4, stalls: 3))
        #expect(!c.scheduler.wantsPresence)
        c.scheduler.wantsPresence = true
        #expect(c.scheduler.wantsPresence)
    }
}
