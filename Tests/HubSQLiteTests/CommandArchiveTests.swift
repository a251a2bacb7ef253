import Foundation
import HubSQLite
import Testing

@testable import HubCore

/// A fresh temporary directory for `commands.db`, removed by `remove()`.
private struct TempCommandDirectory {
    let directory: String
    var path: String { (directory as NSString).appendingPathComponent(SQLiteCommandArchive.fileName) }

    init() throws {
        directory = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "hubsqlite-commands-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// The two implementations the shared cases run on.
enum CommandArchiveKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory, sqlite

    var testDescription: String { rawValue }

    /// A fresh, empty archive of this kind; `cleanup` removes its files.
    fileprivate func make() throws -> (archive: any CommandArchive, cleanup: () -> Void) {
        switch self {
        case .memory:
            return (MemoryCommandArchive(), {})
        case .sqlite:
            let directory = try TempCommandDirectory()
            return (try SQLiteCommandArchive(path: directory.path), directory.remove)
        }
    }
}

// MARK: Fixtures

private func object(_ members: [(key: String, value: JSONValue)]) -> JSONObject {
    JSONObject(members)
}

/// A command whose deliveries have every status and use every optional field.
private let everyField = CommandRecord(
    id: "cmd-7", number: 7, room: "floor-2/*", name: "set_point",
    args: object([
        ("target", .number(21.5)), ("unit", .string("°C \"metric\"")), ("nested", .object(object([("a", .null)]))),
        ("list", .array([.bool(true), .number(-0.125), .string("")])),
    ]), sender: "alice", source: "dashboard", createdAt: 1_000, timeoutMs: 5_000, ttlMs: 60_000,
    deliveries: [
        CommandDelivery(
            device: "a-ok", id: "cmd-7.1", status: .ok,
            result: .object(object([("applied", .bool(true)), ("value", .number(21.5)), ("z", .array([]))])),
            sentAt: 1_010, answeredAt: 1_050, deadline: 6_010, attempts: 1, connected: true),
        CommandDelivery(
            device: "b-error", id: "cmd-7.2", status: .error, error: "out of range: \"21.5\"\n", sentAt: 1_010,
            answeredAt: 1_200, deadline: 6_010, attempts: 2, connected: true),
        CommandDelivery(
            device: "c-late", id: "cmd-7.3", status: .ok, result: .string("done late"), sentAt: 1_010,
            answeredAt: 9_000, deadline: 6_010, attempts: 1, late: true, connected: true),
        CommandDelivery(
            device: "d-pending", id: "cmd-7.4", status: .pending, sentAt: 1_020, deadline: 6_020, attempts: 3,
            connected: true),
        CommandDelivery(device: "e-queued", id: "cmd-7.5", status: .queued, attempts: 0, connected: false),
        CommandDelivery(
            device: "f-timeout", id: "cmd-7.6", status: .timeout, sentAt: 1_010, deadline: 6_010, attempts: 1,
            connected: true),
        CommandDelivery(device: "g-offline", id: "cmd-7.7", status: .offline, error: "device offline"),
        CommandDelivery(device: "h-expired", id: "cmd-7.8", status: .expired, error: "ttl passed", attempts: 0),
        CommandDelivery(device: "i-null", id: "cmd-7.9", status: .ok, result: .null, answeredAt: 1_100),
    ])

/// A command to `room`; closed (answered, every delivery final) unless `open`.
private func command(
    _ number: UInt64, room: String = "lab", name: String = "reboot", sender: String = "alice",
    createdAt: Int64? = nil, open: Bool = false
) -> CommandRecord {
    let id = "cmd-\(number)"
    let created = createdAt ?? Int64(number) * 100
    return CommandRecord(
        id: id, number: number, room: room, name: name, args: JSONObject(), sender: sender, source: "api",
        createdAt: created, timeoutMs: 1_000, ttlMs: 0, answeredAt: open ? nil : created + 10,
        deliveries: [
            CommandDelivery(
                device: "dev-1", id: CommandRecord.deliveryID(command: id, index: 0), status: .ok, sentAt: created,
                answeredAt: created + 5, attempts: 1, connected: true)
        ])
}

/// Ten commands covering every filter, saved out of order.
private let catalogue: [CommandRecord] = [
    command(1, room: "lab", name: "reboot", sender: "alice"),
    command(2, room: "lab", name: "set", sender: "bob"),
    command(3, room: "*", name: "reboot", sender: "alice"),
    command(4, room: "office", name: "set", sender: "carol", open: true),
    command(5, room: "lab", name: "ping", sender: "bob"),
    command(6, room: "office", name: "reboot", sender: "alice"),
    command(7, room: "lab", name: "set", sender: "alice", open: true),
    command(8, room: "lab/*", name: "ping", sender: "carol"),
    command(9, room: "office", name: "ping", sender: "bob"),
    command(10, room: "lab", name: "reboot", sender: "bob"),
]

// MARK: Shared cases

@Suite("Command archives: the same behaviour from MemoryCommandArchive and SQLiteCommandArchive")
struct CommandArchiveSharedTests {
    @Test(arguments: CommandArchiveKind.allCases)
    func anEmptyArchiveStartsEmpty(kind: CommandArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        let startup = try archive.startup()
        #expect(startup.open.isEmpty)
        #expect(startup.lastCommandNumber == 0)
        #expect(startup.memberships.isEmpty)
        #expect(try archive.command("cmd-1") == nil)
        #expect(try archive.commands(CommandQuery()).isEmpty)
        try archive.save([CommandRecord]())
        try archive.save([RoomMembership]())
        #expect(try archive.prune(before: .max) == 0)
        #expect(try archive.startup().lastCommandNumber == 0)
    }

