import Foundation
import HubCore
import Synchronization

/// The ``CommandArchive`` on disk: its own SQLite database, `commands.db` in the data directory (WAL,
/// `synchronous=FULL`), separate from the sample and alert archives so command writes never queue behind theirs.
///
/// Two connections: the writer (``startup()``, both `save`s, ``prune(before:)``) and a read-only reader for
/// ``command(_:)`` and ``commands(_:)``, so a query never waits for a write and a write never waits for a query.
/// The schema is in `SQLiteCommandSchema`.
public final class SQLiteCommandArchive: CommandArchive {
    /// The database file.
    public let path: String
    private let writer: Mutex<SQLiteConnection>
    private let reader: Mutex<SQLiteConnection>

    /// The file name inside the data directory.
    public static let fileName = "commands.db"

    /// Opens (creating and migrating when needed) `commands.db` in `dataDirectory`, creating the directory too.
    ///
    /// - Parameter dataDirectory: The hub's data directory.
    public convenience init(dataDirectory: String) throws {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        try self.init(path: (dataDirectory as NSString).appendingPathComponent(Self.fileName))
    }

    /// Opens (creating and migrating when needed) the command database at `path`.
    ///
    /// - Parameter path: The database file.
    public init(path: String) throws {
        self.path = path
        let writer = try SQLiteConnection(path: path)
        try writer.execute("PRAGMA journal_mode=WAL")
        try writer.execute("PRAGMA synchronous=FULL; PRAGMA secure_delete=OFF")
        try writer.migrate(SQLiteCommandSchema.migrations)
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

    /// The open commands (oldest first, by number), the highest `cmd-N` ever written (pruned commands included),
    /// and the membership decisions sorted by room, then device.
    ///
    /// - Throws: ``SQLiteError`` when a stored command cannot be read back, naming it.
    public func startup() throws -> CommandStartup {
        try writer.withLock { db in
            try db.transaction {
                var startup = CommandStartup()
                startup.open = try Self.records(
                    try db.cached("SELECT id, body FROM commands WHERE open = 1 ORDER BY number"))
                startup.lastCommandNumber = try Self.lastCommandNumber(db)
                startup.memberships = try Self.memberships(db)
                return startup
            }
        }
    }

    private static func lastCommandNumber(_ db: SQLiteConnection) throws -> UInt64 {
        let rows = try db.cached(
            """
            SELECT MAX(COALESCE((SELECT value FROM meta WHERE key = 'last_command_number'), 0),
                COALESCE((SELECT MAX(number) FROM commands), 0))
            """)
        defer { rows.reset() }
        guard try rows.step() else { return 0 }
        return UInt64(max(0, rows.int64(0)))
    }

    private static func memberships(_ db: SQLiteConnection) throws -> [RoomMembership] {
        let rows = try db.cached("SELECT room, device, member FROM room_members ORDER BY room, device")
        defer { rows.reset() }
        var memberships: [RoomMembership] = []
        while try rows.step() {
            memberships.append(RoomMembership(room: rows.text(0), device: rows.text(1), member: rows.int64(2) != 0))
        }
        return memberships
    }

    // MARK: Writing

    /// Saves `commands` in one transaction, each replacing any stored command with its id (or its number), and
    /// raises `last_command_number` to the highest number among them.
    public func save(_ commands: [CommandRecord]) throws {
        guard !commands.isEmpty else { return }
        // Encode before taking the lock.
        let rows = commands.map { ($0, String(decoding: $0.storageJSON, as: UTF8.self)) }
        let highest = commands.map(\.number).max() ?? 0
        try writer.withLock { db in
            try db.transaction {
                let upsert = try db.cached(
                    """
                    INSERT OR REPLACE INTO commands(number, id, created_at, room, name, sender, open, body)
                    VALUES(?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for (command, body) in rows {
                    upsert.bind(Int64(clamping: command.number), at: 1)
                    upsert.bind(command.id, at: 2)
                    upsert.bind(command.createdAt, at: 3)
                    upsert.bind(command.room, at: 4)
                    upsert.bind(command.name, at: 5)
                    upsert.bind(command.sender, at: 6)
                    upsert.bind(command.isOpen ? 1 : 0, at: 7)
                    upsert.bind(body, at: 8)
                    try upsert.run()
                }
                let update = try db.cached(
                    "UPDATE meta SET value = MAX(value, ?) WHERE key = 'last_command_number'")
                update.bind(Int64(clamping: highest), at: 1)
                try update.run()
            }
        }
    }

    /// Saves membership decisions in one transaction, in order: `member` true or false is stored (replacing an
    /// earlier decision for the room and device), nil deletes the decision.
    public func save(_ memberships: [RoomMembership]) throws {
        guard !memberships.isEmpty else { return }
        try writer.withLock { db in
            try db.transaction {
                for membership in memberships {
                    if let member = membership.member {
                        let upsert = try db.cached(
                            "INSERT OR REPLACE INTO room_members(room, device, member) VALUES(?, ?, ?)")
                        upsert.bind(membership.room, at: 1)
                        upsert.bind(membership.device, at: 2)
                        upsert.bind(member ? 1 : 0, at: 3)
                        try upsert.run()
                    } else {
                        let delete = try db.cached("DELETE FROM room_members WHERE room = ? AND device = ?")
                        delete.bind(membership.room, at: 1)
                        delete.bind(membership.device, at: 2)
                        try delete.run()
                    }
                }
            }
        }
    }

    // MARK: Reading

    /// The command with `id`, or nil.
    ///
    /// - Throws: ``SQLiteError`` when the stored command cannot be read back, naming it.
    public func command(_ id: String) throws -> CommandRecord? {
        try reader.withLock { db in
            let rows = try db.cached("SELECT id, body FROM commands WHERE id = ?")
            rows.bind(id, at: 1)
            return try Self.records(rows).first
        }
    }

    /// The newest `query.limit` commands matching `query`, newest first (by number); every filter runs in SQL.
    ///
    /// - Throws: ``SQLiteError`` when a stored command cannot be read back, naming it.
    public func commands(_ query: CommandQuery) throws -> [CommandRecord] {
        guard query.limit > 0 else { return [] }
        var conditions: [String] = []
        var texts: [(Int32, String)] = []
        var integers: [(Int32, Int64)] = []
        var next: Int32 = 1
        if let room = query.room {
            conditions.append("room = ?")
            texts.append((next, room))
            next += 1
        }
        if let since = query.since {
            conditions.append("created_at >= ?")
            integers.append((next, since))
            next += 1
        }
        if let until = query.until {
            conditions.append("created_at < ?")
            integers.append((next, until))
            next += 1
        }
        if let sender = query.sender {
            conditions.append("sender = ?")
            texts.append((next, sender))
            next += 1
        }
        if let name = query.name {
            conditions.append("name = ?")
            texts.append((next, name))
            next += 1
        }
        integers.append((next, Int64(query.limit)))
        var sql = "SELECT id, body FROM commands"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY number DESC LIMIT ?"
        return try reader.withLock { db in
            let rows = try db.cached(sql)
            for (index, value) in integers { rows.bind(value, at: index) }
            for (index, value) in texts { rows.bind(value, at: index) }
            return try Self.records(rows)
        }
    }

    // MARK: Retention

    /// Deletes the closed commands created before `before`; returns how many. Open ones stay, however old;
    /// `last_command_number` keeps the numbers of the deleted ones.
    public func prune(before: Int64) throws -> Int {
        try writer.withLock { db in
            let delete = try db.cached("DELETE FROM commands WHERE open = 0 AND created_at < ?")
            delete.bind(before, at: 1)
            try delete.run()
            return db.changes
        }
    }

    // MARK: Helpers

    /// Reads every row of `rows` (columns `id`, `body`) back into records, then resets the statement.
    private static func records(_ rows: SQLiteStatement) throws -> [CommandRecord] {
        defer { rows.reset() }
        var records: [CommandRecord] = []
        while try rows.step() {
            do {
                records.append(try CommandRecord(storage: Array(rows.text(1).utf8)))
            } catch {
                throw corrupt("stored command '\(rows.text(0))' cannot be read back: \(error)")
            }
        }
        return records
    }

    private static func corrupt(_ message: String) -> SQLiteError {
        SQLiteError(code: 0, message: "\(fileName): \(message)", sql: nil)
    }
}
