import Testing

@testable import HubCore

private let t0: Int64 = 1_764_640_000_000
private let thermo1 = SeriesKey(device: "thermo-1", metric: "temp")
private let thermo2 = SeriesKey(device: "thermo-2", metric: "temp")
private let humidity1 = SeriesKey(device: "thermo-1", metric: "hum")
private let meter1 = SeriesKey(device: "meter-1", metric: "power")

private func makeRule(
    _ id: String = "hot", match: String = "thermo-*/temp", when: AlertCondition = AlertCondition(.greater, 30),
    over: AlertSmoothing? = nil, forMs: Int64 = 0, clear: AlertCondition? = nil, clearForMs: Int64 = 0,
    nodataMs: Int64 = 0, severity: AlertSeverity = .warning, name: String? = nil, labels: [String: String] = [:],
    description: String = ""
) -> AlertRule {
    AlertRule(
        id: id, name: name, match: try! SeriesSelector(parsing: match), when: when, over: over, forMs: forMs,
        clear: clear, clearForMs: clearForMs, nodataMs: nodataMs, severity: severity, labels: labels,
        description: description)
}

/// An engine with `rules` in force since `now`, over no known series.
private func makeEngine(_ rules: AlertRule..., now: Int64 = t0) -> AlertEngine {
    var engine = AlertEngine()
    let events = engine.setRules(rules, series: [], now: now)
    #expect(events.isEmpty)
    return engine
}

/// `al-1 ok→pending threshold`; non-transition events show `-` for the previous state.
private func line(_ event: AlertEvent) -> String {
    "\(event.alert) \(event.previous?.rawValue ?? "-")→\(event.state.rawValue) \(event.reason)"
}

private func lines(_ events: [AlertEvent]) -> [String] { events.map(line) }

/// The error `body` throws, or nil.
private func protocolError(_ body: () throws -> Void) -> ProtocolError? {
    do {
        try body()
        return nil
    } catch let error as ProtocolError {
        return error
    } catch {
        Issue.record("not a ProtocolError: \(error)")
        return nil
    }
}

extension AlertEngine {
    /// Observes a sample of `key` received at `now` (its timestamp `ts`, by default `now`).
    fileprivate mutating func feed(_ key: SeriesKey, _ value: Double, at now: Int64, ts: Int64? = nil) -> [AlertEvent] {
        var events: [AlertEvent] = []
        observe(key, Sample(ts: ts ?? now, value: value), now: now, events: &events)
        return events
    }

    /// The persisted instances that `takeDirty` says to save, by key.
    fileprivate mutating func saved() -> [AlertInstanceKey: AlertInstance] {
        Dictionary(takeDirty().save.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
    }
}

/// What an alert archive holds: `takeDirty` applied in order, forgets before saves.
private struct PersistedAlerts {
    var instances: [AlertInstanceKey: AlertInstance] = [:]

    mutating func take(from engine: inout AlertEngine) {
        let (save, forget) = engine.takeDirty()
        for key in forget { instances[key] = nil }
        for instance in save { instances[instance.key] = instance }
    }

    var all: [AlertInstance] {
        instances.values.sorted { ($0.key.rule, $0.key.series) < ($1.key.rule, $1.key.series) }
    }
}

@Suite("AlertEngine")
struct AlertEngineTests {
    // MARK: for_ms

    @Test func firesAtOnceWithoutForMs() throws {
        var engine = makeEngine(makeRule())
        #expect(engine.feed(thermo1, 29, at: t0).isEmpty)
        let events = engine.feed(thermo1, 31.5, at: t0 + 1_000)
        #expect(lines(events) == ["al-1 ok→firing threshold"])
        let event = try #require(events.first)
        #expect(event.event == .transition)
        #expect(event.rule == "hot")
        #expect(event.name == "hot")
        #expect(event.series == thermo1)
        #expect(event.value == 31.5)
        #expect(event.threshold == 30)
        #expect(event.op == .greater)
        #expect(event.ts == t0 + 1_000)
        #expect(event.since == t0 + 1_000)
        #expect(event.started == t0 + 1_000)
        #expect(event.severity == .warning)
        #expect(event.ack == nil)
        #expect(!event.silenced)
        // More samples over the threshold change nothing.
        #expect(engine.feed(thermo1, 35, at: t0 + 2_000).isEmpty)
        #expect(engine.activeCounts == [.firing: 1])
    }

    @Test func pendingFiresOnALaterSampleAfterForMs() throws {
        var engine = makeEngine(makeRule(forMs: 10_000))
        let pending = engine.feed(thermo1, 31, at: t0)
        #expect(lines(pending) == ["al-1 ok→pending threshold"])
        #expect(pending.first?.since == t0)
        #expect(engine.feed(thermo1, 32, at: t0 + 5_000).isEmpty)
        #expect(engine.feed(thermo1, 33, at: t0 + 9_999).isEmpty)
        let firing = engine.feed(thermo1, 34, at: t0 + 10_000)
        #expect(lines(firing) == ["al-1 pending→firing for_elapsed"])
        let event = try #require(firing.first)
        #expect(event.since == t0 + 10_000)
        #expect(event.started == t0)
        #expect(event.value == 34)
        #expect(engine.feed(thermo1, 34, at: t0 + 20_000).isEmpty)
    }

    @Test func pendingFiresOnATickAfterForMs() throws {
        var engine = makeEngine(makeRule(forMs: 10_000))
        #expect(lines(engine.feed(thermo1, 31, at: t0)) == ["al-1 ok→pending threshold"])
        #expect(engine.tick(now: t0 + 9_999).isEmpty)
        let firing = engine.tick(now: t0 + 10_000)
        #expect(lines(firing) == ["al-1 pending→firing for_elapsed"])
        #expect(firing.first?.value == 31)
        #expect(firing.first?.ts == t0 + 10_000)
        #expect(firing.first?.started == t0)
        // It does not fire again.
        #expect(engine.tick(now: t0 + 20_000).isEmpty)
        #expect(engine.feed(thermo1, 31, at: t0 + 21_000).isEmpty)
        #expect(engine.tick(now: t0 + 40_000).isEmpty)
    }

    @Test func forMsRunsOnHubTimeNotSampleTime() {
        var engine = makeEngine(makeRule(forMs: 10_000))
        #expect(lines(engine.feed(thermo1, 31, at: t0, ts: t0 - 60_000)) == ["al-1 ok→pending threshold"])
        // The device's clock races ahead: the hub's clock decides.
        #expect(engine.feed(thermo1, 31, at: t0 + 1_000, ts: t0 + 3_600_000).isEmpty)
        #expect(
            lines(engine.feed(thermo1, 31, at: t0 + 10_000, ts: t0 + 3_600_001)) == ["al-1 pending→firing for_elapsed"])
    }

    @Test func pendingEndsWhenTheConditionStops() throws {
        var engine = makeEngine(makeRule(forMs: 10_000))
        #expect(lines(engine.feed(thermo1, 31, at: t0)) == ["al-1 ok→pending threshold"])
        let ended = engine.feed(thermo1, 29, at: t0 + 5_000)
        #expect(lines(ended) == ["al-1 pending→ok condition_ended"])
        let event = try #require(ended.first)
        #expect(event.value == 29)
        #expect(event.threshold == 30)
        #expect(event.op == .lessOrEqual)  // what holds now: 29 <= 30
        #expect(event.started == t0)
        #expect(engine.active(now: t0 + 5_000).isEmpty)
        // The old timer does not fire it.
        #expect(engine.tick(now: t0 + 10_000).isEmpty)
        #expect(engine.tick(now: t0 + 60_000).isEmpty)
        // A new episode gets a new id and a new timer.
        #expect(lines(engine.feed(thermo1, 31, at: t0 + 61_000)) == ["al-2 ok→pending threshold"])
        #expect(engine.tick(now: t0 + 70_999).isEmpty)
        #expect(lines(engine.tick(now: t0 + 71_000)) == ["al-2 pending→firing for_elapsed"])
    }

    // MARK: Hysteresis

    @Test func hysteresisDoesNotFlap() throws {
        var engine = makeEngine(makeRule(clear: AlertCondition(.less, 28)))
        #expect(lines(engine.feed(thermo1, 31, at: t0)) == ["al-1 ok→firing threshold"])
        var now = t0
        for value in [29, 30.5, 29.5, 28, 30, 31, 28.0001, 29.9] {
            now += 1_000
            #expect(engine.feed(thermo1, value, at: now).isEmpty, "\(value)")
        }
        #expect(engine.active(now: now).map(\.state) == [.firing])
        let resolved = engine.feed(thermo1, 27, at: now + 1_000)
        #expect(lines(resolved) == ["al-1 firing→resolved clear"])
        let event = try #require(resolved.first)
        #expect(event.value == 27)
        #expect(event.threshold == 28)
        #expect(event.op == .less)
        #expect(event.started == t0)
        // Between the thresholds nothing starts; over `when` a new episode does.
        #expect(engine.feed(thermo1, 29, at: now + 2_000).isEmpty)
        #expect(engine.feed(thermo1, 30, at: now + 3_000).isEmpty)
        #expect(lines(engine.feed(thermo1, 30.1, at: now + 4_000)) == ["al-2 ok→firing threshold"])
    }

    @Test func defaultClearIsTheNegation() throws {
        var engine = makeEngine(makeRule())
        #expect(lines(engine.feed(thermo1, 31, at: t0)) == ["al-1 ok→firing threshold"])
        #expect(engine.feed(thermo1, 30.5, at: t0 + 1_000).isEmpty)
        let resolved = engine.feed(thermo1, 30, at: t0 + 2_000)
        #expect(lines(resolved) == ["al-1 firing→resolved clear"])
        #expect(resolved.first?.threshold == 30)
        #expect(resolved.first?.op == .lessOrEqual)
        #expect(engine.feed(thermo1, 30, at: t0 + 3_000).isEmpty)
        #expect(lines(engine.feed(thermo1, 30.001, at: t0 + 4_000)) == ["al-2 ok→firing threshold"])
    }