    @Test(arguments: CommandArchiveKind.allCases)
    func aCommandWithEveryStatusAndFieldComesBackEqual(kind: CommandArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        #expect(Set(everyField.deliveries.map(\.status)) == Set(DeliveryStatus.allCases))
        try archive.save([everyField])
        let read = try #require(try archive.command("cmd-7"))
        #expect(read == everyField)
        #expect(read.args == everyField.args)
        #expect(read.deliveries.map(\.result) == everyField.deliveries.map(\.result))
        #expect(read.deliveries.map(\.late) == [false, false, true, false, false, false, false, false, false])
        #expect(read.deliveries.map(\.attempts) == [1, 2, 1, 3, 0, 1, 0, 0, 0])
        #expect(try archive.commands(CommandQuery()) == [everyField])
        let startup = try archive.startup()
        #expect(startup.open == [everyField])
        #expect(startup.lastCommandNumber == 7)

        // Answered, with the pending and queued deliveries settled: closed, and still every field.
        var closed = everyField
        closed.answeredAt = 6_100
        closed.deliveries[3].status = .timeout
        closed.deliveries[4].status = .expired
        closed.deliveries[4].error = "ttl passed"
        #expect(!closed.isOpen)
        try archive.save([closed])
        #expect(try archive.command("cmd-7") == closed)
        #expect(try archive.startup().open.isEmpty)
    }

    @Test(arguments: CommandArchiveKind.allCases)
    func savingAgainReplacesTheCommandWithTheSameID(kind: CommandArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        let first = command(3, open: true)
        try archive.save([first, command(4)])
        var updated = first
        updated.answeredAt = 999
        updated.deliveries[0].status = .error
        updated.deliveries[0].error = "nope"
        updated.deliveries[0].late = true
        try archive.save([updated])
        #expect(try archive.command("cmd-3") == updated)
        #expect(try archive.commands(CommandQuery()) == [command(4), updated])
        #expect(try archive.startup().open.isEmpty)

        // Open again (a late re-delivery): back in the start-up list.
        var reopened = updated
        reopened.deliveries[0].status = .queued
        try archive.save([reopened])
        #expect(try archive.startup().open == [reopened])
        #expect(try archive.commands(CommandQuery()).count == 2)

        // The last save of an id in one batch wins.
        var last = reopened
        last.name = "renamed"
        try archive.save([updated, last])
        #expect(try archive.command("cmd-3") == last)
        #expect(try archive.commands(CommandQuery(name: "renamed")) == [last])
        #expect(try archive.commands(CommandQuery(name: "reboot")) == [command(4)])
    }

