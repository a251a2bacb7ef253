/// Whether a device has a live session.
public enum PresenceState: String, Sendable, Codable {
    case online
    case offline
}

/// Why a device's presence last changed.
public enum PresenceReason: String, Sendable, Codable {
    /// Online: the device registered.
    case registered
    /// Online: a newer session of the same device took over (the older one was closed with 4009).
    case replaced
    /// Offline: the session closed.
    case closed
    /// Offline: the device answered nothing for 3 heartbeat intervals.
    case heartbeatTimeout = "heartbeat_timeout"
    /// Offline: the device stopped reading what the hub sends (a write stalled for 3 heartbeat intervals).
    case slowConsumer = "slow_consumer"
    /// Offline: the session's token expired (closed with 1008).
    case tokenExpired = "token_expired"
    /// Offline: the hub shut down.
    case shutdown
    /// Offline: the hub restarted and the device has not registered again yet.
    case hubRestarted = "hub_restarted"
    /// Offline: the device sent data without a session (e.g. `POST /api/telemetry`) and never registered.
    case noSession = "no_session"
    /// Offline: the broker published the device's last will (MQTT; its connection was lost).
    case lastWill = "last_will"
    /// Online or offline: the device said so on its MQTT status topic.
    case status
    /// Offline: an MQTT device sent nothing for longer than the data-inactivity timeout.
    case inactive
    /// Online: an MQTT device that publishes no status (or last said `online`) sent data.
    case data
    /// Offline: the hub's MQTT bridge lost its broker, so it cannot tell; the broker's retained status and the
    /// device's next message say again once the bridge is back.
    case bridgeDisconnected = "bridge_disconnected"
}

/// A session of a device, numbered by the hub.
public typealias SessionID = UInt64

/// What the hub knows about one device.
public struct DeviceRecord: Equatable, Sendable {
    public var device: String
    public var kind: String
    public var rooms: [String]
    public var meta: JSONObject
    public var state: PresenceState
    /// When `state` last changed (Unix ms).
    public var since: Int64
    public var reason: PresenceReason
    /// The current session, while online.
    public var session: SessionID?
    /// How the device is connected: `ws`, `http` or `mqtt`.
    public var transport: String
    /// First time the hub heard of the device (Unix ms).
    public var firstSeen: Int64
    /// Last message from the device (Unix ms).
    public var lastSeen: Int64
    /// The commands the device says it accepts (`register`'s optional `commands`).
    public var commands: [CommandSpec]
    /// The token whose quota the device counts against (``TokenQuotas``); nil for none. Not shown to clients.
    public var quotaOwner: String?

    /// Creates a record.
    public init(
        device: String, kind: String, rooms: [String], meta: JSONObject, state: PresenceState, since: Int64,
        reason: PresenceReason, session: SessionID?, transport: String, firstSeen: Int64, lastSeen: Int64,
        commands: [CommandSpec] = []
    ) {
        self.commands = commands
        self.device = device
        self.kind = kind
        self.rooms = rooms
        self.meta = meta
        self.state = state
        self.since = since
        self.reason = reason
        self.session = session
        self.transport = transport
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }
}

extension DeviceRecord {
    /// Writes the record's fields as JSON object members (`"device":…` through `"last_seen":…`, no braces), as
    /// `GET /api/devices` and the dashboards' `devices` message show them.
    public func writeFields(to json: inout JSONWriter) {
        json.raw("\"device\":")
        json.string(device)
        json.raw(",\"kind\":")
        json.string(kind)
        json.raw(",\"rooms\":")
        json.value(.array(rooms.map(JSONValue.string)))
        json.raw(",\"meta\":")
        json.value(.object(meta))
        json.raw(",\"state\":")
        json.string(state.rawValue)
        json.raw(",\"since\":")
        json.int(since)
        json.raw(",\"reason\":")
        json.string(reason.rawValue)
        json.raw(",\"transport\":")
        json.string(transport)
        json.raw(",\"first_seen\":")
        json.int(firstSeen)
        json.raw(",\"last_seen\":")
        json.int(lastSeen)
        if !commands.isEmpty {
            json.raw(",\"commands\":")
            json.value(.array(commands.map(\.json)))
        }
    }
}

/// A change of a device's presence.
public struct PresenceEvent: Equatable, Sendable {
    public var device: String
    public var state: PresenceState
    public var reason: PresenceReason
    public var ts: Int64
}

/// The result of a registration.
public struct RegistrationOutcome: Equatable, Sendable {
    /// The session that was replaced and must be closed with 4009, if any.
    public var replacedSession: SessionID?
    /// The presence change to announce.
    public var event: PresenceEvent
}