    @Test func lessThanRulesAndEquality() {
        var cold = makeEngine(makeRule("cold", when: AlertCondition(.lessOrEqual, 5)))
        #expect(cold.feed(thermo1, 5.5, at: t0).isEmpty)
        #expect(lines(cold.feed(thermo1, 5, at: t0 + 1)) == ["al-1 ok→firing threshold"])
        #expect(lines(cold.feed(thermo1, 5.01, at: t0 + 2)) == ["al-1 firing→resolved clear"])
        var stuck = makeEngine(makeRule("stuck", when: AlertCondition(.equal, 0)))
        #expect(lines(stuck.feed(thermo1, 0, at: t0)) == ["al-1 ok→firing threshold"])
        #expect(stuck.feed(thermo1, 0, at: t0 + 1).isEmpty)
        #expect(lines(stuck.feed(thermo1, -1, at: t0 + 2)) == ["al-1 firing→resolved clear"])
    }

    // MARK: clear_for_ms

    @Test func clearMustHoldForClearForMs() {
        var engine = makeEngine(makeRule(clear: AlertCondition(.less, 28), clearForMs: 5_000))
        #expect(lines(engine.feed(thermo1, 31, at: t0)) == ["al-1 ok→firing threshold"])
        #expect(engine.feed(thermo1, 27, at: t0 + 1_000).isEmpty)  // clearing since +1000
        #expect(engine.feed(thermo1, 26, at: t0 + 5_999).isEmpty)
        // A value that fails `clear` (even below `when`) restarts the clock.
        #expect(engine.feed(thermo1, 29, at: t0 + 6_000).isEmpty)
        #expect(engine.tick(now: t0 + 6_500).isEmpty)
        #expect(engine.feed(thermo1, 27, at: t0 + 7_000).isEmpty)  // clearing since +7000
        #expect(engine.tick(now: t0 + 11_999).isEmpty)
        #expect(engine.feed(thermo1, 27, at: t0 + 11_999).isEmpty)
        #expect(lines(engine.feed(thermo1, 25, at: t0 + 12_000)) == ["al-1 firing→resolved clear_for_elapsed"])
        #expect(engine.active(now: t0 + 12_000).isEmpty)
    }

    @Test func clearForMsResolvesOnATick() throws {
        var engine = makeEngine(makeRule(clear: AlertCondition(.less, 28), clearForMs: 5_000))
        _ = engine.feed(thermo1, 31, at: t0)
        #expect(engine.feed(thermo1, 27, at: t0 + 1_000).isEmpty)
        #expect(engine.tick(now: t0 + 5_999).isEmpty)
        let resolved = engine.tick(now: t0 + 6_000)
        #expect(lines(resolved) == ["al-1 firing→resolved clear_for_elapsed"])
        let event = try #require(resolved.first)
        #expect(event.value == 27)
        #expect(event.threshold == 28)
        #expect(event.op == .less)
        #expect(event.since == t0 + 6_000)
        #expect(engine.tick(now: t0 + 20_000).isEmpty)
    }

    @Test func aValueOverWhenStopsTheClearClock() {
        var engine = makeEngine(makeRule(clearForMs: 5_000))
        _ = engine.feed(thermo1, 31, at: t0)
        #expect(engine.feed(thermo1, 20, at: t0 + 1_000).isEmpty)
        #expect(engine.feed(thermo1, 35, at: t0 + 2_000).isEmpty)
        #expect(engine.tick(now: t0 + 6_000).isEmpty)
        #expect(engine.tick(now: t0 + 60_000).isEmpty)
        #expect(engine.active(now: t0 + 60_000).map(\.state) == [.firing])
    }

    @Test func theClearClockIsPersisted() throws {
        var engine = makeEngine(makeRule(clearForMs: 5_000))
        _ = engine.feed(thermo1, 31, at: t0)
        _ = engine.takeDirty()
        _ = engine.feed(thermo1, 20, at: t0 + 1_000)
        let saved = engine.saved()
        #expect(saved[AlertInstanceKey(rule: "hot", series: thermo1)]?.clearingSince == t0 + 1_000)
        // Holding on changes nothing to save; failing clears the clock, which is saved.
        _ = engine.feed(thermo1, 21, at: t0 + 2_000)
        #expect(engine.takeDirty().save.isEmpty)
        _ = engine.feed(thermo1, 40, at: t0 + 3_000)
        let cleared = engine.saved()[AlertInstanceKey(rule: "hot", series: thermo1)]
        #expect(cleared != nil)
        #expect(cleared?.clearingSince == nil)
    }

    // MARK: No data

    @Test func nodataFromOk() throws {
        var engine = makeEngine(makeRule(nodataMs: 30_000))
        #expect(engine.feed(thermo1, 25, at: t0).isEmpty)
        #expect(engine.tick(now: t0 + 29_999).isEmpty)
        let nodata = engine.tick(now: t0 + 30_000)
        #expect(lines(nodata) == ["al-1 ok→nodata nodata"])
        let event = try #require(nodata.first)
        #expect(event.value == nil)
        #expect(event.threshold == nil)
        #expect(event.op == nil)
        #expect(event.started == t0 + 30_000)
        #expect(event.since == t0 + 30_000)
        let instance = try #require(engine.saved()[AlertInstanceKey(rule: "hot", series: thermo1)])
        #expect(instance.state == .nodata)
        #expect(!instance.wasFiring)
        // Announced once.
        #expect(engine.tick(now: t0 + 60_000).isEmpty)
        #expect(engine.active(now: t0 + 60_000).map(\.state) == [.nodata])
        // Data returns without the condition: the episode ends in ok.
        #expect(lines(engine.feed(thermo1, 25, at: t0 + 61_000)) == ["al-1 nodata→ok data_returned"])
        #expect(engine.active(now: t0 + 61_000).isEmpty)
        #expect(engine.tick(now: t0 + 90_999).isEmpty)
        #expect(lines(engine.tick(now: t0 + 91_000)) == ["al-2 ok→nodata nodata"])
    }

    @Test func nodataFromOkDataReturnsOverTheThreshold() {
        var engine = makeEngine(makeRule(nodataMs: 30_000))
        _ = engine.feed(thermo1, 25, at: t0)
        _ = engine.tick(now: t0 + 30_000)
        #expect(lines(engine.feed(thermo1, 31, at: t0 + 40_000)) == ["al-1 nodata→firing data_returned"])
        #expect(lines(engine.feed(thermo1, 20, at: t0 + 41_000)) == ["al-1 firing→resolved clear"])

        var slow = makeEngine(makeRule(forMs: 10_000, nodataMs: 30_000))
        _ = slow.feed(thermo1, 25, at: t0)
        _ = slow.tick(now: t0 + 30_000)
        #expect(lines(slow.feed(thermo1, 31, at: t0 + 40_000)) == ["al-1 nodata→pending data_returned"])
        #expect(slow.tick(now: t0 + 49_999).isEmpty)
        #expect(lines(slow.tick(now: t0 + 50_000)) == ["al-1 pending→firing for_elapsed"])
    }

    @Test func nodataFromFiring() throws {
        var engine = makeEngine(makeRule(nodataMs: 30_000))
        _ = engine.feed(thermo1, 31, at: t0)
        _ = engine.takeDirty()
        #expect(lines(engine.tick(now: t0 + 30_000)) == ["al-1 firing→nodata nodata"])
        let instance = try #require(engine.saved()[AlertInstanceKey(rule: "hot", series: thermo1)])
        #expect(instance.wasFiring)
        #expect(instance.started == t0)
        // Data returns still bad: firing again, same episode.
        let back = engine.feed(thermo1, 32, at: t0 + 40_000)
        #expect(lines(back) == ["al-1 nodata→firing data_returned"])
        #expect(back.first?.started == t0)
        #expect(back.first?.value == 32)
        // Silent again, then data returns good: resolved at once.
        #expect(lines(engine.tick(now: t0 + 70_000)) == ["al-1 firing→nodata nodata"])
        let resolved = engine.feed(thermo1, 20, at: t0 + 80_000)
        #expect(lines(resolved) == ["al-1 nodata→resolved data_returned"])
        #expect(resolved.first?.threshold == 30)
        #expect(resolved.first?.op == .lessOrEqual)
        #expect(engine.active(now: t0 + 80_000).isEmpty)
    }

    @Test func nodataFromFiringWithHysteresisAndClearFor() {
        var engine = makeEngine(makeRule(clear: AlertCondition(.less, 28), clearForMs: 5_000, nodataMs: 30_000))
        _ = engine.feed(thermo1, 31, at: t0)
        #expect(lines(engine.tick(now: t0 + 30_000)) == ["al-1 firing→nodata nodata"])
        // Between the thresholds: firing again.
        #expect(lines(engine.feed(thermo1, 29, at: t0 + 40_000)) == ["al-1 nodata→firing data_returned"])
        #expect(engine.tick(now: t0 + 60_000).isEmpty)
        #expect(lines(engine.tick(now: t0 + 70_000)) == ["al-1 firing→nodata nodata"])
        // Clear, but it must hold for clear_for_ms: firing, resolving when that is up.
        #expect(lines(engine.feed(thermo1, 27, at: t0 + 80_000)) == ["al-1 nodata→firing data_returned"])
        #expect(engine.tick(now: t0 + 84_999).isEmpty)
        #expect(lines(engine.tick(now: t0 + 85_000)) == ["al-1 firing→resolved clear_for_elapsed"])
    }

