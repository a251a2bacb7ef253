import Foundation
import HubCore
import Synchronization

/// The ``AlertArchive`` on disk: its own SQLite database, `alerts.db` in the data directory (WAL,
/// `synchronous=FULL`), separate from the sample archive so alert writes never queue behind sample flushes.
///
/// Two connections: the writer (``startup(parser:)``, ``apply(_:)``, ``prune(before:)``) and a read-only reader for
/// ``history(_:)``, so a history query never waits for a write and a write never waits for a query. The schema is in
/// `SQLiteAlertSchema`.
public final class SQLiteAlertArchive: AlertArchive {
    /// The database file.
    public let path: String
    private let writer: Mutex<SQLiteConnection>
    private let reader: Mutex<SQLiteConnection>
    private let clock: @Sendable () -> Int64

    /// The file name inside the data directory.
    public static let fileName = "alerts.db"

    /// The wall clock in Unix milliseconds, the default `clock`.
    public static func systemMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000).rounded(.down))
    }

    /// Opens (creating and migrating when needed) `alerts.db` in `dataDirectory`, creating the directory too.
    ///
    /// - Parameters:
    ///   - dataDirectory: The hub's data directory.
    ///   - clock: Hub time in Unix milliseconds; ``startup(parser:)`` drops silences that ended before it.
    public convenience init(
        dataDirectory: String, clock: @escaping @Sendable () -> Int64 = SQLiteAlertArchive.systemMilliseconds
    ) throws {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try self.init(path: (dataDirectory as NSString).appendingPathComponent(Self.fileName), clock: clock)
    }

    /// Opens (creating and migrating when needed) the alert database at `path`.
    ///
    /// - Parameters:
    ///   - path: The database file.
    ///   - clock: Hub time in Unix milliseconds; ``startup(parser:)`` drops silences that ended before it.
    public init(path: String, clock: @escaping @Sendable () -> Int64 = SQLiteAlertArchive.systemMilliseconds) throws {
        self.path = path
        self.clock = clock
        let writer = try SQLiteConnection(path: path)
        try writer.execute("PRAGMA journal_mode=WAL")
        try writer.execute("PRAGMA synchronous=FULL; PRAGMA secure_delete=OFF")
        try writer.migrate(SQLiteAlertSchema.migrations)
        let reader = try SQLiteConnection(path: path, readOnly: true)
        self.writer = Mutex(writer)
        self.reader = Mutex(reader)
    }

    /// The database file.
    public var location: String { path }

    /// Closes the reader, then the writer: the last connection to close checkpoints the WAL and removes it.
    public func close() {
        reader.withLock { $0.close() }
        writer.withLock { $0.close() }
    }

    // MARK: Start-up

    /// The rules (in order, parsed again with `parser`), the instances, the silences that have not ended by the
    /// clock's now (ended ones are deleted), and the highest `al-N` ever written.
    ///
    /// - Throws: ``SQLiteError`` when a stored rule no longer parses or a stored row is corrupt, naming it.
    public func startup(parser: AlertRuleParser) throws -> AlertStartup {
        let now = clock()
        return try writer.withLock { db in
            try db.transaction {
                let expire = try db.cached("DELETE FROM silences WHERE until <= ?")
                expire.bind(now, at: 1)
                try expire.run()
                var startup = AlertStartup()
                startup.rules = try Self.rules(db, parser: parser)
                startup.instances = try Self.instances(db)
                startup.silences = try Self.silences(db)
                startup.lastAlertNumber = try Self.lastAlertNumber(db)
                return startup
            }
        }
    }

    private static func rules(_ db: SQLiteConnection, parser: AlertRuleParser) throws -> [AlertRule] {
        let rows = try db.cached("SELECT id, source, body FROM rules ORDER BY position")
        defer { rows.reset() }
        var rules: [AlertRule] = []
        while try rows.step() {
            let id = rows.text(0)
            guard let source = RuleSource(rawValue: rows.text(1)) else {
                throw corrupt("stored rule '\(id)' has an unknown source '\(rows.text(1))'")
            }
            do {
                rules.append(try parser.parse(try JSONParser.parse(rows.text(2)), source: source))
            } catch {
                throw corrupt("stored rule '\(id)' cannot be read back: \(error)")
            }
        }
        return rules
    }

    private static func instances(_ db: SQLiteConnection) throws -> [AlertInstance] {
        let rows = try db.cached("SELECT rule, device, metric, body FROM alert_instances ORDER BY rule, device, metric")
        defer { rows.reset() }
        let decoder = JSONDecoder()
        var instances: [AlertInstance] = []
        while try rows.step() {
            do {
                instances.append(try decoder.decode(AlertInstance.self, from: Data(rows.text(3).utf8)))
            } catch {
                throw corrupt(
                    "stored alert instance \(rows.text(0)) \(rows.text(1))/\(rows.text(2)) is corrupt: \(error)")
            }
        }
        return instances
    }

    private static func silences(_ db: SQLiteConnection) throws -> [Silence] {
        let rows = try db.cached("SELECT id, body FROM silences ORDER BY created_at, id")
        defer { rows.reset() }
        let decoder = JSONDecoder()
        var silences: [Silence] = []
        while try rows.step() {
            do {
                silences.append(try decoder.decode(Silence.self, from: Data(rows.text(1).utf8)))
            } catch {
                throw corrupt("stored silence '\(rows.text(0))' is corrupt: \(error)")
            }
        }
        return silences
    }

    private static func lastAlertNumber(_ db: SQLiteConnection) throws -> UInt64 {
        let rows = try db.cached("SELECT value FROM meta WHERE key = 'last_alert_number'")
        defer { rows.reset() }
        guard try rows.step() else { return 0 }
        return UInt64(max(0, rows.int64(0)))
    }

    // MARK: Writing

    /// Applies `write` in one transaction, in the order ``MemoryAlertArchive`` does: events appended, instances
    /// forgotten then saved, silences removed then saved, and the rule set replaced when `rules` is set. The
    /// highest `al-N` of the events and saved instances raises `last_alert_number`.
    public func apply(_ write: AlertWrite) throws {
        guard !write.isEmpty else { return }
        // Encode before taking the lock.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let saved = try write.save.map { ($0.key, String(decoding: try encoder.encode($0), as: UTF8.self)) }
        let silences = try write.silences.map { ($0, String(decoding: try encoder.encode($0), as: UTF8.self)) }
        let rules = write.rules.map { rules in
            rules.map { rule in
                var writer = JSONWriter()
                rule.write(to: &writer, includeSource: false)
                return (rule, writer.string)
            }
        }
        var highest: UInt64 = 0
        for event in write.events { highest = max(highest, Self.alertNumber(event.alert) ?? 0) }
        for instance in write.save { highest = max(highest, Self.alertNumber(instance.alert) ?? 0) }

        try writer.withLock { db in
            try db.transaction {
                if !write.events.isEmpty {
                    let insert = try db.cached(
                        """
                        INSERT INTO alert_events(ts, alert, rule, device, metric, state, severity, severity_rank,
                        silenced, json) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                    for event in write.events {
                        insert.bind(event.ts, at: 1)
                        insert.bind(event.alert, at: 2)
                        insert.bind(event.rule, at: 3)
                        insert.bind(event.series.device, at: 4)
                        insert.bind(event.series.metric, at: 5)
                        insert.bind(event.state.rawValue, at: 6)
                        insert.bind(event.severity.rawValue, at: 7)
                        insert.bind(Self.rank(event.severity), at: 8)
                        insert.bind(event.silenced ? 1 : 0, at: 9)
                        insert.bind(String(decoding: StoredAlertEvent(event).json, as: UTF8.self), at: 10)
                        try insert.run()
                    }
                }
                if !write.forget.isEmpty {
                    let delete = try db.cached(
                        "DELETE FROM alert_instances WHERE rule = ? AND device = ? AND metric = ?")
                    for key in write.forget {
                        delete.bind(key.rule, at: 1)
                        delete.bind(key.series.device, at: 2)
                        delete.bind(key.series.metric, at: 3)
                        try delete.run()
                    }
                }
                if !saved.isEmpty {
                    let upsert = try db.cached(
                        "INSERT OR REPLACE INTO alert_instances(rule, device, metric, body) VALUES(?, ?, ?, ?)")
                    for (key, body) in saved {
                        upsert.bind(key.rule, at: 1)
                        upsert.bind(key.series.device, at: 2)
                        upsert.bind(key.series.metric, at: 3)
                        upsert.bind(body, at: 4)
                        try upsert.run()
                    }
                }
                if !write.silencesRemoved.isEmpty {
                    let delete = try db.cached("DELETE FROM silences WHERE id = ?")
                    for id in write.silencesRemoved {
                        delete.bind(id, at: 1)
                        try delete.run()
                    }
                }
                if !silences.isEmpty {
                    let upsert = try db.cached(
                        "INSERT OR REPLACE INTO silences(id, until, created_at, body) VALUES(?, ?, ?, ?)")
                    for (silence, body) in silences {
                        upsert.bind(silence.id, at: 1)
                        upsert.bind(silence.until, at: 2)
                        upsert.bind(silence.createdAt, at: 3)
                        upsert.bind(body, at: 4)
                        try upsert.run()
                    }
                }
                if let rules {
                    try db.cached("DELETE FROM rules").run()
                    let insert = try db.cached("INSERT INTO rules(id, position, source, body) VALUES(?, ?, ?, ?)")
                    for (position, (rule, body)) in rules.enumerated() {
                        insert.bind(rule.id, at: 1)
                        insert.bind(position, at: 2)
                        insert.bind(rule.source.rawValue, at: 3)
                        insert.bind(body, at: 4)
                        try insert.run()
                    }
                }
                if highest > 0 {
                    let update = try db.cached(
                        "UPDATE meta SET value = MAX(value, ?) WHERE key = 'last_alert_number'")
                    update.bind(Int64(clamping: highest), at: 1)
                    try update.run()
                }
            }
        }
    }

    // MARK: Reading

    /// The newest `query.limit` recorded events matching `query`, oldest first (by `ts`, then by order of
    /// recording), each with its `alert` message as stored.
    ///
    /// Every filter but `match` runs in SQL; `match` is checked on the device and metric columns as rows are read,
    /// newest first, until `limit` events match or the rows run out.
    public func history(_ query: AlertHistoryQuery) throws -> [StoredAlertEvent] {
        guard query.limit > 0, query.since <= query.until else { return [] }
        let filter = query.filter
        var sql = "SELECT seq, device, metric, json FROM alert_events WHERE ts >= ? AND ts <= ?"
        var texts: [(Int32, String)] = []
        var integers: [(Int32, Int64)] = [(1, query.since), (2, query.until)]
        var next: Int32 = 3
        if let alert = query.alert {
            sql += " AND alert = ?"
            texts.append((next, alert))
            next += 1
        }
        if let rule = filter.rule {
            sql += " AND rule = ?"
            texts.append((next, rule))
            next += 1
        }
        if !filter.states.isEmpty {
            let states = filter.states.map(\.rawValue).sorted()
            sql += " AND state IN (" + states.map { _ in "?" }.joined(separator: ", ") + ")"
            for state in states {
                texts.append((next, state))
                next += 1
            }
        }
        if let minimum = filter.minimumSeverity {
            sql += " AND severity_rank >= ?"
            integers.append((next, Int64(Self.rank(minimum))))
            next += 1
        }
        if !filter.includeSilenced { sql += " AND silenced = 0" }
        sql += " ORDER BY ts DESC, seq DESC"
        if filter.match == nil {
            sql += " LIMIT ?"
            integers.append((next, Int64(query.limit)))
        }
        let match = filter.match
        let limit = query.limit
        return try reader.withLock { db in
            let rows = try db.cached(sql)
            defer { rows.reset() }
            for (index, value) in integers { rows.bind(value, at: index) }
            for (index, value) in texts { rows.bind(value, at: index) }
            var newestFirst: [StoredAlertEvent] = []
            while newestFirst.count < limit, try rows.step() {
                if let match, !match.matches(SeriesKey(device: rows.text(1), metric: rows.text(2))) { continue }
                let json = Array(rows.text(3).utf8)
                do {
                    newestFirst.append(StoredAlertEvent(event: try AlertEvent(parsing: json), json: json))
                } catch {
                    throw Self.corrupt("stored alert event \(rows.int64(0)) is corrupt: \(error)")
                }
            }
            return Array(newestFirst.reversed())
        }
    }

    // MARK: Retention

    /// Deletes the events with `ts` before `before`; returns how many.
    public func prune(before: Int64) throws -> Int {
        try writer.withLock { db in
            let delete = try db.cached("DELETE FROM alert_events WHERE ts < ?")
            delete.bind(before, at: 1)
            try delete.run()
            return db.changes
        }
    }

    // MARK: Helpers

    /// 0 info, 1 warning, 2 critical: the `severity_rank` column, so "this severity or worse" is `>=`.
    static func rank(_ severity: AlertSeverity) -> Int {
        switch severity {
        case .info: 0
        case .warning: 1
        case .critical: 2
        }
    }

    /// N of `al-N`.
    static func alertNumber(_ id: String?) -> UInt64? {
        guard let id, id.hasPrefix("al-") else { return nil }
        return UInt64(id.dropFirst(3))
    }

    private static func corrupt(_ message: String) -> SQLiteError {
        SQLiteError(code: 0, message: "\(fileName): \(message)", sql: nil)
    }
}
