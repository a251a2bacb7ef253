/// What the MQTT bridge must do to the hub after a message, a tick or a change of its broker connection.
public enum MQTTPresenceAction: Equatable, Sendable {
    /// The device came online under a new `session`: register it (with `meta`, or what the hub already knows of
    /// it when nil) and link it, so commands waiting for it follow.
    case online(device: String, meta: DeviceMessage.Register?, session: SessionID, reason: PresenceReason)
    /// Its meta changed while online: register it again under the same session (no new link, no redelivery).
    case updated(DeviceMessage.Register, session: SessionID)
    /// It went offline: end `session` and unlink it.
    case offline(device: String, session: SessionID, reason: PresenceReason)
}

/// What ``MQTTPresence/receive(_:now:newSession:)`` decided about one message.
public enum MQTTPresenceDecision: Equatable, Sendable {
    /// Taken; the action to carry out, if any.
    case accepted(MQTTPresenceAction?)
    /// Turned away: the table tracks `maxDevices` other devices already.
    case refused
}

/// The presence of the devices the MQTT bridge carries, decided from what they publish. Pure: every input takes
/// `now`, and new sessions come from the caller (they are numbered by the hub, shared with WebSocket sessions).
///
/// - `status` `online` (the device's retained status) brings a device online with reason `status`; a bare `offline`
///   (its last will, published by the broker when the connection is lost) takes it offline with `last_will`, and
///   `{"state":"offline"}` with `status`.
/// - Telemetry from a device that is not online brings it online with reason `data`, unless the last status it
///   published said `offline` (queued telemetry delivered after a restart must not revive a device whose last will
///   has fired). Devices that publish no status at all are thus online while their data flows.
/// - A device online but silent (no telemetry, status, meta or command result) for `inactivityMs` goes offline with
///   `inactive`; its next telemetry brings it back.
/// - `meta` is remembered and used when the device next comes online; while it is online it updates the hub's
///   record at once.
/// - When the bridge loses the broker, every device it carries goes offline with `bridge_disconnected`; the
///   broker's retained statuses (sent again on every subscription) and the devices' next messages bring them back.
public struct MQTTPresence: Sendable {
    /// How long an online device may stay silent, in ms (0: never times out).
    public let inactivityMs: Int64
    /// Most devices tracked; messages of further devices change no presence.
    public let maxDevices: Int

    struct Entry: Sendable {
        var meta: DeviceMessage.Register?
        var session: SessionID?
        var lastHeard: Int64
        /// The last status the device published was `offline`.
        var saidOffline = false
    }

    private var entries: [String: Entry] = [:]
    /// Number of devices online through the bridge.
    public private(set) var onlineCount = 0

    /// Creates an empty presence table.
    public init(inactivityMs: Int64 = 600_000, maxDevices: Int = 100_000) {
        self.inactivityMs = inactivityMs
        self.maxDevices = maxDevices
    }

    /// Devices tracked (online or not).
    public var count: Int { entries.count }

    /// Whether a message of `device` is turned away because the table is full (`maxDevices` others tracked).
    public func isFull(for device: String) -> Bool {
        entries[device] == nil && entries.count >= maxDevices
    }

    /// Whether `device` is online through the bridge, and its session.
    public func session(of device: String) -> SessionID? { entries[device]?.session }

    /// What one decoded message does to presence: nil when it changes nothing the hub must hear of. A message of a
    /// device the table has no room for (`maxDevices` others tracked) is refused and changes nothing.
    public mutating func receive(_ message: MQTTDeviceMessage, now: Int64, newSession: () -> SessionID)
        -> MQTTPresenceDecision
    {
        if isFull(for: message.device) { return .refused }
        switch message {
        case .telemetry(let device, _):
            return .accepted(telemetry(device: device, now: now, newSession: newSession))
        case .meta(let register):
            return .accepted(meta(register, now: now))
        case .status(let device, let online, let reason):
            return .accepted(status(device: device, online: online, reason: reason, now: now, newSession: newSession))
        case .commandResult(let device, _):
            heard(device: device, now: now)
            return .accepted(nil)
        }
    }