    @Test func nodataFromPending() throws {
        var engine = makeEngine(makeRule(forMs: 60_000, nodataMs: 30_000))
        #expect(lines(engine.feed(thermo1, 31, at: t0)) == ["al-1 ok→pending threshold"])
        #expect(lines(engine.tick(now: t0 + 30_000)) == ["al-1 pending→nodata nodata"])
        #expect(engine.saved()[AlertInstanceKey(rule: "hot", series: thermo1)]?.wasFiring == false)
        // It does not fire while there is no data.
        #expect(engine.tick(now: t0 + 59_000).isEmpty)
        #expect(engine.tick(now: t0 + 60_000).isEmpty)
        // Data returns bad: pending again (same episode), for_ms counted from now.
        #expect(lines(engine.feed(thermo1, 31, at: t0 + 61_000)) == ["al-1 nodata→pending data_returned"])
        #expect(engine.feed(thermo1, 31, at: t0 + 90_000).isEmpty)
        #expect(lines(engine.feed(thermo1, 31, at: t0 + 121_000)) == ["al-1 pending→firing for_elapsed"])

        var other = makeEngine(makeRule(forMs: 60_000, nodataMs: 30_000))
        _ = other.feed(thermo1, 31, at: t0)
        _ = other.tick(now: t0 + 30_000)
        #expect(lines(other.feed(thermo1, 10, at: t0 + 40_000)) == ["al-1 nodata→ok data_returned"])
    }

    @Test func nodataClockStartsWhenARuleCoversASeries() {
        var engine = AlertEngine()
        let events = engine.setRules(
            [makeRule(nodataMs: 30_000)], series: [(thermo1, Sample(ts: t0 - 3_600_000, value: 20))], now: t0)
        #expect(events.isEmpty)
        #expect(engine.tick(now: t0 + 29_999).isEmpty)
        #expect(lines(engine.tick(now: t0 + 30_000)) == ["al-1 ok→nodata nodata"])
    }

    @Test func lateSamplesOnlyRefreshTheNodataClock() {
        var engine = makeEngine(makeRule(nodataMs: 30_000))
        _ = engine.feed(thermo1, 20, at: t0)
        // An older sample (by its timestamp) is not judged, though it is over the threshold.
        #expect(engine.feed(thermo1, 99, at: t0 + 20_000, ts: t0 - 5_000).isEmpty)
        #expect(engine.active(now: t0 + 20_000).isEmpty)
        #expect(engine.tick(now: t0 + 30_000).isEmpty)
        #expect(engine.tick(now: t0 + 49_999).isEmpty)
        #expect(lines(engine.tick(now: t0 + 50_000)) == ["al-1 ok→nodata nodata"])
        // A late sample does not bring an alert back from nodata either.
        #expect(engine.feed(thermo1, 20, at: t0 + 51_000, ts: t0 - 1).isEmpty)
        #expect(engine.active(now: t0 + 51_000).map(\.state) == [.nodata])
    }

    @Test func noNodataWithoutNodataMs() {
        var engine = makeEngine(makeRule())
        _ = engine.feed(thermo1, 31, at: t0)
        #expect(engine.tick(now: t0 + 365 * 86_400_000).isEmpty)
        #expect(engine.active(now: t0).map(\.state) == [.firing])
    }

    @Test func nodataIsPerSeries() {
        var engine = makeEngine(makeRule(nodataMs: 30_000))
        _ = engine.feed(thermo1, 20, at: t0)
        _ = engine.feed(thermo2, 20, at: t0)
        _ = engine.feed(thermo2, 20, at: t0 + 20_000)
        let events = engine.tick(now: t0 + 30_000)
        #expect(lines(events) == ["al-1 ok→nodata nodata"])
        #expect(events.first?.series == thermo1)
    }

    // MARK: Smoothing

    @Test func avgFiltersASpike() throws {
        let raw = makeRule("raw")
        let smooth = makeRule("smooth", over: AlertSmoothing(fn: .avg, windowMs: 60_000))
        var engine = makeEngine(raw, smooth)
        var events: [AlertEvent] = []
        for step in Int64(0)..<5 { events += engine.feed(thermo1, 20, at: t0 + step * 10_000) }
        #expect(events.isEmpty)
        // A spike: the raw rule fires, the smoothed one sees (5 × 20 + 50) / 6 = 25.
        events = engine.feed(thermo1, 50, at: t0 + 50_000)
        #expect(events.map(\.rule) == ["raw"])
        events = engine.feed(thermo1, 20, at: t0 + 60_000)
        #expect(lines(events) == ["al-1 firing→resolved clear"])
        // Sustained: at +70 s the window (+10 s, +70 s] holds 20, 20, 20, 50, 20, 60.
        events = engine.feed(thermo1, 60, at: t0 + 70_000)
        #expect(events.map(\.rule) == ["raw", "smooth"])
        let smoothed = try #require(events.last)
        #expect(smoothed.value == 190.0 / 6)
        #expect(smoothed.threshold == 30)
        #expect(lines([smoothed]) == ["al-3 ok→firing threshold"])
        #expect(engine.active(now: t0 + 70_000).first { $0.rule == "smooth" }?.value == 190.0 / 6)
    }

    @Test func maxWindowKeepsFiringUntilThePeakLeaves() throws {
        var engine = makeEngine(makeRule(over: AlertSmoothing(fn: .max, windowMs: 30_000)))
        #expect(lines(engine.feed(thermo1, 35, at: t0)) == ["al-1 ok→firing threshold"])
        #expect(engine.feed(thermo1, 20, at: t0 + 10_000).isEmpty)
        #expect(engine.feed(thermo1, 20, at: t0 + 29_999).isEmpty)
        let resolved = engine.feed(thermo1, 20, at: t0 + 30_000)
        #expect(lines(resolved) == ["al-1 firing→resolved clear"])
        #expect(resolved.first?.value == 20)
    }

    @Test func minWindowNeedsTheWholeWindowOver() throws {
        var engine = makeEngine(makeRule(over: AlertSmoothing(fn: .min, windowMs: 30_000)))
        #expect(lines(engine.feed(thermo1, 35, at: t0)) == ["al-1 ok→firing threshold"])
        #expect(lines(engine.feed(thermo1, 25, at: t0 + 10_000)) == ["al-1 firing→resolved clear"])
        #expect(engine.feed(thermo1, 40, at: t0 + 20_000).isEmpty)
        #expect(engine.feed(thermo1, 40, at: t0 + 39_999).isEmpty)
        let firing = engine.feed(thermo1, 41, at: t0 + 40_000)
        #expect(lines(firing) == ["al-2 ok→firing threshold"])
        #expect(firing.first?.value == 40)
    }

    @Test func windowsArePerSeriesAndUseSampleTime() {
        var engine = makeEngine(
            makeRule(over: AlertSmoothing(fn: .avg, windowMs: 10_000), clear: AlertCondition(.less, 20)))
        _ = engine.feed(thermo1, 40, at: t0)
        _ = engine.takeDirty()
        #expect(engine.feed(thermo2, 20, at: t0 + 1).isEmpty)
        // Hub time moves on, sample time does not: the 40 is still in thermo-1's window.
        let events = engine.feed(thermo1, 10, at: t0 + 60_000, ts: t0 + 5_000)
        #expect(events.isEmpty)
        #expect(engine.active(now: t0 + 60_000).first?.value == 25)
    }

    // MARK: Rule changes

