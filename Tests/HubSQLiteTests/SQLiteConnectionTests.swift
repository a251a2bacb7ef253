import Foundation
import HubSQLite
import Testing

/// A database file in a fresh temporary directory, removed (with its -wal/-shm files) by `remove()`.
private struct TempDatabase {
    let directory: URL
    let path: String

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("hubsqlite-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent("test.sqlite").path
    }

    func remove() {
        try? FileManager.default.removeItem(at: directory)
    }
}

private struct Boom: Error {}

/// Opens a WAL database with a `samples` table.
private func openSamples(_ path: String, busyTimeoutMs: Int32 = 5_000) throws -> SQLiteConnection {
    let connection = try SQLiteConnection(path: path, busyTimeoutMs: busyTimeoutMs)
    try connection.execute("PRAGMA journal_mode=WAL")
    try connection.execute(
        """
        CREATE TABLE IF NOT EXISTS samples (
            id INTEGER PRIMARY KEY,
            name TEXT,
            value REAL,
            payload BLOB
        );
        """
    )
    return connection
}

@Suite("SQLiteConnection")
struct SQLiteConnectionTests {
    @Test func opensFileInWALMode() throws {
        let database = try TempDatabase()
        defer { database.remove() }
        let connection = try openSamples(database.path)
        let statement = try connection.prepare("PRAGMA journal_mode")
        #expect(try statement.step())
        #expect(statement.text(0) == "wal")
        #expect(FileManager.default.fileExists(atPath: database.path))
    }

    @Test func inMemoryDatabaseWorks() throws {
        let connection = try SQLiteConnection(path: ":memory:")
        try connection.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (41); INSERT INTO t VALUES (1);")
        #expect(try connection.scalarInt("SELECT sum(x) FROM t") == 42)
        #expect(connection.changes == 1)
    }

    @Test func cachedInsertsInsideTransaction() throws {
        let database = try TempDatabase()
        defer { database.remove() }
        let connection = try openSamples(database.path)
        let sql = "INSERT INTO samples (name, value) VALUES (?, ?)"
        let count = try connection.transaction { () throws -> Int in
            for index in 0..<100 {
                let insert = try connection.cached(sql)
                insert.bind("sample-\(index)", at: 1)
                insert.bind(Double(index) * 0.5, at: 2)
                try insert.run()
                #expect(connection.changes == 1)
                #expect(connection.lastInsertRowID == Int64(index + 1))
            }
            return 100
        }
        #expect(count == 100)
        #expect(try connection.scalarInt("SELECT count(*) FROM samples") == 100)
        #expect(try connection.cached(sql) === connection.cached(sql))

        let select = try connection.prepare("SELECT name, value FROM samples WHERE id = ?")
        select.bind(Int64(11), at: 1)
        #expect(try select.step())
        #expect(select.text(0) == "sample-10")
        #expect(select.double(1) == 5.0)
        #expect(try !select.step())
    }

    @Test func cachedStatementIsResetAndBindingsCleared() throws {
        let connection = try SQLiteConnection(path: ":memory:")
        let select = try connection.cached("SELECT ?")
        select.bind(7, at: 1)
        #expect(try select.step())
        #expect(select.int64(0) == 7)
        // Returned again mid-iteration: reset, and the old binding is gone.
        let again = try connection.cached("SELECT ?")
        #expect(try again.step())
        #expect(again.isNull(0))
    }

