import Foundation
import HubSQLite
import Testing

@testable import HubCore

/// A fresh temporary directory for `alerts.db`, removed by `remove()`.
private struct TempAlertDirectory {
    let directory: String
    var path: String { (directory as NSString).appendingPathComponent(SQLiteAlertArchive.fileName) }

    init() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("hubsqlite-alerts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// The hub time the SQLite archives under test see.
private let now: Int64 = 1_764_640_000_000

/// The two implementations the shared cases run on.
enum AlertArchiveKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, sqlite

    var testDescription: String { rawValue }

    /// A fresh, empty archive of this kind; `cleanup` removes its files.
    fileprivate func make() throws -> (archive: any AlertArchive, cleanup: () -> Void) {
        switch self {
        case .memory:
            return (MemoryAlertArchive(), {})
        case .sqlite:
            let directory = try TempAlertDirectory()
            return (try SQLiteAlertArchive(path: directory.path, clock: { now }), directory.remove)
        }
    }
}

// MARK: Fixtures

private func selector(_ text: String) -> SeriesSelector {
    try! SeriesSelector(parsing: text)
}

/// Rules using every field, ids deliberately not in alphabetical order.
private let ruleSet: [AlertRule] = [
    AlertRule(
        id: "hot-rooms", name: "Room too hot", match: selector("thermo-*/temp"), when: AlertCondition(.greater, 30),
        over: AlertSmoothing(fn: .avg, windowMs: 60_000), forMs: 10_000, clear: AlertCondition(.less, 28),
        clearForMs: 5_000, nodataMs: 30_000, severity: .critical,
        labels: ["team": "facilities", "floor": "2 \"east\""],
        description: "{{series}} is {{value}} °C (threshold {{threshold}})", source: .file),
    AlertRule(
        id: "dry", match: selector("*/hum"), when: AlertCondition(.lessOrEqual, 20.5),
        over: AlertSmoothing(fn: .min, windowMs: 1), severity: .warning, source: .api),
    AlertRule(
        id: "any-change", name: "Anything at all", match: selector("*/*"), when: AlertCondition(.notEqual, -0.125),
        nodataMs: 1, severity: .info, labels: ["ü": "ß"], description: "{{rule}} on {{device}}/{{metric}}",
        source: .api),
]

private func event(
    _ alert: String, ts: Int64, rule: String = "hot-rooms", series: String = "thermo-1/temp",
    state: AlertState = .firing, previous: AlertState? = .pending, kind: AlertEventKind = .transition,
    severity: AlertSeverity = .critical, value: Double? = 31.2, silence: String? = nil, ack: AlertAck? = nil
) -> AlertEvent {
    AlertEvent(
        alert: alert, rule: rule, name: "Name of \(rule)", series: SeriesKey(parsing: series)!, state: state,
        previous: previous, event: kind, reason: "threshold", severity: severity, value: value,
        threshold: value == nil ? nil : 30, op: value == nil ? nil : .greater, ts: ts, since: ts - 5, started: ts - 10,
        ack: ack, silence: silence, labels: ["team": "facilities"], description: "\(series) at \(ts)")
}

/// Seven events covering every filter; the last two share a timestamp.
private let history: [AlertEvent] = [
    event("al-1", ts: 100, state: .pending, previous: .ok),
    event("al-1", ts: 200),
    event("al-2", ts: 300, rule: "dry", series: "hyg-1/hum", severity: .warning, silence: "sil-1"),
    event(
        "al-1", ts: 400, state: .resolved, previous: .firing, ack: AlertAck(by: "alice", comment: "on it", at: 350)),
    event("al-3", ts: 500, rule: "any-change", series: "thermo-2/temp", state: .nodata, severity: .info, value: nil),
    event("al-2", ts: 600, rule: "dry", series: "hyg-1/hum", state: .resolved, severity: .warning),
    event("al-4", ts: 600, series: "thermo-2/temp", state: .pending, previous: .ok),
]

private func instance(
    rule: String, series: String, state: AlertState, alert: String?, since: Int64
) -> AlertInstance {
    var instance = AlertInstance(key: AlertInstanceKey(rule: rule, series: SeriesKey(parsing: series)!), since: since)
    instance.state = state
    instance.alert = alert
    instance.started = alert == nil ? nil : since - 1_000
    return instance
}

/// A write of `events` only.
private func eventsWrite(_ events: [AlertEvent]) -> AlertWrite {
    var write = AlertWrite()
    write.events = events
    return write
}

private func query(
    since: Int64 = .min, until: Int64 = .max, alert: String? = nil, limit: Int = 1_000,
    _ configure: (inout AlertFilter) -> Void = { _ in }
) -> AlertHistoryQuery {
    var query = AlertHistoryQuery()
    query.since = since
    query.until = until
    query.alert = alert
    query.limit = limit
    configure(&query.filter)
    return query
}

// MARK: Shared cases

@Suite("Alert archives: the same behaviour from MemoryAlertArchive and SQLiteAlertArchive")
struct AlertArchiveSharedTests {
    @Test(arguments: AlertArchiveKind.allCases)
    func anEmptyArchiveStartsEmpty(kind: AlertArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        let startup = try archive.startup(parser: AlertRuleParser())
        #expect(startup.rules.isEmpty)
        #expect(startup.instances.isEmpty)
        #expect(startup.silences.isEmpty)
        #expect(startup.lastAlertNumber == 0)
        #expect(try archive.history(AlertHistoryQuery()).isEmpty)
        try archive.apply(AlertWrite())
        #expect(try archive.prune(before: .max) == 0)
    }