    /// A `meta` message: remembered; applied at once when the device is online.
    public mutating func meta(_ register: DeviceMessage.Register, now: Int64) -> MQTTPresenceAction? {
        guard var entry = entry(register.device, now: now) else { return nil }
        entry.meta = register
        entry.lastHeard = now
        entries[register.device] = entry
        guard let session = entry.session else { return nil }
        return .updated(register, session: session)
    }

    /// A `status` message.
    public mutating func status(
        device: String, online: Bool, reason: PresenceReason, now: Int64, newSession: () -> SessionID
    ) -> MQTTPresenceAction? {
        guard var entry = entry(device, now: now) else { return nil }
        entry.saidOffline = !online
        entry.lastHeard = now
        defer { entries[device] = entry }
        if online {
            guard entry.session == nil else { return nil }
            let session = newSession()
            entry.session = session
            onlineCount += 1
            return .online(device: device, meta: entry.meta, session: session, reason: reason)
        }
        guard let session = entry.session else { return nil }
        entry.session = nil
        onlineCount -= 1
        return .offline(device: device, session: session, reason: reason)
    }

    /// Telemetry from `device`: a sign of life, which brings it online unless its last status said `offline`.
    public mutating func telemetry(device: String, now: Int64, newSession: () -> SessionID) -> MQTTPresenceAction? {
        if var entry = entries[device], entry.session != nil || entry.saidOffline {
            // The common case (online already) or a device that said it is offline: only the time changes.
            entry.lastHeard = now
            entries[device] = entry
            return nil
        }
        guard var entry = entry(device, now: now) else { return nil }
        let session = newSession()
        entry.session = session
        entry.lastHeard = now
        entries[device] = entry
        onlineCount += 1
        return .online(device: device, meta: entry.meta, session: session, reason: .data)
    }

    /// The hub refused `device` coming online: it is not online after all (no action; its next message tries
    /// again).
    public mutating func forget(_ device: String) {
        guard entries[device]?.session != nil else { return }
        entries[device]!.session = nil
        onlineCount -= 1
    }

    /// A command result from `device`: a sign of life, which changes no presence.
    public mutating func heard(device: String, now: Int64) {
        entries[device]?.lastHeard = now
    }

    /// Devices online but silent for `inactivityMs` go offline with `inactive`.
    public mutating func tick(now: Int64) -> [MQTTPresenceAction] {
        guard inactivityMs > 0, onlineCount > 0 else { return [] }
        var actions: [MQTTPresenceAction] = []
        for (device, entry) in entries {
            guard let session = entry.session, now - entry.lastHeard >= inactivityMs else { continue }
            entries[device]!.session = nil
            actions.append(.offline(device: device, session: session, reason: .inactive))
        }
        onlineCount -= actions.count
        return actions.sorted { $0.device < $1.device }
    }

    /// Every device online through the bridge goes offline with `reason` (`bridge_disconnected` when the broker
    /// connection is lost, `shutdown` when the bridge stops).
    public mutating func allOffline(reason: PresenceReason) -> [MQTTPresenceAction] {
        guard onlineCount > 0 else { return [] }
        var actions: [MQTTPresenceAction] = []
        for (device, entry) in entries {
            guard let session = entry.session else { continue }
            entries[device]!.session = nil
            actions.append(.offline(device: device, session: session, reason: reason))
        }
        onlineCount = 0
        return actions.sorted { $0.device < $1.device }
    }

    /// The entry of `device`, created when there is room; nil when the table is full.
    private func entry(_ device: String, now: Int64) -> Entry? {
        if let entry = entries[device] { return entry }
        guard entries.count < maxDevices else { return nil }
        return Entry(lastHeard: now)
    }
}

extension MQTTPresenceAction {
    /// The device the action is about.
    public var device: String {
        switch self {
        case .online(let device, _, _, _), .offline(let device, _, _): device
        case .updated(let register, _): register.device
        }
    }
}
