/// Where one device's copy of a command stands.
public enum DeliveryStatus: String, Sendable, CaseIterable {
    /// Handed to the device; its `command_result` has not come yet.
    case pending
    /// The device is offline; the command is kept until it comes back or `ttl_ms` passes.
    case queued
    /// The device answered `ok: true`.
    case ok
    /// The device answered `ok: false` (with its `error`).
    case error
    /// The device is online but did not answer within `timeout_ms`.
    case timeout
    /// The device was (or went) offline, and the command had no `ttl_ms` left to wait for it.
    case offline
    /// Queued, but `ttl_ms` passed before the device came back.
    case expired

    /// True for the statuses a delivery ends in (a late `command_result` may still turn `timeout` or `offline` into
    /// `ok` or `error`, marked late).
    public var isFinal: Bool { self != .pending && self != .queued }

    /// True for the statuses the CLI and the summary count as a failure.
    public var isFailure: Bool { self == .error || self == .timeout || self == .offline || self == .expired }
}

/// One device's copy of a command: its own delivery id, and what became of it.
public struct CommandDelivery: Equatable, Sendable {
    /// The member device.
    public var device: String
    /// The id sent in the `command` message to the device, and expected back in its `command_result`
    /// (`{command}.{n}`).
    public var id: String
    public var status: DeliveryStatus
    /// The device's `result` (status `ok`).
    public var result: JSONValue?
    /// The device's `error` (status `error`), or why the hub gave up (`offline`, `expired`).
    public var error: String?
    /// When the command was last handed to the device (Unix ms).
    public var sentAt: Int64?
    /// When the device's answer came (Unix ms).
    public var answeredAt: Int64?
    /// When a `pending` delivery times out (Unix ms).
    public var deadline: Int64?
    /// How many times the command was handed to the device (again after a reconnect, or after a queue).
    public var attempts: Int
    /// The answer came after the delivery had ended `timeout`, `offline` or `expired` (so the sender's answer, or
    /// the audit, had already reported it so).
    public var late: Bool
    /// Whether the device's link is up (a `pending` delivery of a device that dropped waits for it to come back).
    public var connected: Bool

    /// Creates a delivery.
    public init(
        device: String, id: String, status: DeliveryStatus, result: JSONValue? = nil, error: String? = nil,
        sentAt: Int64? = nil, answeredAt: Int64? = nil, deadline: Int64? = nil, attempts: Int = 0, late: Bool = false,
        connected: Bool = false
    ) {
        self.device = device
        self.id = id
        self.status = status
        self.result = result
        self.error = error
        self.sentAt = sentAt
        self.answeredAt = answeredAt
        self.deadline = deadline
        self.attempts = attempts
        self.late = late
        self.connected = connected
    }

    /// Milliseconds from the last hand-over to the answer, when both happened.
    public var latencyMs: Int64? {
        guard let sentAt, let answeredAt else { return nil }
        return max(0, answeredAt - sentAt)
    }
}

/// One command to a room: who sent what to which devices, and every device's outcome. The audit record, and the
/// tracker's working state while deliveries are open.
public struct CommandRecord: Equatable, Sendable {
    /// `cmd-N`, N never reused.
    public var id: String
    /// N of the id.
    public var number: UInt64
    /// The room as addressed (may hold `*`).
    public var room: String
    /// The command name.
    public var name: String
    /// The arguments (a JSON object).
    public var args: JSONObject
    /// The token subject of the sender.
    public var sender: String
    /// Where it came from: `api`, `dashboard` (or another adapter's name).
    public var source: String
    /// When it was sent (Unix ms).
    public var createdAt: Int64
    /// How long the sender waits for the answers.
    public var timeoutMs: Int64
    /// How long a command for an offline device is kept (0: not kept).
    public var ttlMs: Int64
    /// When the answer went to the sender (Unix ms); nil while it waits.
    public var answeredAt: Int64?
    /// One per member device, sorted by device id.
    public var deliveries: [CommandDelivery]

    /// Creates a record.
    public init(
        id: String, number: UInt64, room: String, name: String, args: JSONObject, sender: String, source: String,
        createdAt: Int64, timeoutMs: Int64, ttlMs: Int64, answeredAt: Int64? = nil, deliveries: [CommandDelivery]
    ) {
        self.id = id
        self.number = number
        self.room = room
        self.name = name
        self.args = args
        self.sender = sender
        self.source = source
        self.createdAt = createdAt
        self.timeoutMs = timeoutMs
        self.ttlMs = ttlMs
        self.answeredAt = answeredAt
        self.deliveries = deliveries
    }

    /// When the sender's answer is due.
    public var deadline: Int64 { createdAt + timeoutMs }

