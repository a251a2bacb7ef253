/// A message a device sends on `/ws/device` (or over MQTT, or in a `POST /api/telemetry` body).
public enum DeviceMessage: Equatable, Sendable {
    case register(Register)
    case telemetry(Telemetry)
    case commandResult(CommandResult)
    case ping(id: MessageID?)

    /// `register`: who the device is.
    public struct Register: Equatable, Sendable {
        public var id: MessageID?
        public var device: String
        public var kind: String
        public var rooms: [String]
        public var meta: JSONObject
        /// The commands the device accepts (optional; dashboards offer them).
        public var commands: [CommandSpec]

        public init(
            id: MessageID?, device: String, kind: String, rooms: [String], meta: JSONObject,
            commands: [CommandSpec] = []
        ) {
            self.id = id
            self.commands = commands
            self.device = device
            self.kind = kind
            self.rooms = rooms
            self.meta = meta
        }
    }

    /// `telemetry`: one or many samples.
    public struct Telemetry: Equatable, Sendable {
        public var id: MessageID?
        /// The device named in the message (`POST /api/telemetry`, MQTT); nil on a device session.
        public var device: String?
        public var samples: [MetricSample]

        public init(id: MessageID?, device: String?, samples: [MetricSample]) {
            self.id = id
            self.device = device
            self.samples = samples
        }
    }

    /// `command_result`: a device's answer to a command.
    public struct CommandResult: Equatable, Sendable {
        public var id: MessageID
        public var ok: Bool
        public var result: JSONValue?
        public var error: String?

        public init(id: MessageID, ok: Bool, result: JSONValue?, error: String?) {
            self.id = id
            self.ok = ok
            self.result = result
            self.error = error
        }
    }

    /// The message's `id`, if it carried one.
    public var id: MessageID? {
        switch self {
        case .register(let message): message.id
        case .telemetry(let message): message.id
        case .commandResult(let message): message.id
        case .ping(let id): id
        }
    }
}

/// One element of a decoded frame: a message, or the error to answer it with.
public enum DecodedItem: Equatable, Sendable {
    case message(DeviceMessage)
    case failure(id: MessageID?, ProtocolError)
}
