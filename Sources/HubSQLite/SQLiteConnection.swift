import CSQLite

/// One connection. Not thread-safe: use from one thread at a time (it is @unchecked Sendable so it can be handed between threads).
///
/// Opened with `SQLITE_OPEN_NOMUTEX` and extended result codes enabled.
public final class SQLiteConnection: @unchecked Sendable {
    /// The raw `sqlite3*` handle; valid for the lifetime of the connection.
    let handle: OpaquePointer
    /// The path this connection was opened with.
    public let path: String
    /// Statements prepared by `cached(_:)`, keyed by SQL text.
    private var statementCache: [String: SQLiteStatement] = [:]
    /// Set by ``close()``: the handle is gone and every call fails with `SQLITE_MISUSE`.
    public private(set) var isClosed = false

    /// Opens (or, unless `readOnly`, creates) the database at `path`; `":memory:"` opens an in-memory database.
    ///
    /// - Parameters:
    ///   - path: File path, or `":memory:"`.
    ///   - readOnly: Open with `SQLITE_OPEN_READONLY` instead of `SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE`.
    ///   - busyTimeoutMs: How long to wait on a locked database before failing with `SQLITE_BUSY`.
    public init(path: String, readOnly: Bool = false, busyTimeoutMs: Int32 = 5_000) throws(SQLiteError) {
        let access = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, access | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let code = rc == SQLITE_OK ? SQLITE_NOMEM : rc
            let base = SQLiteError(code: code, db: db, sql: nil)
            sqlite3_close_v2(db)
            throw SQLiteError(code: code, message: "\(base.message) (opening \(path))", sql: nil)
        }
        sqlite3_extended_result_codes(db, 1)
        let timeoutRC = sqlite3_busy_timeout(db, busyTimeoutMs)
        guard timeoutRC == SQLITE_OK else {
            let error = SQLiteError(code: timeoutRC, db: db, sql: nil)
            sqlite3_close_v2(db)
            throw error
        }
        self.handle = db
        self.path = path
    }

    /// Releases the cached statements (finalizing those not referenced elsewhere) and closes with `sqlite3_close_v2`.
    ///
    /// Statements still referenced elsewhere stay valid; SQLite closes the database once the last one is finalized.
    deinit {
        close()
    }

    /// Closes the connection now (idempotent). The last connection to a WAL database to close checkpoints it and
    /// removes the `-wal` file. Later calls on this connection throw `SQLITE_MISUSE`.
    public func close() {
        guard !isClosed else { return }
        isClosed = true
        statementCache.removeAll()
        sqlite3_close_v2(handle)
    }

    private func checkOpen(_ sql: String?) throws(SQLiteError) {
        if isClosed { throw SQLiteError(code: SQLITE_MISUSE, message: "the database \(path) is closed", sql: sql) }
    }

    /// Runs `sql` with `sqlite3_exec`; it may hold several statements separated by semicolons.
    public func execute(_ sql: String) throws(SQLiteError) {
        try checkOpen(sql)
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        guard rc == SQLITE_OK else {
            defer { sqlite3_free(errorMessage) }
            if let errorMessage {
                throw SQLiteError(code: rc, message: String(cString: errorMessage), sql: sql)
            }
            throw SQLiteError(code: rc, db: handle, sql: sql)
        }
    }

    /// Prepares a fresh statement for a single SQL statement (trailing comments and semicolons are allowed).
    public func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        try makeStatement(sql, flags: 0)
    }

    /// Returns the statement for `sql`, prepared once per connection and cached by SQL text.
    ///
    /// The statement is reset and its bindings cleared before being returned.
    public func cached(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let statement = statementCache[sql] {
            statement.reset()
            return statement
        }
        let statement = try makeStatement(sql, flags: UInt32(SQLITE_PREPARE_PERSISTENT))
        statementCache[sql] = statement
        return statement
    }

    /// Drops all statements cached by `cached(_:)`.
    public func clearStatementCache() {
        statementCache.removeAll()
    }

    private func makeStatement(_ sql: String, flags: UInt32) throws(SQLiteError) -> SQLiteStatement {
        try checkOpen(sql)
        var statement: OpaquePointer?
        var hasTrailingStatement = false
        let rc = sql.withCString { cSQL -> Int32 in
            var tail: UnsafePointer<CChar>?
            let rc = sqlite3_prepare_v3(handle, cSQL, -1, flags, &statement, &tail)
            if rc == SQLITE_OK, statement != nil, let tail, tail.pointee != 0 {
                hasTrailingStatement = containsStatement(tail)
            }
            return rc
        }
        guard rc == SQLITE_OK else {
            throw SQLiteError(code: rc, db: handle, sql: sql)
        }
        guard let statement else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "no SQL statement to prepare", sql: sql)
        }
        guard !hasTrailingStatement else {
            sqlite3_finalize(statement)
            throw SQLiteError(
                code: SQLITE_MISUSE,
                message: "prepare takes a single SQL statement; use execute for several",
                sql: sql
            )
        }
        return SQLiteStatement(handle: statement, sql: sql)
    }

    /// True when `text` holds anything but whitespace, comments, and semicolons.
    private func containsStatement(_ text: UnsafePointer<CChar>) -> Bool {
        var next: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, text, -1, &next, nil)
        sqlite3_finalize(next)
        return rc != SQLITE_OK || next != nil
    }

    /// Runs `body` inside `BEGIN IMMEDIATE` … `COMMIT`.
    ///
    /// If `body` or `COMMIT` throws, the transaction is rolled back (when still open) and the error rethrown.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if sqlite3_get_autocommit(handle) == 0 {
                sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
            }
            throw error
        }
    }

    /// The database's `PRAGMA user_version`.
    public var userVersion: Int {
        get throws(SQLiteError) {
            Int(try scalarInt("PRAGMA user_version") ?? 0)
        }
    }

    /// Sets the database's `PRAGMA user_version`.
    public func setUserVersion(_ version: Int) throws(SQLiteError) {
        try execute("PRAGMA user_version = \(version)")
    }

    /// The rowid of the most recent successful insert on this connection.
    public var lastInsertRowID: Int64 {
        sqlite3_last_insert_rowid(handle)
    }

    /// Rows changed by the most recent INSERT, UPDATE, or DELETE on this connection (`sqlite3_changes64`).
    public var changes: Int {
        Int(sqlite3_changes64(handle))
    }

    /// The first column of the first row of `sql` as an integer; `nil` if there is no row or the value is NULL.
    public func scalarInt(_ sql: String) throws(SQLiteError) -> Int64? {
        let statement = try prepare(sql)
        guard try statement.step(), !statement.isNull(0) else { return nil }
        return statement.int64(0)
    }
}

extension SQLiteConnection {
    /// Brings the database to the newest of `migrations` (its `user_version` counts those applied), in one
    /// transaction; refuses a database from a newer hub.
    func migrate(_ migrations: [String]) throws {
        let version = try userVersion
        guard version < migrations.count else {
            if version > migrations.count {
                throw SQLiteError(
                    code: 0,
                    message: "\(path) has schema version \(version); this hub knows up to \(migrations.count)",
                    sql: nil)
            }
            return
        }
        try transaction {
            for migration in migrations[version...] { try execute(migration) }
            try setUserVersion(migrations.count)
        }
    }
}
