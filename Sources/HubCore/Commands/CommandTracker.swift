/// What ``CommandTracker/start(_:sender:source:members:now:)`` decided.
public struct CommandStarted: Equatable, Sendable {
    /// The new command, as it stands.
    public var record: CommandRecord
    /// The commands to hand to the online members now.
    public var sends: [CommandSend]
    /// True when the answer is already complete (no member online): `record` is it.
    public var answered: Bool
}

/// What became of a device's `command_result`.
public enum CommandResultOutcome: Equatable, Sendable {
    /// Recorded; `answer` is the command when this result completed it (its sender waits for it).
    case recorded(answer: CommandRecord?)
    /// Recorded after the command's answer had reported the device as `timeout` or `offline` (the audit shows it).
    case late
    /// The delivery already had its result; ignored.
    case duplicate
    /// Not a delivery of this device that the hub still knows.
    case unknown
}

/// A member of the addressed room when a command starts.
public struct CommandMember: Equatable, Sendable {
    public var device: String
    /// Whether the device has a live link now.
    public var online: Bool

    /// Creates a member.
    public init(device: String, online: Bool) {
        self.device = device
        self.online = online
    }
}

/// Tracks commands from fan-out to the last result: one delivery per member device, results matched by delivery id,
/// timeouts, queueing for offline devices with a TTL, redelivery on reconnect, late and duplicate results.
///
/// Pure: every change takes `now`; the hub owns one behind a lock, hands out the ``CommandSend``s through the
/// devices' links, answers senders with the records it returns and writes ``takeDirty()`` to the archive.
///
/// A delivery is `pending` once handed to the device. When the device's link drops, it stays pending and is handed
/// over again (same delivery id) if the device comes back before its deadline; at the deadline it becomes `timeout`
/// (the device was connected and silent), `queued` (offline, and the command has `ttl_ms` left) or `offline`. A
/// queued delivery is handed over when the device comes back within the TTL, else it ends `expired`. The sender's
/// answer goes out when no delivery is pending any more, or at `timeout_ms`. Results that come after the answer
/// reported `timeout` or `offline` are still recorded, marked `late`.
public struct CommandTracker: Sendable {
    /// The configuration in force.
    public let configuration: CommandConfiguration
    private var records: [String: CommandRecord] = [:]
    /// Commands with an unanswered sender or a pending or queued delivery.
    private var open: Set<String> = []
    /// device → (command id → member index) of its pending and queued deliveries.
    private var byDevice: [String: [String: Int]] = [:]
    /// Queued deliveries per device.
    private var queued: [String: Int] = [:]
    /// Closed commands in the order they closed, kept for late results until the window passes.
    private var closed: [(at: Int64, id: String)] = []
    private var closedHead = 0
    private var dirty: Set<String> = []
    private var lastNumber: UInt64 = 0

    /// Creates an empty tracker.
    public init(configuration: CommandConfiguration = CommandConfiguration()) {
        self.configuration = configuration
    }

    /// Commands open now.
    public var openCount: Int { open.count }

    /// Deliveries queued for offline devices now.
    public var queuedCount: Int { queued.values.reduce(0, +) }

    /// Deliveries handed over and waiting for a result now.
    public var pendingCount: Int {
        open.reduce(0) { sum, id in sum + records[id]!.deliveries.lazy.filter { $0.status == .pending }.count }
    }

    /// The highest command number used.
    public var lastCommandNumber: UInt64 { lastNumber }

    /// A command the tracker still holds (open, or closed within the late-result window).
    public func record(_ id: String) -> CommandRecord? { records[id] }

    // MARK: Start-up

