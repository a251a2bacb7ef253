import CSQLite

/// `SQLITE_TRANSIENT`: SQLite copies the bound bytes before the bind call returns.
private var sqliteTransient: sqlite3_destructor_type {
    @inline(__always) get { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }
}

/// A prepared SQLite statement.
///
/// Parameter indices and column indices follow SQLite: parameters are 1-based, columns are 0-based.
/// Not thread-safe and not `Sendable`: use it only on the thread that uses its connection.
///
/// The `bind` methods do not throw, to keep the hot path short: the first failing bind is
/// remembered and thrown by the next `step()` or `run()`, until `reset()` clears it.
public final class SQLiteStatement {
    /// The raw `sqlite3_stmt*` handle; finalized in `deinit`.
    let handle: OpaquePointer
    /// The SQL text this statement was prepared from.
    public let sql: String
    /// The first bind failure since the last `reset()`, thrown by the next `step()`.
    private var pendingError: SQLiteError?

    init(handle: OpaquePointer, sql: String) {
        self.handle = handle
        self.sql = sql
    }

    deinit {
        sqlite3_finalize(handle)
    }

    // MARK: Binding

    /// Binds a 64-bit integer to the 1-based parameter `index`.
    public func bind(_ value: Int64, at index: Int32) {
        check(sqlite3_bind_int64(handle, index, value), index)
    }

    /// Binds an integer to the 1-based parameter `index`.
    public func bind(_ value: Int, at index: Int32) {
        check(sqlite3_bind_int64(handle, index, Int64(value)), index)
    }

    /// Binds a double to the 1-based parameter `index`.
    public func bind(_ value: Double, at index: Int32) {
        check(sqlite3_bind_double(handle, index, value), index)
    }

    /// Binds UTF-8 text to the 1-based parameter `index` (copied by SQLite). An empty string binds `''`, not NULL.
    public func bind(_ value: String, at index: Int32) {
        var value = value
        let rc = value.withUTF8 { utf8 -> Int32 in
            guard let base = utf8.baseAddress, !utf8.isEmpty else {
                return sqlite3_bind_text(handle, index, "", 0, sqliteTransient)
            }
            return base.withMemoryRebound(to: CChar.self, capacity: utf8.count) { chars in
                sqlite3_bind_text64(handle, index, chars, UInt64(utf8.count), sqliteTransient, UInt8(SQLITE_UTF8))
            }
        }
        check(rc, index)
    }

    /// Binds a blob to the 1-based parameter `index` (copied by SQLite). An empty array binds a zero-length blob, not NULL.
    public func bind(_ bytes: [UInt8], at index: Int32) {
        let rc = bytes.withUnsafeBytes { raw -> Int32 in
            guard let base = raw.baseAddress, !raw.isEmpty else {
                return sqlite3_bind_zeroblob(handle, index, 0)
            }
            return sqlite3_bind_blob64(handle, index, base, UInt64(raw.count), sqliteTransient)
        }
        check(rc, index)
    }

    /// Binds NULL to the 1-based parameter `index`.
    public func bindNull(at index: Int32) {
        check(sqlite3_bind_null(handle, index), index)
    }

    @inline(__always)
    private func check(_ rc: Int32, _ index: Int32) {
        if rc != SQLITE_OK {
            recordBindError(rc, index)
        }
    }

    private func recordBindError(_ rc: Int32, _ index: Int32) {
        guard pendingError == nil else { return }
        let base = SQLiteError(code: rc, db: sqlite3_db_handle(handle), sql: sql)
        pendingError = SQLiteError(code: rc, message: "\(base.message) (binding parameter \(index))", sql: sql)
    }

    // MARK: Execution

    /// Advances the statement. Returns `true` when a row is available, `false` when done.
    ///
    /// Throws a pending bind error, or the error from `sqlite3_step`.
    public func step() throws(SQLiteError) -> Bool {
        if let pendingError {
            throw pendingError
        }
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw SQLiteError(code: rc, db: sqlite3_db_handle(handle), sql: sql)
    }

    /// Steps until done (discarding any rows), then resets the statement with `sqlite3_reset`.
    ///
    /// Bindings are kept (only `reset()` clears them); the statement is reset on failure too.
    public func run() throws(SQLiteError) {
        do {
            while try step() {}
        } catch {
            sqlite3_reset(handle)
            throw error
        }
        sqlite3_reset(handle)
    }

    /// Resets the statement so it can run again and clears all bindings (and any pending bind error).
    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        pendingError = nil
    }

    // MARK: Columns

    /// The number of columns in the result set.
    public var columnCount: Int32 { sqlite3_column_count(handle) }

    /// The 0-based `column` of the current row as a 64-bit integer (0 for NULL).
    public func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(handle, column)
    }

    /// The 0-based `column` of the current row as a double (0 for NULL).
    public func double(_ column: Int32) -> Double {
        sqlite3_column_double(handle, column)
    }

    /// The 0-based `column` of the current row as UTF-8 text (empty for NULL).
    public func text(_ column: Int32) -> String {
        guard let chars = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: chars, count: count), as: UTF8.self)
    }

    /// The 0-based `column` of the current row as bytes (empty for NULL or a zero-length blob).
    public func blob(_ column: Int32) -> [UInt8] {
        guard let bytes = sqlite3_column_blob(handle, column) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, column))
        return [UInt8](UnsafeRawBufferPointer(start: bytes, count: count))
    }

    /// True when the 0-based `column` of the current row is NULL.
    public func isNull(_ column: Int32) -> Bool {
        sqlite3_column_type(handle, column) == SQLITE_NULL
    }
}

@available(*, unavailable)
extension SQLiteStatement: Sendable {}