    @Test func raisingTheThresholdResolvesPerTheNewClear() throws {
        var engine = makeEngine(makeRule())
        _ = engine.feed(thermo1, 33, at: t0)
        _ = engine.takeDirty()
        // Still over the new threshold: nothing.
        let series: [(SeriesKey, Sample?)] = [(thermo1, Sample(ts: t0, value: 33))]
        #expect(
            engine.setRules([makeRule(when: AlertCondition(.greater, 32))], series: series, now: t0 + 1_000).isEmpty)
        #expect(engine.active(now: t0 + 1_000).map(\.alert) == ["al-1"])
        // A hysteresis whose clear the value does not meet: nothing.
        let hysteresis = makeRule(when: AlertCondition(.greater, 35), clear: AlertCondition(.less, 30))
        #expect(engine.setRules([hysteresis], series: series, now: t0 + 2_000).isEmpty)
        #expect(engine.active(now: t0 + 2_000).map(\.alert) == ["al-1"])
        // Its clear met: resolved at once, judged by the new rule.
        let events = engine.setRules([makeRule(when: AlertCondition(.greater, 35))], series: series, now: t0 + 3_000)
        #expect(lines(events) == ["al-1 firing→resolved clear"])
        let event = try #require(events.first)
        #expect(event.value == 33)
        #expect(event.threshold == 35)
        #expect(event.op == .lessOrEqual)
        #expect(event.ts == t0 + 3_000)
        #expect(engine.takeDirty().forget == [AlertInstanceKey(rule: "hot", series: thermo1)])
    }

    @Test func loweringTheThresholdFiresAtOnce() {
        var engine = makeEngine(makeRule())
        #expect(engine.feed(thermo1, 27, at: t0).isEmpty)
        let events = engine.setRules(
            [makeRule(when: AlertCondition(.greater, 25))], series: [(thermo1, Sample(ts: t0, value: 27))],
            now: t0 + 1_000)
        #expect(lines(events) == ["al-1 ok→firing threshold"])
        #expect(events.first?.value == 27)
    }

    @Test func shorteningForMsFiresAPendingAlert() {
        var engine = makeEngine(makeRule(forMs: 60_000))
        _ = engine.feed(thermo1, 31, at: t0)
        let events = engine.setRules(
            [makeRule(forMs: 5_000)], series: [(thermo1, Sample(ts: t0, value: 31))], now: t0 + 10_000)
        #expect(lines(events) == ["al-1 pending→firing for_elapsed"])
        #expect(events.first?.started == t0)
    }

    @Test func deletingARuleResolvesItsAlerts() throws {
        var engine = makeEngine(
            makeRule(), makeRule("other", match: "thermo-*/hum", when: AlertCondition(.greater, 80)))
        _ = engine.feed(thermo1, 31, at: t0)
        _ = engine.feed(thermo2, 20, at: t0)
        _ = engine.feed(humidity1, 90, at: t0)
        _ = engine.takeDirty()
        let series: [(SeriesKey, Sample?)] = [
            (thermo1, Sample(ts: t0, value: 31)), (thermo2, Sample(ts: t0, value: 20)),
            (humidity1, Sample(ts: t0, value: 90)),
        ]
        let events = engine.setRules(
            [makeRule("other", match: "thermo-*/hum", when: AlertCondition(.greater, 80))], series: series,
            now: t0 + 1_000)
        #expect(lines(events) == ["al-1 firing→resolved rule_deleted"])
        let event = try #require(events.first)
        #expect(event.rule == "hot")
        #expect(event.value == 31)
        #expect(event.ts == t0 + 1_000)
        #expect(engine.active(now: t0 + 1_000).map(\.rule) == ["other"])
        #expect(engine.rule("hot") == nil)
        let dirty = engine.takeDirty()
        #expect(dirty.save.isEmpty)
        #expect(
            Set(dirty.forget) == [
                AlertInstanceKey(rule: "hot", series: thermo1), AlertInstanceKey(rule: "hot", series: thermo2),
            ])
        // Deleting every rule.
        let all = engine.setRules([], series: series, now: t0 + 2_000)
        #expect(lines(all) == ["al-2 firing→resolved rule_deleted"])
        #expect(engine.isIdle)
        #expect(engine.instanceCount == 0)
        #expect(engine.feed(humidity1, 95, at: t0 + 3_000).isEmpty)
    }

    @Test func narrowingTheMatchResolvesWithRuleChanged() {
        var engine = makeEngine(makeRule())
        _ = engine.feed(thermo1, 31, at: t0)
        _ = engine.feed(thermo2, 31, at: t0)
        let series: [(SeriesKey, Sample?)] = [
            (thermo1, Sample(ts: t0, value: 31)), (thermo2, Sample(ts: t0, value: 31)),
        ]
        let events = engine.setRules([makeRule(match: "thermo-2/temp")], series: series, now: t0 + 1_000)
        #expect(lines(events) == ["al-1 firing→resolved rule_changed"])
        #expect(events.first?.series == thermo1)
        #expect(engine.active(now: t0 + 1_000).map(\.alert) == ["al-2"])
        #expect(engine.feed(thermo1, 40, at: t0 + 2_000).isEmpty)
    }

    @Test func cosmeticEditsKeepStateWithoutEvents() throws {
        let smoothing = AlertSmoothing(fn: .avg, windowMs: 60_000)
        var engine = makeEngine(makeRule(over: smoothing, forMs: 10_000))
        _ = engine.feed(thermo1, 40, at: t0)
        _ = engine.feed(thermo1, 40, at: t0 + 1_000)
        _ = engine.takeDirty()
        var edited = makeRule(
            over: smoothing, forMs: 10_000, severity: .critical, name: "Too hot", labels: ["team": "ops"],
            description: "{{series}} hot")
        edited.source = .file
        let events = engine.setRules([edited], series: [(thermo1, Sample(ts: t0 + 1_000, value: 40))], now: t0 + 2_000)
        #expect(events.isEmpty)
        #expect(engine.takeDirty().save.isEmpty)
        let current = try #require(engine.active(now: t0 + 2_000).first)
        #expect(current.alert == "al-1")
        #expect(current.state == .pending)
        #expect(current.since == t0)
        #expect(current.name == "Too hot")
        #expect(current.severity == .critical)
        #expect(current.labels == ["team": "ops"])
        #expect(current.description == "thermo-1/temp hot")
        // The timer and the smoothing window carried over: (40 + 40 + 19) / 3 = 33 fires at +10 s.
        let firing = engine.feed(thermo1, 19, at: t0 + 10_000)
        #expect(lines(firing) == ["al-1 pending→firing for_elapsed"])
        #expect(firing.first?.value == 33)
        #expect(firing.first?.severity == .critical)
    }

    @Test func reorderingRulesKeepsEachInstanceWithItsRule() {
        let hot = makeRule("hot", forMs: 10_000)
        let veryHot = makeRule("very-hot", when: AlertCondition(.greater, 40), severity: .critical)
        var engine = makeEngine(hot, veryHot)
        #expect(lines(engine.feed(thermo1, 45, at: t0)) == ["al-1 ok→pending threshold", "al-2 ok→firing threshold"])
        #expect(
            engine.setRules([veryHot, hot], series: [(thermo1, Sample(ts: t0, value: 45))], now: t0 + 1_000).isEmpty)
        #expect(engine.rules.map(\.id) == ["very-hot", "hot"])
        #expect(lines(engine.tick(now: t0 + 10_000)) == ["al-1 pending→firing for_elapsed"])
        let events = engine.feed(thermo1, 35, at: t0 + 11_000)
        #expect(lines(events) == ["al-2 firing→resolved clear"])
        #expect(events.first?.rule == "very-hot")
    }

    @Test func aNewRuleJudgesTheNewestSampleAtOnce() throws {
        var engine = makeEngine(makeRule("power", match: "*/power", when: AlertCondition(.greater, 1_000)))
        _ = engine.feed(thermo1, 33, at: t0)  // covered by no rule yet
        _ = engine.feed(meter1, 10, at: t0)
        let series: [(SeriesKey, Sample?)] = [
            (thermo1, Sample(ts: t0, value: 33)), (thermo2, Sample(ts: t0 - 1_000, value: 20)), (meter1, nil),
            (humidity1, Sample(ts: t0, value: 99)),
        ]
        let events = engine.setRules(
            [makeRule("power", match: "*/power", when: AlertCondition(.greater, 1_000)), makeRule()], series: series,
            now: t0 + 5_000)
        #expect(lines(events) == ["al-1 ok→firing threshold"])
        let event = try #require(events.first)
        #expect(event.series == thermo1)
        #expect(event.value == 33)
        #expect(event.ts == t0 + 5_000)
        #expect(engine.instanceCount == 3)  // power over meter-1, hot over thermo-1 and thermo-2

        // A fresh engine given rules over known series.
        var fresh = AlertEngine()
        #expect(
            lines(fresh.setRules([makeRule(forMs: 1_000)], series: series, now: t0)) == ["al-1 ok→pending threshold"])
    }

    @Test func seriesAppearingLaterAreCovered() {
        var engine = makeEngine(makeRule())
        #expect(
            lines(engine.feed(SeriesKey(device: "thermo-99", metric: "temp"), 31, at: t0)) == [
                "al-1 ok→firing threshold"
            ])
        // A series first seen when no rule matched it is covered by a rule added later.
        #expect(engine.feed(humidity1, 90, at: t0).isEmpty)
        _ = engine.setRules(
            [makeRule(), makeRule("humid", match: "*/hum", when: AlertCondition(.greater, 80))],
            series: [(SeriesKey(device: "thermo-99", metric: "temp"), Sample(ts: t0, value: 31))], now: t0 + 1_000)
        #expect(lines(engine.feed(humidity1, 91, at: t0 + 2_000)) == ["al-2 ok→firing threshold"])
    }

    @Test func ruleChangesKeepSeriesTheCallerDidNotList() throws {
        // `series` lists what the store knows; an alert's series it no longer lists must not vanish silently.
        var engine = makeEngine(makeRule(nodataMs: 30_000))
        _ = engine.feed(thermo1, 31, at: t0)
        _ = engine.takeDirty()
        let renamed = makeRule(nodataMs: 30_000, name: "Renamed")
        #expect(engine.setRules([renamed], series: [], now: t0 + 1_000).isEmpty)
        #expect(engine.takeDirty().forget.isEmpty)
        let current = try #require(engine.active(now: t0 + 1_000).first)
        #expect(current.alert == "al-1")
        #expect(current.name == "Renamed")
        // Its no-data clock still runs from the last sample.
        #expect(lines(engine.tick(now: t0 + 30_000)) == ["al-1 firing→nodata nodata"])
    }

    @Test func aRuleChangeDoesNotTakeTheLastSampleForReturnedData() {
        var engine = makeEngine(makeRule(nodataMs: 30_000))
        _ = engine.feed(thermo1, 31, at: t0)
        #expect(lines(engine.tick(now: t0 + 30_000)) == ["al-1 firing→nodata nodata"])
        // A new threshold under which the last sample would clear: no data has come back, so it stays in nodata.
        let events = engine.setRules(
            [makeRule(when: AlertCondition(.greater, 32), nodataMs: 30_000)],
            series: [(thermo1, Sample(ts: t0, value: 31))], now: t0 + 35_000)
        #expect(events.isEmpty)
        #expect(engine.active(now: t0 + 35_000).map(\.alert) == ["al-1"])
        #expect(engine.active(now: t0 + 35_000).map(\.state) == [.nodata])
        #expect(engine.tick(now: t0 + 40_000).isEmpty)
        // When data does come back it is judged by the new rule.
        #expect(lines(engine.feed(thermo1, 31, at: t0 + 41_000)) == ["al-1 nodata→resolved data_returned"])
    }

    @Test func unchangedRulesChangeNothing() {
        var engine = makeEngine(makeRule(forMs: 10_000))
        _ = engine.feed(thermo1, 31, at: t0)
        _ = engine.takeDirty()
        #expect(
            engine.setRules([makeRule(forMs: 10_000)], series: [(thermo1, Sample(ts: t0, value: 31))], now: t0 + 1)
                .isEmpty)
        #expect(engine.takeDirty().save.isEmpty)
        #expect(lines(engine.tick(now: t0 + 10_000)) == ["al-1 pending→firing for_elapsed"])
    }

    // MARK: Restoring

    @Test func restoredPendingAlertFiresOnTime() throws {
        var engine = makeEngine(makeRule(forMs: 10_000))
        var store = PersistedAlerts()
        _ = engine.feed(thermo1, 31, at: t0)
        store.take(from: &engine)
        #expect(store.all.map(\.state) == [.pending])

        var restored = AlertEngine()
        restored.restore(
            rules: [makeRule(forMs: 10_000)], instances: store.all, silences: [], lastAlertNumber: 1,
            series: [(thermo1, Sample(ts: t0, value: 31))], now: t0 + 3_000)
        #expect(restored.active(now: t0 + 3_000).map(\.alert) == ["al-1"])
        #expect(restored.tick(now: t0 + 9_999).isEmpty)
        let firing = restored.tick(now: t0 + 10_000)
        #expect(lines(firing) == ["al-1 pending→firing for_elapsed"])
        #expect(firing.first?.started == t0)
        #expect(restored.tick(now: t0 + 20_000).isEmpty)
        #expect(restored.feed(thermo1, 31, at: t0 + 21_000).isEmpty)
    }

    @Test func restoredFiringAlertIsNotFiredAgain() throws {
        var engine = makeEngine(makeRule())
        var store = PersistedAlerts()
        _ = engine.feed(thermo1, 31, at: t0)
        store.take(from: &engine)

        var restored = AlertEngine()
        restored.restore(
            rules: [makeRule()], instances: store.all, silences: [], lastAlertNumber: 1,
            series: [(thermo1, Sample(ts: t0, value: 31))], now: t0 + 60_000)
        #expect(restored.tick(now: t0 + 60_000).isEmpty)
        #expect(restored.feed(thermo1, 32, at: t0 + 61_000).isEmpty)
        let current = try #require(restored.active(now: t0 + 61_000).first)
        #expect(current.alert == "al-1")
        #expect(current.state == .firing)
        #expect(current.since == t0)
        #expect(current.started == t0)
        #expect(lines(restored.feed(thermo1, 29, at: t0 + 62_000)) == ["al-1 firing→resolved clear"])
        #expect(lines(restored.feed(thermo1, 31, at: t0 + 63_000)) == ["al-2 ok→firing threshold"])
    }

    @Test func restoredClearingAlertResolvesWhenClearForIsUp() {
        let rule = makeRule(clearForMs: 5_000)
        var engine = makeEngine(rule)
        var store = PersistedAlerts()
        _ = engine.feed(thermo1, 31, at: t0)
        _ = engine.feed(thermo1, 25, at: t0 + 1_000)
        store.take(from: &engine)
        #expect(store.all.first?.clearingSince == t0 + 1_000)

        var restored = AlertEngine()
        restored.restore(
            rules: [rule], instances: store.all, silences: [], lastAlertNumber: 1,
            series: [(thermo1, Sample(ts: t0 + 1_000, value: 25))], now: t0 + 2_000)
        #expect(restored.tick(now: t0 + 5_999).isEmpty)
        #expect(lines(restored.tick(now: t0 + 6_000)) == ["al-1 firing→resolved clear_for_elapsed"])
    }

    @Test func alertIdsContinueAfterRestore() {
        var restored = AlertEngine()
        restored.restore(rules: [makeRule()], instances: [], silences: [], lastAlertNumber: 41, series: [], now: t0)
        #expect(lines(restored.feed(thermo1, 31, at: t0)) == ["al-42 ok→firing threshold"])

        // An instance numbered past lastAlertNumber wins.
        var instance = AlertInstance(key: AlertInstanceKey(rule: "hot", series: thermo2), since: t0)
        instance.state = .firing
        instance.alert = "al-50"
        instance.started = t0
        var again = AlertEngine()
        again.restore(
            rules: [makeRule()], instances: [instance], silences: [], lastAlertNumber: 41,
            series: [(thermo2, Sample(ts: t0, value: 31))], now: t0)
        #expect(lines(again.feed(thermo1, 31, at: t0)) == ["al-51 ok→firing threshold"])
        #expect(again.active(now: t0).map(\.alert).sorted() == ["al-50", "al-51"])
    }

    @Test func nodataClocksRestartAtRestore() {
        let rule = makeRule(nodataMs: 30_000)
        var restored = AlertEngine()
        restored.restore(
            rules: [rule], instances: [], silences: [], lastAlertNumber: 0,
            series: [(thermo1, Sample(ts: t0, value: 25)), (thermo2, nil)], now: t0 + 100_000)
        #expect(restored.tick(now: t0 + 100_000).isEmpty)
        #expect(restored.tick(now: t0 + 129_999).isEmpty)
        #expect(lines(restored.tick(now: t0 + 130_000)) == ["al-1 ok→nodata nodata", "al-2 ok→nodata nodata"])
    }

    @Test func restoredNodataAlertRecovers() {
        let rule = makeRule(nodataMs: 30_000)
        var engine = makeEngine(rule)
        var store = PersistedAlerts()
        _ = engine.feed(thermo1, 31, at: t0)
        _ = engine.tick(now: t0 + 30_000)
        store.take(from: &engine)
        var restored = AlertEngine()
        restored.restore(
            rules: [rule], instances: store.all, silences: [], lastAlertNumber: 1,
            series: [(thermo1, Sample(ts: t0, value: 31))], now: t0 + 100_000)
        #expect(restored.tick(now: t0 + 200_000).isEmpty)
        #expect(lines(restored.feed(thermo1, 20, at: t0 + 200_001)) == ["al-1 nodata→resolved data_returned"])
    }

    @Test func restoreDropsInstancesOfRulesThatAreGone() {
        var gone = AlertInstance(key: AlertInstanceKey(rule: "gone", series: thermo1), since: t0)
        gone.state = .firing
        gone.alert = "al-3"
        var unmatched = AlertInstance(key: AlertInstanceKey(rule: "hot", series: meter1), since: t0)
        unmatched.state = .firing
        unmatched.alert = "al-4"
        var restored = AlertEngine()
        restored.restore(
            rules: [makeRule()], instances: [gone, unmatched], silences: [], lastAlertNumber: 4,
            series: [(thermo1, Sample(ts: t0, value: 20)), (meter1, Sample(ts: t0, value: 31))], now: t0)
        #expect(restored.active(now: t0).isEmpty)
        let dirty = restored.takeDirty()
        #expect(dirty.save.isEmpty)
        #expect(Set(dirty.forget) == [gone.key, unmatched.key])
        #expect(lines(restored.feed(thermo1, 31, at: t0 + 1)) == ["al-5 ok→firing threshold"])
    }

    @Test func restoreKeepsInstancesOfSeriesTheCallerDidNotList() throws {
        var engine = makeEngine(makeRule())
        var store = PersistedAlerts()
        _ = engine.feed(thermo1, 31, at: t0)
        store.take(from: &engine)
        var restored = AlertEngine()
        restored.restore(
            rules: [makeRule()], instances: store.all, silences: [], lastAlertNumber: 1, series: [], now: t0)
        #expect(restored.takeDirty().forget.isEmpty)
        #expect(restored.active(now: t0).map(\.alert) == ["al-1"])
        #expect(lines(restored.feed(thermo1, 20, at: t0 + 1)) == ["al-1 firing→resolved clear"])
    }

    @Test func restoreKeepsAcksAndSilences() throws {
        var engine = makeEngine(makeRule())
        var store = PersistedAlerts()
        let (silence, _) = try engine.addSilence(
            match: "thermo-*/temp", rule: nil, until: t0 + 60_000, comment: "works", by: "alice", now: t0)
        _ = engine.feed(thermo1, 31, at: t0 + 1)
        _ = try engine.ack(alert: "al-1", by: "bob", comment: "mine", now: t0 + 2)
        store.take(from: &engine)

        var restored = AlertEngine()
        restored.restore(
            rules: [makeRule()], instances: store.all, silences: engine.silences, lastAlertNumber: 1,
            series: [(thermo1, Sample(ts: t0 + 1, value: 31))], now: t0 + 10_000)
        let current = try #require(restored.active(now: t0 + 10_000).first)
        #expect(current.ack == AlertAck(by: "bob", comment: "mine", at: t0 + 2))
        #expect(current.silence == silence.id)
        #expect(restored.silences == [silence])
        // Silence ids continue; the restored silence's end is announced.
        let (next, _) = try restored.addSilence(
            match: "x/y", rule: nil, until: t0 + 90_000, comment: "", by: "alice", now: t0 + 10_000)
        #expect(next.id == "sil-2")
        #expect(lines(restored.tick(now: t0 + 60_000)) == ["al-1 -→firing unsilence"])
    }

    @Test func silenceThatEndedWhileTheHubWasDownIsAnnounced() throws {
        var engine = makeEngine(makeRule())
        var store = PersistedAlerts()
        _ = try engine.addSilence(match: "*/*", rule: nil, until: t0 + 60_000, comment: "", by: "a", now: t0)
        _ = engine.feed(thermo1, 31, at: t0 + 1)
        store.take(from: &engine)
        #expect(store.all.first?.silence == "sil-1")
        // The archive hands back only silences that have not ended (SQLiteAlertArchive deletes the others).
        var restored = AlertEngine()
        restored.restore(
            rules: [makeRule()], instances: store.all, silences: [], lastAlertNumber: 1,
            series: [(thermo1, Sample(ts: t0 + 1, value: 31))], now: t0 + 120_000)
        let ended = restored.tick(now: t0 + 120_000)
        #expect(lines(ended) == ["al-1 -→firing unsilence"])
        #expect(restored.active(now: t0 + 120_000).first?.silenced == false)
        #expect(restored.takeDirty().save.first?.silence == nil)
        #expect(restored.tick(now: t0 + 121_000).isEmpty)
        // Or the ended silence is still listed: the same.
        var listed = AlertEngine()
        listed.restore(
            rules: [makeRule()], instances: store.all, silences: engine.silences, lastAlertNumber: 1,
            series: [(thermo1, Sample(ts: t0 + 1, value: 31))], now: t0 + 120_000)
        #expect(lines(listed.tick(now: t0 + 120_000)) == ["al-1 -→firing unsilence"])
        #expect(listed.silences.isEmpty)
    }

    // MARK: Ack

    @Test func ackLastsForTheEpisode() throws {
        var engine = makeEngine(makeRule(forMs: 10_000))
        _ = engine.feed(thermo1, 31, at: t0)
        let acked = try engine.ack(alert: "al-1", by: "alice", comment: "on it", now: t0 + 1_000)
        #expect(acked.event == .ack)
        #expect(acked.reason == "ack")
        #expect(acked.previous == nil)
        #expect(acked.state == .pending)
        #expect(acked.ts == t0 + 1_000)
        #expect(acked.since == t0)
        #expect(acked.ack == AlertAck(by: "alice", comment: "on it", at: t0 + 1_000))
        #expect(engine.saved()[AlertInstanceKey(rule: "hot", series: thermo1)]?.ack?.by == "alice")
        // It carries over pending → firing.
        let firing = engine.tick(now: t0 + 10_000)
        #expect(firing.first?.ack?.by == "alice")
        #expect(engine.current(alert: "al-1", now: t0 + 10_000)?.ack?.comment == "on it")
        // Acking again replaces it.
        _ = try engine.ack(alert: "al-1", by: "bob", comment: "mine now", now: t0 + 11_000)
        #expect(engine.active(now: t0 + 11_000).first?.ack == AlertAck(by: "bob", comment: "mine now", at: t0 + 11_000))
        // The episode ends with the ack on its last event; the next one starts unacked with a new id.
        let resolved = engine.feed(thermo1, 20, at: t0 + 12_000)
        #expect(lines(resolved) == ["al-1 firing→resolved clear"])
        #expect(resolved.first?.ack?.by == "bob")
        #expect(
            protocolError { _ = try engine.ack(alert: "al-1", by: "alice", comment: "", now: t0 + 13_000) }?.code
                == .notFound)
        let next = engine.feed(thermo1, 31, at: t0 + 14_000)
        #expect(lines(next) == ["al-2 ok→pending threshold"])
        #expect(next.first?.ack == nil)
        #expect(engine.current(alert: "al-2", now: t0 + 14_000)?.ack == nil)
    }

    @Test func ackOnlyActiveAlerts() throws {
        var engine = makeEngine(makeRule(forMs: 10_000, nodataMs: 30_000))
        let unknown = protocolError { _ = try engine.ack(alert: "al-1", by: "alice", comment: "", now: t0) }
        #expect(unknown == .notFound("no active alert 'al-1'"))
        #expect(protocolError { _ = try engine.ack(alert: "", by: "alice", comment: "", now: t0) }?.code == .notFound)
        // A pending alert that ended before firing cannot be acked.
        _ = engine.feed(thermo1, 31, at: t0)
        _ = engine.feed(thermo1, 20, at: t0 + 1_000)
        #expect(
            protocolError { _ = try engine.ack(alert: "al-1", by: "a", comment: "", now: t0 + 1_001) }?.code
                == .notFound)
        // A nodata alert can.
        #expect(lines(engine.tick(now: t0 + 31_000)) == ["al-2 ok→nodata nodata"])
        let acked = try engine.ack(alert: "al-2", by: "a", comment: "looking", now: t0 + 31_001)
        #expect(acked.state == .nodata)
        #expect(acked.value == nil)
    }

    @Test func ackCarriesThroughNodata() throws {
        var engine = makeEngine(makeRule(nodataMs: 30_000))
        _ = engine.feed(thermo1, 31, at: t0)
        _ = try engine.ack(alert: "al-1", by: "alice", comment: "", now: t0 + 1)
        #expect(engine.tick(now: t0 + 30_000).first?.ack?.by == "alice")
        #expect(engine.feed(thermo1, 35, at: t0 + 40_000).first?.ack?.by == "alice")
    }

    // MARK: Silences

    @Test func eventsUnderASilenceAreFlagged() throws {
        var engine = makeEngine(makeRule())
        let (silence, events) = try engine.addSilence(
            match: "thermo-*/temp", rule: nil, until: t0 + 60_000, comment: "maintenance", by: "alice", now: t0)
        #expect(events.isEmpty)
        #expect(
            silence
                == Silence(
                    id: "sil-1", match: "thermo-*/temp", rule: nil, until: t0 + 60_000, comment: "maintenance",
                    createdBy: "alice", createdAt: t0))
        let firing = engine.feed(thermo1, 31, at: t0 + 1_000)
        #expect(firing.first?.silence == "sil-1")
        #expect(firing.first?.silenced == true)
        #expect(engine.feed(thermo1, 20, at: t0 + 2_000).first?.silence == "sil-1")
        // Not other series.
        #expect(engine.feed(SeriesKey(device: "other", metric: "temp"), 31, at: t0 + 3_000).isEmpty)
        _ = engine.setRules(
            [makeRule(match: "*/temp")], series: [(thermo1, Sample(ts: t0 + 2_000, value: 20))], now: t0 + 4_000)
        let other = engine.feed(SeriesKey(device: "other", metric: "temp"), 32, at: t0 + 5_000)
        #expect(lines(other) == ["al-2 ok→firing threshold"])
        #expect(other.first?.silenced == false)
    }

    @Test func addingAndRemovingASilenceAnnouncesActiveAlerts() throws {
        var engine = makeEngine(makeRule(), makeRule("humid", match: "*/hum", when: AlertCondition(.greater, 80)))
        _ = engine.feed(thermo1, 31, at: t0)
        _ = engine.feed(thermo2, 31, at: t0)
        _ = engine.feed(humidity1, 90, at: t0)
        _ = engine.feed(SeriesKey(device: "thermo-1", metric: "pressure"), 0, at: t0)
        _ = engine.takeDirty()
        let (silence, added) = try engine.addSilence(
            match: "thermo-1/*", rule: nil, until: t0 + 60_000, comment: "", by: "alice", now: t0 + 1_000)
        #expect(lines(added) == ["al-1 -→firing silence", "al-3 -→firing silence"])
        #expect(added.allSatisfy { $0.event == .silence && $0.silence == silence.id && $0.ts == t0 + 1_000 })
        #expect(Set(engine.takeDirty().save.map(\.key.rule)) == ["hot", "humid"])
        #expect(
            engine.active(AlertFilter(), now: t0 + 1_000).filter(\.silenced).map(\.alert).sorted() == ["al-1", "al-3"])
        var loud = AlertFilter()
        loud.includeSilenced = false
        #expect(engine.active(loud, now: t0 + 1_000).map(\.alert) == ["al-2"])

        // A new episode under the silence.
        #expect(engine.feed(thermo1, 20, at: t0 + 2_000).first?.silence == silence.id)
        #expect(engine.feed(thermo1, 31, at: t0 + 3_000).first?.silence == silence.id)

        let removed = try engine.removeSilence(silence.id, now: t0 + 4_000)
        #expect(lines(removed) == ["al-4 -→firing unsilence", "al-3 -→firing unsilence"])
        #expect(removed.allSatisfy { $0.event == .unsilence && $0.silence == nil })
        #expect(engine.silences.isEmpty)
        #expect(engine.active(now: t0 + 4_000).allSatisfy { !$0.silenced })
        #expect(protocolError { _ = try engine.removeSilence(silence.id, now: t0 + 5_000) }?.code == .notFound)
    }

    @Test func expiringSilenceIsAnnouncedOnATick() throws {
        var engine = makeEngine(makeRule())
        _ = try engine.addSilence(match: "*/*", rule: nil, until: t0 + 10_000, comment: "", by: "a", now: t0)
        #expect(engine.feed(thermo1, 31, at: t0 + 1_000).first?.silenced == true)
        #expect(engine.tick(now: t0 + 9_999).isEmpty)
        let ended = engine.tick(now: t0 + 10_000)
        #expect(lines(ended) == ["al-1 -→firing unsilence"])
        #expect(ended.first?.silence == nil)
        #expect(engine.silences.isEmpty)
        #expect(engine.tick(now: t0 + 20_000).isEmpty)
        #expect(engine.feed(thermo1, 20, at: t0 + 21_000).first?.silenced == false)
    }

    @Test func silencesEndWithoutRules() throws {
        var engine = AlertEngine()
        _ = try engine.addSilence(match: "*/*", rule: nil, until: t0 + 10, comment: "", by: "a", now: t0)
        #expect(engine.tick(now: t0 + 10).isEmpty)
        #expect(engine.silences.isEmpty)
    }

    @Test func ruleLimitedSilence() throws {
        var engine = makeEngine(makeRule(), makeRule("very-hot", when: AlertCondition(.greater, 40)))
        #expect(lines(engine.feed(thermo1, 45, at: t0)) == ["al-1 ok→firing threshold", "al-2 ok→firing threshold"])
        let (silence, events) = try engine.addSilence(
            match: "*/*", rule: "very-hot", until: t0 + 60_000, comment: "", by: "a", now: t0 + 1)
        #expect(silence.rule == "very-hot")
        #expect(lines(events) == ["al-2 -→firing silence"])
        #expect(events.first?.rule == "very-hot")
        let resolved = engine.feed(thermo1, 20, at: t0 + 2)
        #expect(resolved.map(\.silenced) == [false, true])
    }

    @Test func overlappingSilences() throws {
        var engine = makeEngine(makeRule())
        _ = engine.feed(thermo1, 31, at: t0)
        let (wide, first) = try engine.addSilence(
            match: "thermo-*/temp", rule: nil, until: t0 + 60_000, comment: "", by: "a", now: t0)
        #expect(lines(first) == ["al-1 -→firing silence"])
        let (narrow, second) = try engine.addSilence(
            match: "thermo-1/temp", rule: nil, until: t0 + 120_000, comment: "", by: "a", now: t0)
        #expect(second.isEmpty)
        // Still silenced by the other one: no event, and the alert names the silence that covers it now.
        #expect(try engine.removeSilence(wide.id, now: t0 + 1).isEmpty)
        #expect(engine.active(now: t0 + 1).first?.silence == narrow.id)
        #expect(lines(try engine.removeSilence(narrow.id, now: t0 + 2)) == ["al-1 -→firing unsilence"])
    }

    @Test func silencesCoverPendingAndNodataAlerts() throws {
        var engine = makeEngine(makeRule(forMs: 60_000, nodataMs: 30_000))
        _ = engine.feed(thermo1, 20, at: t0)
        #expect(lines(engine.feed(thermo2, 31, at: t0 + 25_000)) == ["al-1 ok→pending threshold"])
        #expect(lines(engine.tick(now: t0 + 30_000)) == ["al-2 ok→nodata nodata"])
        let (_, events) = try engine.addSilence(
            match: "*/*", rule: nil, until: t0 + 100_000, comment: "", by: "a", now: t0 + 30_000)
        #expect(lines(events) == ["al-2 -→nodata silence", "al-1 -→pending silence"])
    }

    @Test func invalidSilences() throws {
        var engine = makeEngine(makeRule())
        let past = protocolError {
            _ = try engine.addSilence(match: "*/*", rule: nil, until: t0, comment: "", by: "a", now: t0)
        }
        #expect(past == .invalidMessage("until: must be in the future"))
        #expect(
            protocolError {
                _ = try engine.addSilence(match: "*/*", rule: nil, until: t0 - 1, comment: "", by: "a", now: t0)
            }?
            .code == .invalidMessage)
        #expect(
            protocolError {
                _ = try engine.addSilence(match: "thermo", rule: nil, until: t0 + 1, comment: "", by: "a", now: t0)
            }?
            .code == .invalidMessage)
        _ = try engine.addSilence(match: "*/*", rule: nil, until: t0 + 1, comment: "", by: "a", now: t0, maxSilences: 1)
        #expect(
            protocolError {
                _ = try engine.addSilence(
                    match: "*/*", rule: nil, until: t0 + 1, comment: "", by: "a", now: t0, maxSilences: 1)
            }?.code == .tooLarge)
        #expect(engine.silences.map(\.id) == ["sil-1"])
        #expect(
            protocolError { _ = try engine.removeSilence("sil-9", now: t0) } == .notFound("no active silence 'sil-9'"))
    }

    // MARK: Reading

    @Test func activeOrderingAndFilters() throws {
        var engine = makeEngine(
            makeRule("warn-hot"), makeRule("crit-hot", when: AlertCondition(.greater, 40), severity: .critical),
            makeRule("info-slow", forMs: 60_000, severity: .info),
            makeRule(
                "crit-quiet", match: "*/hum", when: AlertCondition(.greater, 1e9), nodataMs: 30_000, severity: .critical
            ))
        _ = engine.feed(humidity1, 50, at: t0 - 40_000)
        _ = engine.tick(now: t0 - 10_000)  // al-1: crit-quiet nodata since t0 - 10 s
        _ = engine.feed(thermo1, 35, at: t0)  // al-2 warn firing, al-3 info pending
        _ = engine.feed(thermo2, 45, at: t0 + 1_000)  // al-4 warn firing, al-5 crit firing, al-6 info pending
        let all = engine.active(now: t0 + 2_000)
        #expect(all.map(\.alert) == ["al-5", "al-2", "al-4", "al-1", "al-3", "al-6"])
        #expect(all.allSatisfy { $0.event == .current && $0.reason == "current" && $0.previous == nil })
        #expect(all.allSatisfy { $0.ts == t0 + 2_000 })
        #expect(engine.activeCounts == [.firing: 3, .pending: 2, .nodata: 1])

        var filter = AlertFilter()
        filter.states = [.pending, .nodata]
        #expect(engine.active(filter, now: t0).map(\.alert) == ["al-1", "al-3", "al-6"])
        filter = AlertFilter()
        filter.minimumSeverity = .warning
        #expect(engine.active(filter, now: t0).map(\.alert) == ["al-5", "al-2", "al-4", "al-1"])
        filter.minimumSeverity = .critical
        #expect(engine.active(filter, now: t0).map(\.alert) == ["al-5", "al-1"])
        filter = AlertFilter()
        filter.match = try SeriesSelector(parsing: "thermo-2/*")
        #expect(engine.active(filter, now: t0).map(\.alert) == ["al-5", "al-4", "al-6"])
        filter = AlertFilter()
        filter.rule = "warn-hot"
        #expect(engine.active(filter, now: t0).map(\.alert) == ["al-2", "al-4"])
        filter.states = [.pending]
        #expect(engine.active(filter, now: t0).isEmpty)

        #expect(engine.current(alert: "al-3", now: t0)?.state == .pending)
        #expect(engine.current(alert: "al-99", now: t0) == nil)
    }

    @Test func renderingDescriptions() throws {
        let rule = makeRule(
            clear: AlertCondition(.less, 28), nodataMs: 30_000, severity: .critical, name: "Room too hot",
            labels: ["team": "facilities"], description: "{{series}} is {{value}} °C (threshold {{threshold}})")
        let every = makeRule(
            "every", when: AlertCondition(.greater, 1e6), severity: .info, name: "Every",
            description: "{{device}}|{{metric}}|{{rule}}|{{severity}}|{{ value }}|{{nope}}|{{value")
        var engine = makeEngine(rule, every)
        let firing = try #require(engine.feed(thermo1, 31.2, at: t0).first)
        #expect(firing.description == "thermo-1/temp is 31.2 °C (threshold 30)")
        #expect(firing.labels == ["team": "facilities"])
        #expect(firing.name == "Room too hot")
        let resolved = try #require(engine.feed(thermo1, 27.5, at: t0 + 1).first)
        #expect(resolved.description == "thermo-1/temp is 27.5 °C (threshold 28)")
        let nodata = try #require(engine.tick(now: t0 + 30_001).first)
        #expect(nodata.description == "thermo-1/temp is no data °C (threshold )")
        let big = try #require(engine.feed(thermo1, 2_000_000, at: t0 + 30_002).last)
        #expect(big.rule == "every")
        #expect(big.description == "thermo-1|temp|Every|info|2000000|{{nope}}|{{value")
        #expect(makeEngine().isIdle)
    }

    @Test func eventMessageEncoding() throws {
        var engine = makeEngine(
            makeRule(
                forMs: 1_000, severity: .critical, name: "Room too hot", labels: ["team": "facilities"],
                description: "{{series}} is {{value}} °C (threshold {{threshold}})"))
        _ = try engine.addSilence(match: "*/*", rule: nil, until: t0 + 60_000, comment: "", by: "a", now: t0 - 20_000)
        _ = engine.feed(thermo1, 31.2, at: t0 - 10_000)
        _ = try engine.ack(alert: "al-1", by: "alice", comment: "on it", now: t0 - 5_000)
        let event = try #require(engine.tick(now: t0).first)
        let text = String(decoding: event.encoded, as: UTF8.self)
        #expect(
            text
                == #"{"type":"alert","alert":"al-1","rule":"hot","name":"Room too hot","series":"thermo-1/temp","device":"thermo-1","metric":"temp","state":"firing","previous":"pending","event":"transition","reason":"for_elapsed","severity":"critical","value":31.2,"threshold":30,"op":">","ts":1764640000000,"since":1764640000000,"started":1764639990000,"acked":true,"acked_by":"alice","ack_comment":"on it","acked_at":1764639995000,"silenced":true,"silence":"sil-1","labels":{"team":"facilities"},"description":"thermo-1/temp is 31.2 °C (threshold 30)"}"#
        )
        #expect(try JSONParser.parse(text)["state"] == .string("firing"))
    }

    // MARK: takeDirty

    @Test func takeDirtySavesAndForgets() throws {
        var engine = makeEngine(makeRule(forMs: 10_000))
        #expect(engine.takeDirty().save.isEmpty)
        #expect(engine.feed(thermo1, 20, at: t0).isEmpty)
        let quiet = engine.takeDirty()
        #expect(quiet.save.isEmpty && quiet.forget.isEmpty)

        _ = engine.feed(thermo1, 31, at: t0 + 1_000)
        let pending = engine.takeDirty()
        #expect(pending.forget.isEmpty)
        let instance = try #require(pending.save.first)
        #expect(pending.save.count == 1)
        #expect(instance.key == AlertInstanceKey(rule: "hot", series: thermo1))
        #expect(instance.state == .pending)
        #expect(instance.alert == "al-1")
        #expect(instance.since == t0 + 1_000)
        #expect(instance.started == t0 + 1_000)
        #expect(instance.value == 31)
        #expect(instance.valueTs == t0 + 1_000)
        // Taken once.
        let again = engine.takeDirty()
        #expect(again.save.isEmpty && again.forget.isEmpty)
        // New values without a state change are not saved.
        _ = engine.feed(thermo1, 32, at: t0 + 2_000)
        #expect(engine.takeDirty().save.isEmpty)

        _ = engine.tick(now: t0 + 11_000)
        #expect(engine.takeDirty().save.map(\.state) == [.firing])
        _ = engine.feed(thermo1, 20, at: t0 + 12_000)
        let ended = engine.takeDirty()
        #expect(ended.save.isEmpty)
        #expect(ended.forget == [AlertInstanceKey(rule: "hot", series: thermo1)])

        // Pending then ok within one batch: only forgotten.
        _ = engine.feed(thermo1, 31, at: t0 + 13_000)
        _ = engine.feed(thermo1, 20, at: t0 + 14_000)
        let flicker = engine.takeDirty()
        #expect(flicker.save.isEmpty)
        #expect(flicker.forget == [AlertInstanceKey(rule: "hot", series: thermo1)])
    }

    @Test func persistedStateFollowsTheEngine() {
        // Apply takeDirty after every step to a model archive: it always holds exactly the non-ok instances.
        var engine = makeEngine(
            makeRule(forMs: 5_000, clearForMs: 5_000, nodataMs: 30_000),
            makeRule("any", match: "*/*", when: AlertCondition(.less, 0)))
        var store = PersistedAlerts()
        var random = SeededRandom(seed: 42)
        let keys = [thermo1, thermo2, humidity1]
        var now = t0
        for _ in 0..<2_000 {
            now += Int64.random(in: 0...4_000, using: &random)
            if Int.random(in: 0..<5, using: &random) == 0 {
                _ = engine.tick(now: now)
            } else {
                let key = keys[Int.random(in: 0..<keys.count, using: &random)]
                _ = engine.feed(key, Double.random(in: -5...40, using: &random).rounded(), at: now)
            }
            store.take(from: &engine)
            let active = engine.active(now: now)
            #expect(Set(store.all.compactMap(\.alert)) == Set(active.map(\.alert)))
            #expect(Set(store.all.map(\.state)).isSubset(of: [.pending, .firing, .nodata]))
        }
    }

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomScenariosAreExplainedByTheirEvents(seed: UInt64) throws {
        // Samples, ticks, rule changes (sometimes with series the caller no longer lists), silences, acks and
        // restores in random order. After every step the events so far must explain the state exactly: each
        // transition starts from the state the last event left, episodes get new increasing ids, and the active
        // alerts and the persisted instances are the ones the events say are active.
        let any = makeRule(
            "any", match: "*/*", when: AlertCondition(.less, 0), over: AlertSmoothing(fn: .avg, windowMs: 10_000))
        let variants: [[AlertRule]] = [
            [
                makeRule(forMs: 5_000, clear: AlertCondition(.less, 25), clearForMs: 3_000, nodataMs: 20_000), any,
            ],
            [makeRule(when: AlertCondition(.greater, 35), nodataMs: 20_000), any],
            [makeRule("humid", match: "*/hum", when: AlertCondition(.greater, 30), forMs: 2_000, nodataMs: 15_000)],
            [],
        ]
        let keys = [thermo1, thermo2, humidity1, meter1]
        var random = SeededRandom(seed: seed)
        var now = t0
        var rules = variants[0]
        var engine = AlertEngine()
        _ = engine.setRules(rules, series: [], now: now)
        var store = PersistedAlerts()
        var latest: [SeriesKey: Sample] = [:]
        var tracked: [AlertInstanceKey: (state: AlertState, alert: String)] = [:]
        var highest: UInt64 = 0

        func check(_ events: [AlertEvent], step: Int) {
            for event in events {
                let key = AlertInstanceKey(rule: event.rule, series: event.series)
                let current = tracked[key]
                #expect(event.ts == now, "step \(step)")
                guard event.event == .transition else {
                    #expect(current?.alert == event.alert, "step \(step): \(line(event))")
                    #expect(current?.state == event.state, "step \(step): \(line(event))")
                    continue
                }
                #expect(event.previous == (current?.state ?? .ok), "step \(step): \(line(event))")
                #expect(event.since == now)
                if let current {
                    #expect(event.alert == current.alert, "step \(step): \(line(event))")
                } else {
                    let number = AlertEngine.number(event.alert, prefix: "al-") ?? 0
                    #expect(number > highest, "step \(step): \(line(event))")
                    highest = max(highest, number)
                }
                tracked[key] = event.state.isActive ? (event.state, event.alert) : nil
            }
        }

        for step in 0..<3_000 {
            now += Int64.random(in: 0...2_500, using: &random)
            var events: [AlertEvent] = []
            let kind = Int.random(in: 0..<100, using: &random)
            switch kind {
            case 0..<55:
                let key = keys[Int.random(in: 0..<keys.count, using: &random)]
                let late = Int.random(in: 0..<10, using: &random) == 0
                let sample = Sample(
                    ts: late ? now - 60_000 : now, value: Double(Int.random(in: -10...90, using: &random)) / 2)
                if sample.ts >= latest[key]?.ts ?? .min { latest[key] = sample }
                engine.observe(key, sample, now: now, events: &events)
            case 55..<75:
                events = engine.tick(now: now)
            case 75..<80:
                rules = variants[Int.random(in: 0..<variants.count, using: &random)]
                var series = latest.sorted { $0.key < $1.key }.map { ($0.key, Optional($0.value)) }
                if Int.random(in: 0..<3, using: &random) == 0 { series.removeFirst(min(series.count, 2)) }
                events = engine.setRules(rules, series: series, now: now)
            case 80..<86:
                let match = ["*/*", "thermo-1/*", "*/hum"][Int.random(in: 0..<3, using: &random)]
                let rule = ["hot", nil, "any"][Int.random(in: 0..<3, using: &random)]
                let until = now + Int64.random(in: 1...30_000, using: &random)
                events = try engine.addSilence(match: match, rule: rule, until: until, comment: "", by: "t", now: now).1
            case 86..<89:
                if let silence = engine.silences.randomElement(using: &random) {
                    events = try engine.removeSilence(silence.id, now: now)
                }
            case 89..<95:
                if let alert = tracked.values.map(\.alert).sorted().randomElement(using: &random) {
                    events = [try engine.ack(alert: alert, by: "t", comment: "\(step)", now: now)]
                }
            default:
                store.take(from: &engine)
                var restored = AlertEngine()
                restored.restore(
                    rules: rules, instances: store.all, silences: engine.silences.filter { $0.until > now },
                    lastAlertNumber: highest, series: latest.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
                    now: now)
                engine = restored
            }
            check(events, step: step)
            store.take(from: &engine)
            let active = engine.active(now: now)
            let expected = tracked.map { "\($0.value.alert) \($0.value.state.rawValue)" }.sorted()
            #expect(active.map { "\($0.alert) \($0.state.rawValue)" }.sorted() == expected, "step \(step)")
            #expect(store.all.map { "\($0.alert ?? "-") \($0.state.rawValue)" }.sorted() == expected, "step \(step)")
            var ticked = false
            if case 55..<75 = kind { ticked = true }
            if ticked {
                // After a tick each active alert names the silence that covers it, if any.
                for alert in active {
                    let key = AlertInstanceKey(rule: alert.rule, series: alert.series)
                    let covering = engine.silences.first { $0.covers(key, now: now) }?.id
                    #expect(alert.silence == covering, "step \(step): \(alert.alert)")
                }
            }
            if active.map(\.alert).sorted() != tracked.values.map(\.alert).sorted() { break }
        }
    }

    // MARK: Index

    @Test func seriesThatNoRuleMatchesCostNothing() {
        var engine = makeEngine(makeRule())
        for index in 0..<100 {
            #expect(engine.feed(SeriesKey(device: "meter-\(index)", metric: "power"), 1e9, at: t0).isEmpty)
        }
        #expect(engine.instanceCount == 0)
        #expect(engine.tick(now: t0 + 1_000_000).isEmpty)
        var idle = AlertEngine()
        #expect(idle.isIdle)
        #expect(idle.feed(thermo1, 1e9, at: t0).isEmpty)
        #expect(idle.takeDirty().save.isEmpty)
    }

    @Test func manyRulesEachSampleAffectsOnlyItsOwn() throws {
        let count = 1_000
        let rules = (0..<count).map { makeRule("r-\($0)", match: "dev-\($0)/temp", when: AlertCondition(.greater, 50)) }
        var engine = AlertEngine()
        #expect(engine.setRules(rules, series: [], now: t0).isEmpty)
        let keys = (0..<count).map { SeriesKey(device: "dev-\($0)", metric: "temp") }
        for key in keys { #expect(engine.feed(key, 10, at: t0).isEmpty) }
        #expect(engine.instanceCount == count)
        // Each over-threshold sample fires exactly its own rule over its own series.
        for (index, key) in keys.enumerated().reversed() {
            let events = engine.feed(key, 60, at: t0 + 1_000)
            #expect(events.count == 1)
            #expect(events.first?.rule == "r-\(index)")
            #expect(events.first?.series == key)
            #expect(events.first?.alert == "al-\(count - index)")
        }
        #expect(engine.activeCounts == [.firing: count])
        // A wildcard rule alongside covers them all in addition.
        let wide = makeRule("wide", match: "dev-*/temp", when: AlertCondition(.greater, 100))
        let series: [(SeriesKey, Sample?)] = keys.map { ($0, Sample(ts: t0 + 1_000, value: 60)) }
        #expect(engine.setRules(rules + [wide], series: series, now: t0 + 2_000).isEmpty)
        #expect(engine.instanceCount == 2 * count)
        let both = engine.feed(keys[7], 200, at: t0 + 3_000)
        #expect(both.map(\.rule) == ["wide"])
        let resolved = engine.feed(keys[7], 0, at: t0 + 4_000)
        #expect(resolved.map(\.rule) == ["r-7", "wide"])
        #expect(engine.activeCounts == [.firing: count - 1])
    }
}