    /// Resumes after a restart: open commands from the archive and the highest number used. Nobody waits for an
    /// unanswered command any more, so it counts as answered now; a pending delivery becomes `queued` when the TTL
    /// allows, else `offline`; a queued one past its TTL becomes `expired`. Every device is offline at start.
    public mutating func restore(_ startup: CommandStartup, now: Int64) {
        lastNumber = max(lastNumber, startup.lastCommandNumber)
        for var record in startup.open {
            lastNumber = max(lastNumber, record.number)
            if record.answeredAt == nil { record.answeredAt = now }
            for index in record.deliveries.indices {
                var delivery = record.deliveries[index]
                delivery.connected = false
                switch delivery.status {
                case .pending where record.ttlMs > 0 && now < record.expiresAt:
                    delivery.status = .queued
                    delivery.deadline = nil
                case .pending:
                    delivery.status = .offline
                    delivery.deadline = nil
                    delivery.error = "the hub restarted before the device answered"
                case .queued where now >= record.expiresAt:
                    delivery.status = .expired
                    delivery.error = "ttl_ms passed before the device came back"
                default:
                    break
                }
                record.deliveries[index] = delivery
            }
            records[record.id] = record
            dirty.insert(record.id)
            index(record)
            closeIfDone(record.id, now: now)
        }
    }

    // MARK: Commands

    /// Fans a command out to `members`: the online ones get it now, offline ones are queued (with `ttl_ms`) or
    /// reported `offline`.
    ///
    /// - Throws: ``ProtocolError`` `not_found` when the room has no members, `too_large` past `max_members`,
    ///   `rate_limited` past `max_open_commands`.
    public mutating func start(
        _ request: CommandRequest, sender: String, source: String, members: [CommandMember], now: Int64
    ) throws(ProtocolError) -> CommandStarted {
        guard !members.isEmpty else { throw .notFound("no devices in room '\(request.room)'") }
        guard members.count <= configuration.maxMembers else {
            throw .tooLarge(
                "room '\(request.room)' has \(members.count) members; one command may address at most "
                    + "\(configuration.maxMembers)")
        }
        guard open.count < configuration.maxOpenCommands else {
            throw .rateLimited("\(open.count) commands are open, the hub's limit; retry when some have finished")
        }
        lastNumber += 1
        let id = "cmd-\(lastNumber)"
        var record = CommandRecord(
            id: id, number: lastNumber, room: request.room, name: request.name, args: request.args, sender: sender,
            source: source, createdAt: now, timeoutMs: request.timeoutMs, ttlMs: request.ttlMs, deliveries: [])
        record.deliveries.reserveCapacity(members.count)
        var sends: [CommandSend] = []
        for (index, member) in members.enumerated() {
            var delivery = CommandDelivery(
                device: member.device, id: CommandRecord.deliveryID(command: id, index: index), status: .offline)
            if member.online {
                delivery.status = .pending
                delivery.sentAt = now
                delivery.deadline = record.deadline
                delivery.attempts = 1
                delivery.connected = true
                sends.append(
                    CommandSend(device: member.device, delivery: delivery.id, name: request.name, args: request.args))
            } else if request.ttlMs > 0 {
                if queued[member.device, default: 0] < configuration.maxQueuedPerDevice {
                    delivery.status = .queued
                } else {
                    delivery.error =
                        "the device is offline and already has \(configuration.maxQueuedPerDevice) queued commands"
                }
            } else {
                delivery.error = "the device is offline"
            }
            record.deliveries.append(delivery)
        }
        if sends.isEmpty { record.answeredAt = now }
        records[id] = record
        dirty.insert(id)
        index(record)
        closeIfDone(id, now: now)
        return CommandStarted(record: record, sends: sends, answered: sends.isEmpty)
    }

