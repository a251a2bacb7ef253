import CSQLite

/// An error from SQLite: result code, message, and the SQL involved.
///
/// Connections enable extended result codes, so `code` is usually an extended code
/// (for example `SQLITE_CONSTRAINT_UNIQUE`); use `primaryCode` to compare against the
/// primary codes such as `SQLITE_CONSTRAINT`.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    /// The SQLite result code (extended when available).
    public let code: Int32
    /// The message reported by SQLite (`sqlite3_errmsg`), or a description of the failure.
    public let message: String
    /// The SQL text involved, if any.
    public let sql: String?

    /// Creates an error from its parts.
    public init(code: Int32, message: String, sql: String? = nil) {
        self.code = code
        self.message = message
        self.sql = sql
    }

    /// Creates an error from a failed call on `db`, reading `sqlite3_errmsg`.
    init(code: Int32, db: OpaquePointer?, sql: String?) {
        let message: String
        if let db, let cMessage = sqlite3_errmsg(db) {
            message = String(cString: cMessage)
        } else {
            message = String(cString: sqlite3_errstr(code))
        }
        self.init(code: code, message: message, sql: sql)
    }

    /// The primary result code (the low 8 bits of `code`).
    public var primaryCode: Int32 { code & 0xFF }

    /// A one-line description with code, message, and SQL.
    public var description: String {
        var text = "SQLiteError(\(code)): \(message)"
        if let sql {
            text += " [SQL: \(sql)]"
        }
        return text
    }

    /// True when the primary code is `SQLITE_BUSY` or `SQLITE_LOCKED`, i.e. retrying later may succeed.
    public var isBusy: Bool {
        let primary = primaryCode
        return primary == SQLITE_BUSY || primary == SQLITE_LOCKED
    }
}