    @Test(arguments: CommandArchiveKind.allCases)
    func startupListsOnlyOpenCommandsInNumberOrderAndTheHighestNumber(kind: CommandArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        // Saved out of order, in several batches; the open ones created in a different order from their numbers.
        try archive.save([command(12, createdAt: 50, open: true), command(3), command(30, createdAt: 10)])
        try archive.save([command(5, createdAt: 900, open: true), command(1, createdAt: 1_000, open: true)])
        try archive.save([command(2)])
        let startup = try archive.startup()
        #expect(startup.open.map(\.id) == ["cmd-1", "cmd-5", "cmd-12"])
        #expect(startup.open.allSatisfy { $0.isOpen })
        #expect(startup.lastCommandNumber == 30)

        // Pruning every closed command, the highest among them, does not give its number back.
        #expect(try archive.prune(before: .max) == 3)
        let after = try archive.startup()
        #expect(after.open.map(\.id) == ["cmd-1", "cmd-5", "cmd-12"])
        #expect(after.lastCommandNumber == 30)
        #expect(try archive.command("cmd-30") == nil)
    }

    @Test(arguments: CommandArchiveKind.allCases)
    func queriesFilterByEveryFieldNewestFirst(kind: CommandArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        try archive.save(Array(catalogue[5...]))
        try archive.save(Array(catalogue[..<5].reversed()))

        func expect(
            _ query: CommandQuery, _ numbers: [UInt64], sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            let found = try archive.commands(query)
            #expect(found.map(\.number) == numbers, sourceLocation: sourceLocation)
            #expect(found == numbers.map { catalogue[Int($0) - 1] }, sourceLocation: sourceLocation)
            #expect(found.allSatisfy { query.matches($0) }, sourceLocation: sourceLocation)
        }

        try expect(CommandQuery(), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
        try expect(CommandQuery(room: "lab"), [10, 7, 5, 2, 1])
        try expect(CommandQuery(room: "*"), [3])
        try expect(CommandQuery(room: "lab/*"), [8])
        try expect(CommandQuery(room: "LAB"), [])
        try expect(CommandQuery(since: 500), [10, 9, 8, 7, 6, 5])
        try expect(CommandQuery(until: 500), [4, 3, 2, 1])
        try expect(CommandQuery(since: 300, until: 700), [6, 5, 4, 3])
        try expect(CommandQuery(since: 700, until: 700), [])
        try expect(CommandQuery(since: 1_001), [])
        try expect(CommandQuery(sender: "bob"), [10, 9, 5, 2])
        try expect(CommandQuery(sender: "nobody"), [])
        try expect(CommandQuery(name: "ping"), [9, 8, 5])
        try expect(CommandQuery(room: "lab", name: "set"), [7, 2])
        try expect(CommandQuery(room: "office", since: 500, sender: "alice", name: "reboot"), [6])
        try expect(CommandQuery(room: "lab", since: 100, until: 1_000, sender: "bob", name: "reboot"), [])
        try expect(CommandQuery(limit: 3), [10, 9, 8])
        try expect(CommandQuery(limit: 1), [10])
        try expect(CommandQuery(limit: 0), [])
        try expect(CommandQuery(limit: -1), [])
        try expect(CommandQuery(room: "lab", limit: 2), [10, 7])
        try expect(CommandQuery(sender: "carol", limit: 50), [8, 4])

        // Newest is by number, not by creation time.
        try archive.save([command(11, room: "late", createdAt: 1)])
        #expect(try archive.commands(CommandQuery(since: 0, until: 300)).map(\.number) == [11, 2, 1])
        #expect(try archive.commands(CommandQuery(limit: 2)).map(\.number) == [11, 10])
    }

    @Test(arguments: CommandArchiveKind.allCases)
    func membershipsAreAddedRemovedAndDeletedAndComeBackSorted(kind: CommandArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        try archive.save([
            RoomMembership(room: "office", device: "thermo-2", member: true),
            RoomMembership(room: "lab", device: "thermo-9", member: false),
            RoomMembership(room: "lab", device: "thermo-1", member: true),
            RoomMembership(room: "office", device: "hyg-1", member: true),
        ])
        #expect(
            try archive.startup().memberships == [
                RoomMembership(room: "lab", device: "thermo-1", member: true),
                RoomMembership(room: "lab", device: "thermo-9", member: false),
                RoomMembership(room: "office", device: "hyg-1", member: true),
                RoomMembership(room: "office", device: "thermo-2", member: true),
            ])

        // A decision replaces the earlier one; nil forgets it; forgetting one that is not there is harmless.
        try archive.save([
            RoomMembership(room: "lab", device: "thermo-1", member: false),
            RoomMembership(room: "office", device: "hyg-1", member: nil),
            RoomMembership(room: "office", device: "thermo-2", member: nil),
            RoomMembership(room: "nowhere", device: "x", member: nil),
            RoomMembership(room: "lab", device: "thermo-9", member: true),
        ])
        #expect(
            try archive.startup().memberships == [
                RoomMembership(room: "lab", device: "thermo-1", member: false),
                RoomMembership(room: "lab", device: "thermo-9", member: true),
            ])