    /// Until when a queued delivery is kept.
    public var expiresAt: Int64 { ttlMs > 0 ? createdAt + ttlMs : createdAt }

    /// True while a delivery is pending or queued, or the answer has not gone out.
    public var isOpen: Bool { answeredAt == nil || hasDelivery { !$0.isFinal } }

    /// Whether any delivery's status satisfies `predicate`. Reads the statuses in place: asked on every result,
    /// it must not copy each of thousands of deliveries.
    public func hasDelivery(_ predicate: (DeliveryStatus) -> Bool) -> Bool {
        deliveries.withUnsafeBufferPointer { buffer in
            for index in buffer.indices where predicate(buffer[index].status) { return true }
            return false
        }
    }

    /// How many deliveries have each status.
    public var counts: [DeliveryStatus: Int] {
        var counts: [DeliveryStatus: Int] = [:]
        for delivery in deliveries { counts[delivery.status, default: 0] += 1 }
        return counts
    }

    /// The delivery id of member number `index` (0-based).
    public static func deliveryID(command: String, index: Int) -> String { "\(command).\(index + 1)" }

    /// The command id and member index a delivery id names; nil when it is not one of the hub's.
    public static func parseDeliveryID(_ id: String) -> (command: String, index: Int)? {
        guard let dot = id.lastIndex(of: "."), let number = Int(id[id.index(after: dot)...]), number >= 1 else {
            return nil
        }
        let command = String(id[..<dot])
        guard command.hasPrefix("cmd-") else { return nil }
        return (command, number - 1)
    }
}

extension CommandRecord {
    /// Writes the per-device results array: `[{"device":…,"status":…,"result"|"error":…,"latency_ms":…}, …]`, with
    /// `"late":true` on answers that came after the delivery had ended `timeout`, `offline` or `expired`, and the
    /// delivery id, attempts and times when `detailed`.
    public func writeResults(to json: inout JSONWriter, detailed: Bool = false) {
        json.raw("[")
        for (index, delivery) in deliveries.enumerated() {
            if index > 0 { json.raw(",") }
            json.raw("{\"device\":")
            json.string(delivery.device)
            json.raw(",\"status\":")
            json.string(delivery.status.rawValue)
            if let result = delivery.result {
                json.raw(",\"result\":")
                json.value(result)
            }
            if let error = delivery.error {
                json.raw(",\"error\":")
                json.string(error)
            }
            if let latency = delivery.latencyMs, delivery.status == .ok || delivery.status == .error {
                json.raw(",\"latency_ms\":")
                json.int(latency)
            }
            if delivery.late { json.raw(",\"late\":true") }
            if detailed {
                json.raw(",\"delivery\":")
                json.string(delivery.id)
                json.raw(",\"attempts\":")
                json.int(Int64(delivery.attempts))
                if let sentAt = delivery.sentAt {
                    json.raw(",\"sent_at\":")
                    json.int(sentAt)
                }
                if let answeredAt = delivery.answeredAt {
                    json.raw(",\"answered_at\":")
                    json.int(answeredAt)
                }
            }
            json.raw("}")
        }
        json.raw("]")
    }

    /// Writes `"ok":n,…` counts of every status that occurs, in a fixed order, as an object.
    public func writeSummary(to json: inout JSONWriter) {
        let counts = self.counts
        json.raw("{")
        var first = true
        for status in DeliveryStatus.allCases {
            guard let count = counts[status] else { continue }
            if !first { json.raw(",") }
            first = false
            json.key(status.rawValue)
            json.int(Int64(count))
        }
        json.raw("}")
    }

    /// Writes the command's fields as JSON object members (no braces): `"command":…` through `"results":[…]`, as
    /// `POST /api/rooms/{room}/commands`, `GET /api/commands` and the dashboard's `ack` show them.
    public func writeFields(to json: inout JSONWriter, detailed: Bool = false) {
        json.raw("\"command\":")
        json.string(id)
        json.raw(",\"room\":")
        json.string(room)
        json.raw(",\"name\":")
        json.string(name)
        json.raw(",\"args\":")
        json.value(.object(args))
        json.raw(",\"sender\":")
        json.string(sender)
        json.raw(",\"source\":")
        json.string(source)
        json.raw(",\"ts\":")
        json.int(createdAt)
        json.raw(",\"timeout_ms\":")
        json.int(timeoutMs)
        json.raw(",\"ttl_ms\":")
        json.int(ttlMs)
        if let answeredAt {
            json.raw(",\"answered_at\":")
            json.int(answeredAt)
        }
        json.raw(",\"open\":")
        json.bool(isOpen)
        json.raw(",\"summary\":")
        writeSummary(to: &json)
        json.raw(",\"results\":")
        writeResults(to: &json, detailed: detailed)
    }
}
