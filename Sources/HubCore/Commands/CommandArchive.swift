import Synchronization

/// What the command store holds at start-up.
public struct CommandStartup: Sendable {
    /// Commands still open (unanswered, or with pending or queued deliveries), oldest first.
    public var open: [CommandRecord] = []
    /// The highest `cmd-N` number ever used (so ids are never reused).
    public var lastCommandNumber: UInt64 = 0
    /// Operators' room membership decisions.
    public var memberships: [RoomMembership] = []

    /// Creates an empty start-up state.
    public init() {}
}

/// Which commands `GET /api/commands` lists.
public struct CommandQuery: Equatable, Sendable {
    /// Only commands addressed to exactly this room (as written, `*` included).
    public var room: String?
    /// Only commands sent at or after this time (Unix ms).
    public var since: Int64?
    /// Only commands sent before this time (Unix ms).
    public var until: Int64?
    /// Only commands of this sender (token subject).
    public var sender: String?
    /// Only commands with this name.
    public var name: String?
    /// Most commands returned, newest first.
    public var limit: Int

    /// Creates a query.
    public init(
        room: String? = nil, since: Int64? = nil, until: Int64? = nil, sender: String? = nil, name: String? = nil,
        limit: Int = 100
    ) {
        self.room = room
        self.since = since
        self.until = until
        self.sender = sender
        self.name = name
        self.limit = limit
    }

    /// Whether `record` passes the filters (not the limit).
    public func matches(_ record: CommandRecord) -> Bool {
        if let room, record.room != room { return false }
        if let since, record.createdAt < since { return false }
        if let until, record.createdAt >= until { return false }
        if let sender, record.sender != sender { return false }
        if let name, record.name != name { return false }
        return true
    }
}

/// Where commands (the audit, and queued deliveries that must survive a restart) and operators' room membership
/// decisions are kept. HubCore defines it; HubSQLite implements it on disk (`commands.db`), ``MemoryCommandArchive``
/// in memory.
public protocol CommandArchive: Sendable {
    /// Where the store lives (a file path, or `memory`).
    var location: String { get }

    /// Reads what the hub needs at start-up.
    func startup() throws -> CommandStartup

    /// Saves commands (insert or replace by id), all or nothing.
    func save(_ commands: [CommandRecord]) throws

    /// Saves room membership decisions (a nil `member` deletes the decision), all or nothing.
    func save(_ memberships: [RoomMembership]) throws

    /// One command by id.
    func command(_ id: String) throws -> CommandRecord?

    /// Commands matching `query`, newest first, at most `query.limit`.
    func commands(_ query: CommandQuery) throws -> [CommandRecord]

    /// Deletes closed commands sent before `before`; returns how many.
    func prune(before: Int64) throws -> Int

    /// Closes the store at shutdown, after its last write (a no-op in memory). For SQLite this checkpoints the
    /// write-ahead log and removes it, so a stopped hub leaves one compact file per database. Calls after it fail.
    func close()
}

extension CommandArchive {
    /// Nothing to close.
    public func close() {}
}

/// A ``CommandArchive`` in memory, for tests and `--storage memory`.
public final class MemoryCommandArchive: CommandArchive {
    private struct Contents {
        var commands: [String: CommandRecord] = [:]
        var memberships: [String: [String: Bool]] = [:]
        var lastNumber: UInt64 = 0
    }

    private let contents = Mutex(Contents())

    /// Creates an empty store.
    public init() {}

    public var location: String { "memory" }

    public func startup() throws -> CommandStartup {
        contents.withLock { contents in
            var startup = CommandStartup()
            startup.open = contents.commands.values.filter(\.isOpen).sorted { $0.number < $1.number }
            startup.lastCommandNumber = contents.lastNumber
            startup.memberships = contents.memberships.keys.sorted().flatMap { room in
                contents.memberships[room]!.keys.sorted().map {
                    RoomMembership(room: room, device: $0, member: contents.memberships[room]![$0])
                }
            }
            return startup
        }
    }

    public func save(_ commands: [CommandRecord]) throws {
        contents.withLock { contents in
            for command in commands {
                contents.commands[command.id] = command
                contents.lastNumber = max(contents.lastNumber, command.number)
            }
        }
    }

    public func save(_ memberships: [RoomMembership]) throws {
        contents.withLock { contents in
            for membership in memberships {
                contents.memberships[membership.room, default: [:]][membership.device] = membership.member
                if contents.memberships[membership.room]?.isEmpty == true {
                    contents.memberships[membership.room] = nil
                }
            }
        }
    }

    public func command(_ id: String) throws -> CommandRecord? {
        contents.withLock { $0.commands[id] }
    }

    public func commands(_ query: CommandQuery) throws -> [CommandRecord] {
        contents.withLock { contents in
            Array(
                contents.commands.values.filter { query.matches($0) }.sorted { $0.number > $1.number }
                    .prefix(max(0, query.limit)))
        }
    }

    public func prune(before: Int64) throws -> Int {
        contents.withLock { contents in
            let old = contents.commands.values.filter { !$0.isOpen && $0.createdAt < before }.map(\.id)
            for id in old { contents.commands[id] = nil }
            return old.count
        }
    }
}