        // In one batch, the later change to the same room and device wins.
        try archive.save([
            RoomMembership(room: "attic", device: "a", member: true),
            RoomMembership(room: "attic", device: "a", member: nil),
            RoomMembership(room: "attic", device: "b", member: nil),
            RoomMembership(room: "attic", device: "b", member: false),
        ])
        #expect(
            try archive.startup().memberships == [
                RoomMembership(room: "attic", device: "b", member: false),
                RoomMembership(room: "lab", device: "thermo-1", member: false),
                RoomMembership(room: "lab", device: "thermo-9", member: true),
            ])
        // Memberships do not touch the commands.
        #expect(try archive.startup().lastCommandNumber == 0)
    }

    @Test(arguments: CommandArchiveKind.allCases)
    func pruneDeletesOnlyClosedCommandsBeforeTheCut(kind: CommandArchiveKind) throws {
        let (archive, cleanup) = try kind.make()
        defer { cleanup() }
        try archive.save(catalogue)
        // Created at 100 … 1000; 4 and 7 are open.
        #expect(try archive.prune(before: 100) == 0)
        #expect(try archive.prune(before: 301) == 3)
        #expect(try archive.commands(CommandQuery()).map(\.number) == [10, 9, 8, 7, 6, 5, 4])
        #expect(try archive.prune(before: 301) == 0)
        #expect(try archive.prune(before: 800) == 2)
        #expect(try archive.commands(CommandQuery()).map(\.number) == [10, 9, 8, 7, 4])
        #expect(try archive.prune(before: .max) == 3)
        #expect(try archive.commands(CommandQuery()).map(\.number) == [7, 4])
        #expect(try archive.startup().open.map(\.number) == [4, 7])
        #expect(try archive.startup().lastCommandNumber == 10)

        // Once closed, an old open command goes with the next prune.
        var answered = catalogue[3]
        answered.answeredAt = 450
        try archive.save([answered])
        #expect(try archive.prune(before: 400) == 0)
        #expect(try archive.prune(before: 401) == 1)
        #expect(try archive.commands(CommandQuery()).map(\.number) == [7])
    }
}

// MARK: SQLite only