    @Test(arguments: AlertArchiveKind.allCases)
    func rulesComeBackInOrderWithEveryFieldAndTheirSource(kind: AlertArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        var write = AlertWrite()
        write.rules = ruleSet
        try archive.apply(write)
        let rules = try archive.startup(parser: AlertRuleParser()).rules
        #expect(rules == ruleSet)
        #expect(rules.map(\.id) == ["hot-rooms", "dry", "any-change"])
        #expect(rules.map(\.source) == [.file, .api, .api])
        #expect(rules[0].over == AlertSmoothing(fn: .avg, windowMs: 60_000))
        #expect(rules[0].clear == AlertCondition(.less, 28))
        #expect(rules[0].labels == ["team": "facilities", "floor": "2 \"east\""])
        #expect(rules[0].description == "{{series}} is {{value}} °C (threshold {{threshold}})")
        #expect(rules[1].name == "dry")
        #expect(rules[1].clear == nil)
    }

    @Test(arguments: AlertArchiveKind.allCases)
    func aNewRuleSetReplacesTheWholeOldOne(kind: AlertArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        var write = AlertWrite()
        write.rules = ruleSet
        try archive.apply(write)

        // A write without rules leaves them alone.
        try archive.apply(eventsWrite([event("al-1", ts: 1)]))
        #expect(try archive.startup(parser: AlertRuleParser()).rules == ruleSet)

        var edited = ruleSet[1]
        edited.severity = .critical
        edited.description = "edited"
        let replacement = [edited, AlertRule(id: "new", match: selector("x/y"), when: AlertCondition(.equal, 1))]
        write.rules = replacement
        try archive.apply(write)
        #expect(try archive.startup(parser: AlertRuleParser()).rules == replacement)

        write.rules = []
        try archive.apply(write)
        #expect(try archive.startup(parser: AlertRuleParser()).rules.isEmpty)
    }

    @Test(arguments: AlertArchiveKind.allCases)
    func instancesKeepTheirTimersAndAreForgotten(kind: AlertArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        var firing = instance(rule: "hot-rooms", series: "thermo-1/temp", state: .firing, alert: "al-7", since: 5_000)
        firing.clearingSince = 6_000
        firing.value = 27.25
        firing.valueTs = 5_999
        firing.ack = AlertAck(by: "alice", comment: "on it \"now\"", at: 5_500)
        firing.silence = "sil-2"
        var nodata = instance(rule: "dry", series: "hyg-1/hum", state: .nodata, alert: "al-8", since: 7_000)
        nodata.wasFiring = true
        let pending = instance(rule: "dry", series: "hyg-0/hum", state: .pending, alert: "al-9", since: 8_000)

        var write = AlertWrite()
        write.save = [firing, nodata, pending]
        try archive.apply(write)
        // Sorted by rule, then series.
        #expect(try archive.startup(parser: AlertRuleParser()).instances == [pending, nodata, firing])

        // Saving again replaces; forgetting removes.
        var later = pending
        later.state = .firing
        later.since = 9_000
        write = AlertWrite()
        write.save = [later]
        write.forget = [nodata.key]
        try archive.apply(write)
        #expect(try archive.startup(parser: AlertRuleParser()).instances == [later, firing])

        // Forgetting a key that is not there is harmless.
        write = AlertWrite()
        write.forget = [AlertInstanceKey(rule: "gone", series: SeriesKey(device: "a", metric: "b"))]
        try archive.apply(write)
        #expect(try archive.startup(parser: AlertRuleParser()).instances == [later, firing])
    }