    /// Records `device`'s `command_result`.
    public mutating func receive(_ result: DeviceMessage.CommandResult, from device: String, now: Int64)
        -> CommandResultOutcome
    {
        guard case .string(let deliveryID) = result.id, let (id, index) = CommandRecord.parseDeliveryID(deliveryID),
            var delivery = records[id]?.deliveries[safe: index], delivery.device == device, delivery.id == deliveryID
        else { return .unknown }
        let outcome: CommandResultOutcome
        switch delivery.status {
        case .ok, .error:
            return .duplicate
        case .pending, .queued:
            if delivery.status == .queued { queued[device, default: 1] -= 1 }
            outcome = .recorded(answer: nil)
        case .timeout, .offline, .expired:
            delivery.late = true
            outcome = .late
        }
        delivery.status = result.ok ? .ok : .error
        delivery.result = result.ok ? result.result : nil
        delivery.error = result.ok ? nil : (result.error ?? "the device reported a failure")
        delivery.answeredAt = now
        delivery.deadline = nil
        // In place: a command to thousands of devices must not be copied for each of their results.
        records[id]!.deliveries[index] = delivery
        byDevice[device]?[id] = nil
        if byDevice[device]?.isEmpty == true { byDevice[device] = nil }
        var answered = false
        if records[id]!.answeredAt == nil, !records[id]!.hasDelivery({ $0 == .pending }) {
            records[id]!.answeredAt = now
            answered = true
        }
        dirty.insert(id)
        closeIfDone(id, now: now)
        if case .recorded = outcome { return .recorded(answer: answered ? records[id] : nil) }
        return outcome
    }

    /// A device's link came up (registered, reconnected): hands it every command still pending for it (again, with
    /// the same delivery id) and every queued one within its TTL.
    public mutating func deviceOnline(_ device: String, now: Int64) -> [CommandSend] {
        guard let entries = byDevice[device] else { return [] }
        var sends: [CommandSend] = []
        for (id, index) in entries.sorted(by: { records[$0.key]!.number < records[$1.key]!.number }) {
            let (expiresAt, answeredAt, deadline, timeoutMs) = {
                let record = records[id]!
                return (record.expiresAt, record.answeredAt, record.deadline, record.timeoutMs)
            }()
            var delivery = records[id]!.deliveries[index]
            switch delivery.status {
            case .pending:
                break
            case .queued where now < expiresAt:
                queued[device, default: 1] -= 1
                delivery.status = .pending
                // Before the answer went out it is due with the others; after, the device gets the full timeout.
                delivery.deadline = answeredAt == nil ? deadline : now + timeoutMs
            default:
                continue
            }
            delivery.sentAt = now
            delivery.attempts += 1
            delivery.connected = true
            records[id]!.deliveries[index] = delivery
            dirty.insert(id)
            sends.append(
                CommandSend(device: device, delivery: delivery.id, name: records[id]!.name, args: records[id]!.args))
        }
        if queued[device] == 0 { queued[device] = nil }
        return sends
    }

    /// A device's link went down: its pending deliveries wait for it to come back (until their deadline).
    public mutating func deviceOffline(_ device: String, now: Int64) {
        guard let entries = byDevice[device] else { return }
        for (id, index) in entries where records[id]!.deliveries[index].status == .pending {
            records[id]!.deliveries[index].connected = false
            dirty.insert(id)
        }
    }