    @Test func rollbackOnThrownErrorLeavesNoRows() throws {
        let database = try TempDatabase()
        defer { database.remove() }
        let connection = try openSamples(database.path)
        #expect(throws: Boom.self) {
            try connection.transaction {
                let insert = try connection.cached("INSERT INTO samples (name) VALUES (?)")
                insert.bind("doomed", at: 1)
                try insert.run()
                throw Boom()
            }
        }
        #expect(try connection.scalarInt("SELECT count(*) FROM samples") == 0)
        // The connection is usable for a new transaction afterwards.
        try connection.transaction {
            try connection.execute("INSERT INTO samples (name) VALUES ('kept')")
        }
        #expect(try connection.scalarInt("SELECT count(*) FROM samples") == 1)
    }

    @Test func blobRoundTripIncludingEmptyBlob() throws {
        let connection = try openSamples(":memory:")
        let bytes: [UInt8] = [0, 1, 2, 0xFF, 0, 42]
        let insert = try connection.cached("INSERT INTO samples (id, payload) VALUES (?, ?)")
        insert.bind(1, at: 1)
        insert.bind(bytes, at: 2)
        try insert.run()
        insert.reset()
        insert.bind(2, at: 1)
        insert.bind([UInt8](), at: 2)
        try insert.run()

        let select = try connection.prepare("SELECT payload, typeof(payload), length(payload) FROM samples ORDER BY id")
        #expect(try select.step())
        #expect(select.blob(0) == bytes)
        #expect(try select.step())
        #expect(select.blob(0) == [])
        #expect(!select.isNull(0))
        #expect(select.text(1) == "blob")
        #expect(select.int64(2) == 0)
        #expect(try !select.step())
    }

    @Test func nonASCIITextRoundTrip() throws {
        let connection = try openSamples(":memory:")
        let names = ["Grüße, Zürich", "温度センサー", "🌡️ 21.5 °C", "", "nul\u{0}inside"]
        let insert = try connection.cached("INSERT INTO samples (id, name) VALUES (?, ?)")
        for (index, name) in names.enumerated() {
            insert.reset()
            insert.bind(index, at: 1)
            insert.bind(name, at: 2)
            try insert.run()
        }
        let select = try connection.prepare("SELECT name FROM samples ORDER BY id")
        var read: [String] = []
        while try select.step() {
            #expect(!select.isNull(0))
            read.append(select.text(0))
        }
        #expect(read == names)
    }

    @Test func nullDetection() throws {
        let connection = try openSamples(":memory:")
        let insert = try connection.prepare("INSERT INTO samples (id, name, value, payload) VALUES (?, ?, ?, ?)")
        insert.bind(1, at: 1)
        insert.bindNull(at: 2)
        insert.bind(0.0, at: 3)
        // Parameter 4 left unbound: NULL.
        try insert.run()
        let select = try connection.prepare("SELECT name, value, payload FROM samples")
        #expect(try select.step())
        #expect(select.isNull(0))
        #expect(!select.isNull(1))
        #expect(select.isNull(2))
        #expect(select.text(0) == "")
        #expect(select.blob(2) == [])
        #expect(try connection.scalarInt("SELECT name FROM samples") == nil)
        #expect(try connection.scalarInt("SELECT id FROM samples WHERE id = 99") == nil)
    }

    @Test func userVersionAndScalarInt() throws {
        let database = try TempDatabase()
        defer { database.remove() }
        let connection = try SQLiteConnection(path: database.path)
        #expect(try connection.userVersion == 0)
        try connection.setUserVersion(7)
        #expect(try connection.userVersion == 7)
        #expect(try connection.scalarInt("SELECT 6 * 7") == 42)
        #expect(try connection.scalarInt("SELECT -9223372036854775808") == Int64.min)

        let reopened = try SQLiteConnection(path: database.path, readOnly: true)
        #expect(try reopened.userVersion == 7)
    }

    @Test func errorCarriesSQLAndMessage() throws {
        let connection = try openSamples(":memory:")

        let syntax = #expect(throws: SQLiteError.self) { try connection.execute("SELEC 1") }
        #expect(syntax?.sql == "SELEC 1")
        #expect(syntax?.message.contains("syntax error") == true)
        #expect(syntax?.isBusy == false)
        #expect(syntax?.description.contains("SELEC 1") == true)

        let missing = #expect(throws: SQLiteError.self) { _ = try connection.prepare("SELECT * FROM nope") }
        #expect(missing?.sql == "SELECT * FROM nope")
        #expect(missing?.message.contains("no such table: nope") == true)

        let cachedMissing = #expect(throws: SQLiteError.self) { _ = try connection.cached("SELECT nope FROM samples") }
        #expect(cachedMissing?.message.contains("no such column") == true)

        let twoStatements = #expect(throws: SQLiteError.self) { _ = try connection.prepare("SELECT 1; SELECT 2") }
        #expect(twoStatements?.sql == "SELECT 1; SELECT 2")
        // Trailing semicolons, whitespace, and comments are fine.
        #expect(try connection.scalarInt("SELECT 3;  -- three\n") == 3)

        let insert = try connection.prepare("INSERT INTO samples (id) VALUES (?)")
        insert.bind(1, at: 1)
        try insert.run()
        let duplicate = #expect(throws: SQLiteError.self) { try insert.run() }
        #expect(duplicate?.primaryCode == 19)  // SQLITE_CONSTRAINT
        #expect(duplicate?.message.contains("UNIQUE") == true)
        #expect(duplicate?.sql == "INSERT INTO samples (id) VALUES (?)")

        // A bad bind index surfaces from the next step.
        insert.reset()
        insert.bind(2, at: 5)
        let range = #expect(throws: SQLiteError.self) { try insert.run() }
        #expect(range?.code == 25)  // SQLITE_RANGE
        #expect(range?.message.contains("parameter 5") == true)
        insert.reset()
        insert.bind(2, at: 1)
        try insert.run()
        #expect(try connection.scalarInt("SELECT count(*) FROM samples") == 2)

        let badOpen = #expect(throws: SQLiteError.self) {
            _ = try SQLiteConnection(path: "/nonexistent-dir-\(UUID().uuidString)/x.sqlite")
        }
        #expect(badOpen?.primaryCode == 14)  // SQLITE_CANTOPEN
    }

    @Test func readOnlySecondConnectionSeesCommittedRows() throws {
        let database = try TempDatabase()
        defer { database.remove() }
        let writer = try openSamples(database.path)
        let reader = try SQLiteConnection(path: database.path, readOnly: true)
        #expect(try reader.scalarInt("SELECT count(*) FROM samples") == 0)

        try writer.execute("BEGIN IMMEDIATE")
        try writer.execute("INSERT INTO samples (name) VALUES ('a'), ('b'), ('c')")
        // Uncommitted rows are invisible to the reader.
        #expect(try reader.scalarInt("SELECT count(*) FROM samples") == 0)
        try writer.execute("COMMIT")
        #expect(try reader.scalarInt("SELECT count(*) FROM samples") == 3)

        let write = #expect(throws: SQLiteError.self) {
            try reader.execute("INSERT INTO samples (name) VALUES ('x')")
        }
        #expect(write?.primaryCode == 8)  // SQLITE_READONLY
    }

    @Test func busyErrorWhenAnotherConnectionHoldsWriteTransaction() throws {
        let database = try TempDatabase()
        defer { database.remove() }
        let holder = try openSamples(database.path)
        let contender = try SQLiteConnection(path: database.path, busyTimeoutMs: 20)

        try holder.execute("BEGIN IMMEDIATE")
        try holder.execute("INSERT INTO samples (name) VALUES ('held')")

        let started = ContinuousClock.now
        let busy = #expect(throws: SQLiteError.self) {
            try contender.transaction {
                try contender.execute("INSERT INTO samples (name) VALUES ('blocked')")
            }
        }
        #expect(busy?.isBusy == true)
        #expect(busy?.sql == "BEGIN IMMEDIATE")
        #expect(ContinuousClock.now - started < .seconds(2))

        let insert = try contender.prepare("INSERT INTO samples (name) VALUES ('blocked')")
        let stepBusy = #expect(throws: SQLiteError.self) { try insert.run() }
        #expect(stepBusy?.isBusy == true)

        try holder.execute("COMMIT")
        try insert.run()
        #expect(try contender.scalarInt("SELECT count(*) FROM samples") == 2)
    }
}