    @Test(arguments: AlertArchiveKind.allCases)
    func silencesAreSavedReplacedAndRemoved(kind: AlertArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        let first = Silence(
            id: "sil-1", match: "thermo-*/temp", rule: "hot-rooms", until: now + 3_600_000, comment: "maintenance",
            createdBy: "alice", createdAt: now - 2_000)
        let second = Silence(
            id: "sil-2", match: "*/*", until: now + 60_000, comment: "", createdBy: "bob", createdAt: now - 1_000)
        var write = AlertWrite()
        write.silences = [second, first]
        try archive.apply(write)
        #expect(try archive.startup(parser: AlertRuleParser()).silences == [first, second])

        var extended = second
        extended.until = now + 120_000
        write = AlertWrite()
        write.silences = [extended]
        write.silencesRemoved = [first.id]
        try archive.apply(write)
        #expect(try archive.startup(parser: AlertRuleParser()).silences == [extended])
    }

    @Test(arguments: AlertArchiveKind.allCases)
    func historyFiltersByEveryFieldAndReturnsTheNewestOldestFirst(kind: AlertArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        try archive.apply(eventsWrite(Array(history[..<3])))
        try archive.apply(eventsWrite(Array(history[3...])))

        func expect(
            _ query: AlertHistoryQuery, _ indices: [Int], sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            let stored = try archive.history(query)
            #expect(stored.map(\.event) == indices.map { history[$0] }, sourceLocation: sourceLocation)
            #expect(stored.map(\.json) == indices.map { history[$0].encoded }, sourceLocation: sourceLocation)
        }

        try expect(AlertHistoryQuery(), [0, 1, 2, 3, 4, 5, 6])
        try expect(query(since: 300), [2, 3, 4, 5, 6])
        try expect(query(until: 400), [0, 1, 2, 3])
        try expect(query(since: 200, until: 500), [1, 2, 3, 4])
        try expect(query(since: 600, until: 600), [5, 6])
        try expect(query(since: 601), [])
        try expect(query(since: 500, until: 400), [])
        try expect(query { $0.states = [.firing] }, [1, 2])
        try expect(query { $0.states = [.resolved, .ok] }, [3, 5])
        try expect(query { $0.states = [.pending, .nodata, .firing] }, [0, 1, 2, 4, 6])
        try expect(query { $0.minimumSeverity = .info }, [0, 1, 2, 3, 4, 5, 6])
        try expect(query { $0.minimumSeverity = .warning }, [0, 1, 2, 3, 5, 6])
        try expect(query { $0.minimumSeverity = .critical }, [0, 1, 3, 6])
        try expect(query { $0.match = selector("thermo-*/temp") }, [0, 1, 3, 4, 6])
        try expect(query { $0.match = selector("*/hum") }, [2, 5])
        try expect(query { $0.match = selector("nothing/*") }, [])
        try expect(query { $0.rule = "dry" }, [2, 5])
        try expect(query(alert: "al-1"), [0, 1, 3])
        try expect(query(alert: "al-99"), [])
        try expect(query { $0.includeSilenced = false }, [0, 1, 3, 4, 5, 6])
        try expect(query(limit: 3), [4, 5, 6])
        try expect(query(limit: 1), [6])
        try expect(query(limit: 0), [])
        try expect(query(limit: 2) { $0.match = selector("thermo-*/temp") }, [4, 6])
        try expect(query(limit: 1) { $0.match = selector("*/hum") }, [5])
        try expect(
            query(until: 599, limit: 2) {
                $0.match = selector("thermo-*/temp")
                $0.minimumSeverity = .critical
            }, [1, 3])
        try expect(
            query(since: 100, until: 600, alert: "al-2", limit: 5) {
                $0.rule = "dry"
                $0.states = [.firing]
                $0.includeSilenced = true
            }, [2])
        try expect(query(alert: "al-2") { $0.includeSilenced = false }, [5])
    }

    @Test(arguments: AlertArchiveKind.allCases)
    func aMatchKeepsReadingOlderRowsUntilLimitEventsMatch(kind: AlertArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        let old = (0..<5).map { event("al-\($0 + 1)", ts: Int64($0), series: "thermo-\($0)/temp") }
        let noise = (0..<700).map {
            event("al-\($0 + 100)", ts: 1_000 + Int64($0), rule: "dry", series: "hyg-\($0)/hum", severity: .warning)
        }
        try archive.apply(eventsWrite(old + noise))
        let found = try archive.history(query(limit: 3) { $0.match = selector("thermo-*/temp") })
        #expect(found.map(\.event) == Array(old[2...]))
        let all = try archive.history(query(limit: 1_000) { $0.match = selector("thermo-*/temp") })
        #expect(all.map(\.event) == old)
    }

