import Synchronization

/// What the alert store holds at start-up.
public struct AlertStartup: Sendable {
    /// The rule set, in order.
    public var rules: [AlertRule] = []
    /// Instances not in `ok`, with their timers.
    public var instances: [AlertInstance] = []
    /// Silences that have not ended.
    public var silences: [Silence] = []
    /// The highest `al-N` number ever used (so ids are never reused).
    public var lastAlertNumber: UInt64 = 0

    /// Creates an empty start-up state.
    public init() {}
}

/// One write to the alert store, applied all or nothing.
public struct AlertWrite: Sendable {
    /// Events to append to the history.
    public var events: [AlertEvent] = []
    /// Instances to save (insert or replace).
    public var save: [AlertInstance] = []
    /// Instances to forget.
    public var forget: [AlertInstanceKey] = []
    /// Silences to save.
    public var silences: [Silence] = []
    /// Silences to delete.
    public var silencesRemoved: [String] = []
    /// When set, the whole rule set to store in place of the old one.
    public var rules: [AlertRule]?

    /// Creates an empty write.
    public init() {}

    /// Whether there is nothing to write.
    public var isEmpty: Bool {
        events.isEmpty && save.isEmpty && forget.isEmpty && silences.isEmpty && silencesRemoved.isEmpty
            && rules == nil
    }

    /// Adds `other` after this write (later saves of an instance win).
    public mutating func append(_ other: AlertWrite) {
        events += other.events
        // The later write's word on an instance is the last: an archive forgets before it saves.
        let saved = Set(other.save.map(\.key))
        let forgotten = Set(other.forget)
        save.removeAll { forgotten.contains($0.key) || saved.contains($0.key) }
        forget.removeAll { saved.contains($0) }
        save += other.save
        forget += other.forget
        let silencesSaved = Set(other.silences.map(\.id))
        let silencesGone = Set(other.silencesRemoved)
        silences.removeAll { silencesGone.contains($0.id) || silencesSaved.contains($0.id) }
        silencesRemoved.removeAll { silencesSaved.contains($0) }
        silences += other.silences
        silencesRemoved += other.silencesRemoved
        if let rules = other.rules { self.rules = rules }
    }
}

/// A query of the alert history.
public struct AlertHistoryQuery: Sendable, Equatable {
    /// Events at or after this time.
    public var since: Int64 = .min
    /// Events at or before this time.
    public var until: Int64 = .max
    /// Which events.
    public var filter = AlertFilter()
    /// Only events of this alert id.
    public var alert: String?
    /// At most this many: the newest ones, returned oldest first.
    public var limit = 1_000

    /// Creates a query of everything (newest 1,000).
    public init() {}
}

/// A recorded event: the event's fields the history is searched by, and its `alert` message.
public struct StoredAlertEvent: Sendable, Equatable {
    /// The event.
    public var event: AlertEvent
    /// The `alert` message as recorded.
    public var json: [UInt8]

    /// Creates a record of `event`.
    public init(_ event: AlertEvent) {
        self.event = event
        self.json = event.encoded
    }

    /// Creates a record from stored parts.
    public init(event: AlertEvent, json: [UInt8]) {
        self.event = event
        self.json = json
    }
}

/// Where the alert engine's rules, state, silences and history are kept.
///
/// ``MemoryAlertArchive`` keeps them in memory (`--storage memory`); `SQLiteAlertArchive` (module HubSQLite) in
/// `alerts.db` in the data directory. Calls may come from several threads; implementations serialise writes.
public protocol AlertArchive: AnyObject, Sendable {
    /// Where it lives (a path or `memory`).
    var location: String { get }
    /// Everything the engine needs to resume.
    func startup(parser: AlertRuleParser) throws -> AlertStartup
    /// Applies a write in one transaction: events, then forgotten instances, saved instances, silences and rules.
    func apply(_ write: AlertWrite) throws
    /// Recorded events matching `query`, oldest first (the newest `limit` of them).
    func history(_ query: AlertHistoryQuery) throws -> [StoredAlertEvent]
    /// Deletes events older than `before`; returns how many.
    func prune(before: Int64) throws -> Int

    /// Closes the store at shutdown, after its last write (a no-op in memory). For SQLite this checkpoints the
    /// write-ahead log and removes it, so a stopped hub leaves one compact file per database. Calls after it fail.
    func close()
}

extension AlertArchive {
    /// Nothing to close.
    public func close() {}
}

/// The ``AlertArchive`` in memory.
public final class MemoryAlertArchive: AlertArchive {
    private struct Contents {
        var rules: [AlertRule] = []
        var instances: [AlertInstanceKey: AlertInstance] = [:]
        var silences: [String: Silence] = [:]
        var events: [StoredAlertEvent] = []
        var lastAlertNumber: UInt64 = 0
    }

    private let contents = Mutex(Contents())

    /// Creates an empty archive.
    public init() {}

    public var location: String { "memory" }

    public func startup(parser: AlertRuleParser) throws -> AlertStartup {
        contents.withLock { contents in
            var startup = AlertStartup()
            startup.rules = contents.rules
            startup.instances = contents.instances.values.sorted {
                ($0.key.rule, $0.key.series) < ($1.key.rule, $1.key.series)
            }
            startup.silences = contents.silences.values.sorted { $0.createdAt < $1.createdAt }
            startup.lastAlertNumber = contents.lastAlertNumber
            return startup
        }
    }

    public func apply(_ write: AlertWrite) throws {
        contents.withLock { contents in
            for event in write.events {
                contents.events.append(StoredAlertEvent(event))
                if let number = AlertEngine.number(event.alert, prefix: "al-") {
                    contents.lastAlertNumber = max(contents.lastAlertNumber, number)
                }
            }
            for key in write.forget { contents.instances[key] = nil }
            for instance in write.save { contents.instances[instance.key] = instance }
            for id in write.silencesRemoved { contents.silences[id] = nil }
            for silence in write.silences { contents.silences[silence.id] = silence }
            if let rules = write.rules { contents.rules = rules }
        }
    }

    public func history(_ query: AlertHistoryQuery) throws -> [StoredAlertEvent] {
        contents.withLock { contents in
            let matching = contents.events.filter { stored in
                let event = stored.event
                return event.ts >= query.since && event.ts <= query.until && query.filter.admits(event)
                    && (query.alert == nil || event.alert == query.alert)
            }
            return Array(matching.suffix(max(0, query.limit)))
        }
    }

    public func prune(before: Int64) throws -> Int {
        contents.withLock { contents in
            let count = contents.events.count
            contents.events.removeAll { $0.event.ts < before }
            return count - contents.events.count
        }
    }
}