@Suite("SQLiteCommandArchive: commands.db")
struct SQLiteCommandArchiveTests {
    @Test func everythingSurvivesAReopenOfTheSameFile() throws {
        let directory = try TempCommandDirectory()
        defer { directory.remove() }
        let memberships = [
            RoomMembership(room: "lab", device: "thermo-1", member: true),
            RoomMembership(room: "lab", device: "thermo-2", member: false),
        ]
        do {
            let archive = try SQLiteCommandArchive(path: directory.path)
            #expect(archive.location == directory.path)
            try archive.save(catalogue)
            try archive.save([everyField])  // replaces catalogue's cmd-7
            try archive.save(memberships)
            try archive.save([command(42)])
            #expect(try archive.prune(before: .max) == 9)
        }
        let reopened = try SQLiteCommandArchive(path: directory.path)
        let startup = try reopened.startup()
        #expect(startup.open == [catalogue[3], everyField])
        #expect(startup.lastCommandNumber == 42)
        #expect(startup.memberships == memberships)
        #expect(try reopened.command("cmd-7") == everyField)
        #expect(try reopened.commands(CommandQuery()) == [everyField, catalogue[3]])

        // New commands after the reopen go on from there.
        try reopened.save([command(43)])
        #expect(try reopened.commands(CommandQuery(limit: 1)).map(\.id) == ["cmd-43"])
        #expect(try reopened.startup().lastCommandNumber == 43)
    }