    /// Applies deadlines and TTLs at `now`; returns the commands whose answer is due now.
    public mutating func tick(now: Int64) -> [CommandRecord] {
        var answers: [CommandRecord] = []
        for id in open {
            // Found by reading in place; only the deliveries that change are copied (a command to thousands of
            // devices is looked at on every tick).
            let (due, ttlMs, expiresAt) = {
                let record = records[id]!
                let due = record.deliveries.withUnsafeBufferPointer { buffer in
                    buffer.indices.filter { index in
                        switch buffer[index].status {
                        case .pending: (buffer[index].deadline ?? .max) <= now
                        case .queued: now >= record.expiresAt
                        default: false
                        }
                    }
                }
                return (due, record.ttlMs, record.expiresAt)
            }()
            for index in due {
                var delivery = records[id]!.deliveries[index]
                delivery.deadline = nil
                if delivery.status == .queued {
                    delivery.status = .expired
                    delivery.error = "ttl_ms passed before the device came back"
                    queued[delivery.device, default: 1] -= 1
                    if queued[delivery.device] == 0 { queued[delivery.device] = nil }
                } else if delivery.connected {
                    delivery.status = .timeout
                } else if ttlMs > 0, now < expiresAt,
                    queued[delivery.device, default: 0] < configuration.maxQueuedPerDevice
                {
                    delivery.status = .queued
                    queued[delivery.device, default: 0] += 1
                } else {
                    delivery.status = .offline
                    delivery.error = "the device went offline before answering"
                }
                if delivery.status.isFinal {
                    byDevice[delivery.device]?[id] = nil
                    if byDevice[delivery.device]?.isEmpty == true { byDevice[delivery.device] = nil }
                }
                records[id]!.deliveries[index] = delivery
            }
            if !due.isEmpty { dirty.insert(id) }
            let answerDue = {
                let record = records[id]!
                return record.answeredAt == nil
                    && (now >= record.deadline || !record.hasDelivery({ $0 == .pending }))
            }()
            if answerDue {
                records[id]!.answeredAt = now
                answers.append(records[id]!)
                dirty.insert(id)
            }
        }
        for id in open where !records[id]!.isOpen { closeIfDone(id, now: now) }
        forgetClosed(now: now)
        return answers
    }

    /// The hub is stopping: pending deliveries become `queued` (TTL left) or `offline`, and every unanswered command
    /// is answered now; returns those.
    public mutating func shutdown(now: Int64) -> [CommandRecord] {
        var answers: [CommandRecord] = []
        for id in open {
            var record = records[id]!
            for index in record.deliveries.indices where record.deliveries[index].status == .pending {
                let device = record.deliveries[index].device
                record.deliveries[index].deadline = nil
                record.deliveries[index].connected = false
                if record.ttlMs > 0, now < record.expiresAt {
                    record.deliveries[index].status = .queued
                    queued[device, default: 0] += 1
                } else {
                    record.deliveries[index].status = .offline
                    record.deliveries[index].error = "the hub shut down before the device answered"
                    byDevice[device]?[id] = nil
                    if byDevice[device]?.isEmpty == true { byDevice[device] = nil }
                }
            }
            if record.answeredAt == nil {
                record.answeredAt = now
                answers.append(record)
            }
            records[id] = record
            dirty.insert(id)
        }
        for id in open where !records[id]!.isOpen { closeIfDone(id, now: now) }
        return answers
    }

    /// The commands changed since the last call, to write to the archive.
    public mutating func takeDirty() -> [CommandRecord] {
        guard !dirty.isEmpty else { return [] }
        let changed = dirty.compactMap { records[$0] }.sorted { $0.number < $1.number }
        dirty.removeAll(keepingCapacity: true)
        return changed
    }

    // MARK: Bookkeeping

    private mutating func index(_ record: CommandRecord) {
        for (index, delivery) in record.deliveries.enumerated() where !delivery.status.isFinal {
            byDevice[delivery.device, default: [:]][record.id] = index
            if delivery.status == .queued { queued[delivery.device, default: 0] += 1 }
        }
        // Open until it closes; one that is born closed (every member offline, nothing queued) is kept for the
        // late-result window all the same.
        open.insert(record.id)
    }

    private mutating func closeIfDone(_ id: String, now: Int64) {
        guard let record = records[id], !record.isOpen, open.remove(id) != nil else { return }
        closed.append((now, id))
    }

    private mutating func forgetClosed(now: Int64) {
        while closedHead < closed.count, now - closed[closedHead].at >= configuration.lateResultWindowMs {
            let id = closed[closedHead].id
            if dirty.contains(id) { break }  // written first
            if let record = records[id], !record.isOpen { records[id] = nil }
            closedHead += 1
        }
        if closedHead > 1_024, closedHead * 2 > closed.count {
            closed.removeFirst(closedHead)
            closedHead = 0
        }
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? {
        indices.contains(index) ? self[index] : nil
    }
}