    @Test(arguments: AlertArchiveKind.allCases)
    func theLastAlertNumberIsTheHighestInAnyEvent(kind: AlertArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        try archive.apply(eventsWrite([event("al-3", ts: 1), event("al-12", ts: 2), event("al-5", ts: 3)]))
        #expect(try archive.startup(parser: AlertRuleParser()).lastAlertNumber == 12)
        try archive.apply(eventsWrite([event("al-2", ts: 4), event("sil-99", ts: 5), event("al-x", ts: 6)]))
        #expect(try archive.startup(parser: AlertRuleParser()).lastAlertNumber == 12)
        // Pruning the events does not give numbers back.
        #expect(try archive.prune(before: .max) == 6)
        #expect(try archive.startup(parser: AlertRuleParser()).lastAlertNumber == 12)
    }

    @Test(arguments: AlertArchiveKind.allCases)
    func pruneDeletesEventsBeforeTheCutOnly(kind: AlertArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        try archive.apply(eventsWrite(history))
        #expect(try archive.prune(before: 300) == 2)
        #expect(try archive.history(AlertHistoryQuery()).map(\.event) == Array(history[2...]))
        #expect(try archive.prune(before: 300) == 0)
        #expect(try archive.prune(before: 600) == 3)
        #expect(try archive.history(AlertHistoryQuery()).map(\.event) == Array(history[5...]))
        #expect(try archive.prune(before: 601) == 2)
        #expect(try archive.history(AlertHistoryQuery()).isEmpty)
    }
}

// MARK: SQLite only

@Suite("SQLiteAlertArchive: alerts.db")
struct SQLiteAlertArchiveTests {
    @Test func everythingSurvivesAReopenOfTheSameFile() throws {
        let directory = try TempAlertDirectory()
        defer { directory.remove() }
        var firing = instance(rule: "hot-rooms", series: "thermo-1/temp", state: .firing, alert: "al-4", since: 1)
        firing.value = 33
        firing.valueTs = 2
        let silence = Silence(
            id: "sil-1", match: "*/hum", until: now + 1, comment: "c", createdBy: "alice", createdAt: now - 1)
        var write = AlertWrite()
        write.rules = ruleSet
        write.events = history
        write.save = [firing]
        write.silences = [silence]
        do {
            let archive = try SQLiteAlertArchive(path: directory.path, clock: { now })
            try archive.apply(write)
            #expect(archive.location == directory.path)
        }
        let reopened = try SQLiteAlertArchive(path: directory.path, clock: { now })
        let startup = try reopened.startup(parser: AlertRuleParser())
        #expect(startup.rules == ruleSet)
        #expect(startup.instances == [firing])
        #expect(startup.silences == [silence])
        #expect(startup.lastAlertNumber == 4)
        let stored = try reopened.history(AlertHistoryQuery())
        #expect(stored.map(\.event) == history)
        #expect(stored.map(\.json) == history.map(\.encoded))

        // New events after the reopen go after the old ones.
        try reopened.apply(eventsWrite([event("al-9", ts: 600)]))
        #expect(try reopened.history(query(limit: 2)).map(\.event.alert) == ["al-4", "al-9"])
        #expect(try reopened.startup(parser: AlertRuleParser()).lastAlertNumber == 9)
    }

    @Test func theLastAlertNumberSurvivesAReopenAndCountsSavedInstances() throws {
        let directory = try TempAlertDirectory()
        defer { directory.remove() }
        do {
            let archive = try SQLiteAlertArchive(path: directory.path, clock: { now })
            try archive.apply(eventsWrite([event("al-41", ts: 1)]))
            var write = AlertWrite()
            // An instance whose events were never written (or were pruned) still holds its number.
            write.save = [instance(rule: "r", series: "a/b", state: .pending, alert: "al-77", since: 1)]
            try archive.apply(write)
            write = AlertWrite()
            write.forget = [AlertInstanceKey(rule: "r", series: SeriesKey(device: "a", metric: "b"))]
            try archive.apply(write)
            #expect(try archive.prune(before: .max) == 1)
        }
        let reopened = try SQLiteAlertArchive(path: directory.path, clock: { now })
        #expect(try reopened.startup(parser: AlertRuleParser()).lastAlertNumber == 77)
    }