    @Test func schemaVersionIsSetAndANewerOneIsRefused() throws {
        let directory = try TempCommandDirectory()
        defer { directory.remove() }
        do {
            _ = try SQLiteCommandArchive(path: directory.path)
            // Opening again does not migrate again.
            _ = try SQLiteCommandArchive(path: directory.path)
            let connection = try SQLiteConnection(path: directory.path)
            #expect(try connection.userVersion == 1)
            let mode = try connection.prepare("PRAGMA journal_mode")
            #expect(try mode.step())
            #expect(mode.text(0) == "wal")
            let tables = try connection.prepare(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' "
                    + "ORDER BY name")
            var names: [String] = []
            while try tables.step() { names.append(tables.text(0)) }
            #expect(
                names == [
                    "commands", "commands_by_created_at", "commands_by_room", "commands_open", "meta", "room_members",
                ])
            #expect(
                try connection.scalarInt("SELECT value FROM meta WHERE key = 'last_command_number'") == 0)
            try connection.setUserVersion(2)
        }
        let error = #expect(throws: SQLiteError.self) { try SQLiteCommandArchive(path: directory.path) }
        #expect(error?.message.contains("schema version 2") == true)
    }

    @Test func theStoredColumnsMirrorTheRecord() throws {
        let directory = try TempCommandDirectory()
        defer { directory.remove() }
        let archive = try SQLiteCommandArchive(path: directory.path)
        try archive.save([everyField, command(8, room: "office", name: "ping", sender: "bob", createdAt: 77)])
        let connection = try SQLiteConnection(path: directory.path, readOnly: true)
        let rows = try connection.prepare(
            "SELECT number, id, created_at, room, name, sender, open, body FROM commands ORDER BY number")
        #expect(try rows.step())
        #expect(rows.int64(0) == 7)
        #expect(rows.text(1) == "cmd-7")
        #expect(rows.int64(2) == 1_000)
        #expect(rows.text(3) == "floor-2/*")
        #expect(rows.text(4) == "set_point")
        #expect(rows.text(5) == "alice")
        #expect(rows.int64(6) == 1)
        #expect(Array(rows.text(7).utf8) == everyField.storageJSON)
        #expect(try rows.step())
        #expect(rows.int64(0) == 8)
        #expect(rows.text(3) == "office")
        #expect(rows.int64(2) == 77)
        #expect(rows.int64(6) == 0)
        #expect(try !rows.step())
        #expect(try connection.scalarInt("SELECT value FROM meta WHERE key = 'last_command_number'") == 8)
    }

    @Test func aCorruptStoredCommandIsReportedByItsID() throws {
        let directory = try TempCommandDirectory()
        defer { directory.remove() }
        let archive = try SQLiteCommandArchive(path: directory.path)
        try archive.save([command(1, open: true), command(2, open: true), command(3)])
        let connection = try SQLiteConnection(path: directory.path)
        try connection.execute("UPDATE commands SET body = '{\"id\":\"cmd-2\",\"number\":\"two\"}' WHERE id = 'cmd-2'")
        try connection.execute("UPDATE commands SET body = 'not json' WHERE id = 'cmd-3'")

        let startup = #expect(throws: SQLiteError.self) { try archive.startup() }
        #expect(startup?.message.contains("'cmd-2'") == true)
        #expect(startup?.message.contains("commands.db") == true)
        let byID = #expect(throws: SQLiteError.self) { try archive.command("cmd-3") }
        #expect(byID?.message.contains("'cmd-3'") == true)
        let listed = #expect(throws: SQLiteError.self) { try archive.commands(CommandQuery()) }
        #expect(listed?.message.contains("'cmd-3'") == true)

        // The others still read, and the statements are usable after the failure.
        #expect(try archive.command("cmd-1") == command(1, open: true))
        #expect(try archive.commands(CommandQuery(until: 200)) == [command(1, open: true)])
    }

    @Test func aFailedSaveLeavesNothingBehind() throws {
        let directory = try TempCommandDirectory()
        defer { directory.remove() }
        let archive = try SQLiteCommandArchive(path: directory.path)
        try archive.save([command(1)])
        // A trigger that refuses one room makes the second insert of the batch fail.
        let connection = try SQLiteConnection(path: directory.path)
        try connection.execute(
            """
            CREATE TRIGGER refuse BEFORE INSERT ON commands WHEN NEW.room = 'refused'
            BEGIN SELECT RAISE(ABORT, 'refused'); END
            """)
        #expect(throws: SQLiteError.self) {
            try archive.save([command(5, open: true), command(9, room: "refused")])
        }
        #expect(try archive.commands(CommandQuery()) == [command(1)])
        #expect(try archive.startup().open.isEmpty)
        #expect(try archive.startup().lastCommandNumber == 1)

        try connection.execute(
            """
            CREATE TRIGGER refuse_member BEFORE INSERT ON room_members WHEN NEW.device = 'refused'
            BEGIN SELECT RAISE(ABORT, 'refused'); END
            """)
        #expect(throws: SQLiteError.self) {
            try archive.save([
                RoomMembership(room: "lab", device: "ok", member: true),
                RoomMembership(room: "lab", device: "refused", member: true),
            ])
        }
        #expect(try archive.startup().memberships.isEmpty)
    }

    @Test func writesAndReadsFromManyTasksAllLand() async throws {
        let directory = try TempCommandDirectory()
        defer { directory.remove() }
        let archive = try SQLiteCommandArchive(path: directory.path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for step in 0..<25 {
                        let number = UInt64(task * 100 + step + 1)
                        try archive.save([command(number, room: "room-\(task)", open: step % 5 == 0)])
                        _ = try archive.commands(CommandQuery(room: "room-\(task)", limit: 5))
                        _ = try archive.command("cmd-\(number)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let stored = try archive.commands(CommandQuery(limit: 1_000))
        #expect(stored.count == 200)
        #expect(stored.map(\.number) == stored.map(\.number).sorted(by: >))
        let startup = try archive.startup()
        #expect(startup.lastCommandNumber == 725)
        #expect(startup.open.count == 40)
    }

    @Test func hubCommandStorageOpensTheEngineConfigured() throws {
        let directory = try TempCommandDirectory()
        defer { directory.remove() }
        let dataDirectory = (directory.directory as NSString).appendingPathComponent("data")
        let memory = try HubCommandStorage.open(engine: .memory, dataDirectory: dataDirectory)
        #expect(memory is MemoryCommandArchive)
        #expect(memory.location == "memory")
        #expect(!FileManager.default.fileExists(atPath: dataDirectory))

        let sqlite = try HubCommandStorage.open(engine: .sqlite, dataDirectory: dataDirectory)
        #expect(sqlite is SQLiteCommandArchive)
        #expect(sqlite.location == (dataDirectory as NSString).appendingPathComponent("commands.db"))
        #expect(FileManager.default.fileExists(atPath: sqlite.location))
    }
}