/// Devices, their metadata and their presence (online/offline with since and reason).
///
/// Pure: every change takes `now`. The hub owns one behind a lock.
public struct DeviceRegistry: Sendable {
    private var records: [String: DeviceRecord] = [:]

    /// Creates an empty registry.
    public init() {}

    /// Number of devices known.
    public var count: Int { records.count }

    /// Number of devices online (kept as devices come and go: asked on every presence change).
    public private(set) var onlineCount = 0

    /// One device.
    public subscript(device: String) -> DeviceRecord? { records[device] }

    /// All devices sorted by id.
    public var all: [DeviceRecord] { records.values.sorted { $0.device < $1.device } }

    /// Records a registration by `session`; a previous live session of the same device is reported for closing.
    /// `reason` names why a new session came online (default `registered`; the MQTT bridge says `status` or
    /// `data`); a takeover is always `replaced`.
    public mutating func register(
        _ message: DeviceMessage.Register, session: SessionID, transport: String, now: Int64,
        reason online: PresenceReason = .registered
    ) -> RegistrationOutcome {
        let previous = records[message.device]
        let sameSession = previous?.state == .online && previous?.session == session
        let replaced = previous?.state == .online && !sameSession ? previous?.session : nil
        let reason: PresenceReason = sameSession ? previous!.reason : (replaced == nil ? online : .replaced)
        let since = previous?.state == .online ? previous!.since : now
        if previous?.state != .online { onlineCount += 1 }
        records[message.device] = DeviceRecord(
            device: message.device,
            kind: message.kind,
            rooms: message.rooms,
            meta: message.meta,
            state: .online,
            since: since,
            reason: reason,
            session: session,
            transport: transport,
            firstSeen: previous?.firstSeen ?? now,
            lastSeen: now,
            commands: message.commands
        )
        records[message.device]!.quotaOwner = previous?.quotaOwner
        return RegistrationOutcome(
            replacedSession: replaced,
            event: PresenceEvent(device: message.device, state: .online, reason: reason, ts: now))
    }

    /// Marks the device offline when `session` is still its current session; nil when nothing changed.
    public mutating func sessionEnded(device: String, session: SessionID, reason: PresenceReason, now: Int64)
        -> PresenceEvent?
    {
        guard var record = records[device], record.session == session, record.state == .online else { return nil }
        record.state = .offline
        record.since = now
        record.reason = reason
        record.session = nil
        records[device] = record
        onlineCount -= 1
        return PresenceEvent(device: device, state: .offline, reason: reason, ts: now)
    }

    /// Notes that a device sent data; creates an offline record for a device that never registered.
    ///
    /// Returns the presence event of a device the registry did not know (offline, `no_session`), nil otherwise.
    @discardableResult
    public mutating func touch(device: String, transport: String, now: Int64) -> PresenceEvent? {
        if records[device] != nil {
            records[device]!.lastSeen = now
            return nil
        }
        records[device] = DeviceRecord(
            device: device, kind: "generic", rooms: [], meta: JSONObject(), state: .offline, since: now,
            reason: .noSession, session: nil, transport: transport, firstSeen: now, lastSeen: now)
        return PresenceEvent(device: device, state: .offline, reason: .noSession, ts: now)
    }

    /// Loads stored records at start-up: every device offline; those stored online get reason `hub_restarted`.
    public mutating func restore(_ stored: [DeviceRecord], now: Int64) {
        for var record in stored {
            if record.state == .online {
                record.state = .offline
                record.reason = .hubRestarted
                record.since = now
            }
            record.session = nil
            if records[record.device]?.state == .online { onlineCount -= 1 }
            records[record.device] = record
        }
    }

    /// Records the token whose quota `device` counts against (kept with the record, so it survives a restart).
    public mutating func setQuotaOwner(_ owner: String, of device: String) {
        records[device]?.quotaOwner = owner
    }

    /// Forgets every offline device last heard of before `cutoff` (Unix ms); returns their ids, sorted. Online
    /// devices are never forgotten.
    public mutating func expire(lastSeenBefore cutoff: Int64) -> [String] {
        let expired = records.values.filter { $0.state == .offline && max($0.lastSeen, $0.since) < cutoff }
            .map(\.device).sorted()
        for device in expired { records[device] = nil }
        return expired
    }

    /// Marks every online device offline (hub shutdown) and returns the events.
    public mutating func allOffline(reason: PresenceReason, now: Int64) -> [PresenceEvent] {
        var events: [PresenceEvent] = []
        for (device, record) in records where record.state == .online {
            if let session = record.session,
                let event = sessionEnded(device: device, session: session, reason: reason, now: now)
            {
                events.append(event)
            }
        }
        return events
    }
}