    @Test func silencesThatEndedAreDroppedAtStartup() throws {
        let directory = try TempAlertDirectory()
        defer { directory.remove() }
        func silence(_ id: String, until: Int64) -> Silence {
            Silence(id: id, match: "*/*", until: until, comment: "", createdBy: "ops", createdAt: 0)
        }
        let archive = try SQLiteAlertArchive(path: directory.path, clock: { now })
        var write = AlertWrite()
        write.silences = [
            silence("sil-1", until: now - 1), silence("sil-2", until: now), silence("sil-3", until: now + 1),
        ]
        try archive.apply(write)
        #expect(try archive.startup(parser: AlertRuleParser()).silences.map(\.id) == ["sil-3"])

        // Dropped from the file too: an archive whose clock is earlier does not see them again.
        let earlier = try SQLiteAlertArchive(path: directory.path, clock: { 0 })
        #expect(try earlier.startup(parser: AlertRuleParser()).silences.map(\.id) == ["sil-3"])
    }

    @Test func aFailedWriteLeavesNothingBehind() throws {
        let directory = try TempAlertDirectory()
        defer { directory.remove() }
        let archive = try SQLiteAlertArchive(path: directory.path, clock: { now })
        var write = AlertWrite()
        write.rules = ruleSet
        try archive.apply(write)

        write = AlertWrite()
        write.events = history
        write.save = [instance(rule: "r", series: "a/b", state: .pending, alert: "al-50", since: 1)]
        write.rules = [ruleSet[0], ruleSet[0]]  // duplicate id: the insert fails
        #expect(throws: SQLiteError.self) { try archive.apply(write) }

        let startup = try archive.startup(parser: AlertRuleParser())
        #expect(startup.rules == ruleSet)
        #expect(startup.instances.isEmpty)
        #expect(startup.lastAlertNumber == 0)
        #expect(try archive.history(AlertHistoryQuery()).isEmpty)
    }

    @Test func aStoredRuleTheParserNowRefusesStopsStartupNamingIt() throws {
        let directory = try TempAlertDirectory()
        defer { directory.remove() }
        let archive = try SQLiteAlertArchive(path: directory.path, clock: { now })
        var write = AlertWrite()
        write.rules = ruleSet
        try archive.apply(write)
        var strict = AlertRuleParser()
        strict.maxWindowMs = 1_000
        let error = #expect(throws: SQLiteError.self) { try archive.startup(parser: strict) }
        #expect(error?.message.contains("hot-rooms") == true)
        #expect(error?.message.contains("over.window_ms") == true)
    }

    @Test func schemaVersionIsSetAndANewerOneIsRefused() throws {
        let directory = try TempAlertDirectory()
        defer { directory.remove() }
        do {
            _ = try SQLiteAlertArchive(path: directory.path)
            let connection = try SQLiteConnection(path: directory.path)
            #expect(try connection.userVersion == 1)
            let mode = try connection.prepare("PRAGMA journal_mode")
            #expect(try mode.step())
            #expect(mode.text(0) == "wal")
            try connection.setUserVersion(2)
        }
        #expect(throws: SQLiteError.self) { try SQLiteAlertArchive(path: directory.path) }
    }

    @Test func writesAndReadsFromManyTasksAllLand() async throws {
        let directory = try TempAlertDirectory()
        defer { directory.remove() }
        let archive = try SQLiteAlertArchive(path: directory.path, clock: { now })
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for step in 0..<25 {
                        let number = task * 100 + step + 1
                        try archive.apply(eventsWrite([event("al-\(number)", ts: Int64(number))]))
                        _ = try archive.history(query(limit: 5))
                    }
                }
            }
            try await group.waitForAll()
        }
        let stored = try archive.history(AlertHistoryQuery())
        #expect(stored.count == 200)
        #expect(stored.map(\.event.ts) == stored.map(\.event.ts).sorted())
        #expect(try archive.startup(parser: AlertRuleParser()).lastAlertNumber == 725)
    }

    @Test func hubAlertStorageOpensTheEngineConfigured() throws {
        let directory = try TempAlertDirectory()
        defer { directory.remove() }
        let dataDirectory = (directory.directory as NSString).appendingPathComponent("data")
        let memory = try HubAlertStorage.open(engine: .memory, dataDirectory: dataDirectory)
        #expect(memory is MemoryAlertArchive)
        #expect(memory.location == "memory")
        #expect(!FileManager.default.fileExists(atPath: dataDirectory))

        let sqlite = try HubAlertStorage.open(engine: .sqlite, dataDirectory: dataDirectory)
        #expect(sqlite is SQLiteAlertArchive)
        #expect(sqlite.location == (dataDirectory as NSString).appendingPathComponent("alerts.db"))
        #expect(FileManager.default.fileExists(atPath: sqlite.location))
    }
}
