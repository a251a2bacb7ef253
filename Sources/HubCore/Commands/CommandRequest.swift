/// A command as a sender asks for it, before it is fanned out.
public struct CommandRequest: Equatable, Sendable {
    /// The room addressed; `*` matches any run of characters (`floor:*`).
    public var room: String
    /// The command name, passed to the devices as is.
    public var name: String
    /// The arguments, passed to the devices as is.
    public var args: JSONObject
    /// How long to wait for the answers.
    public var timeoutMs: Int64
    /// How long a command for an offline member is kept for it (0: not kept; the member's result is `offline`).
    public var ttlMs: Int64

    /// Creates a request.
    public init(room: String, name: String, args: JSONObject = JSONObject(), timeoutMs: Int64, ttlMs: Int64 = 0) {
        self.room = room
        self.name = name
        self.args = args
        self.timeoutMs = timeoutMs
        self.ttlMs = ttlMs
    }

    /// Reads `name`, `args`, `timeout_ms` and `ttl_ms` from a JSON object (the body of
    /// `POST /api/rooms/{room}/commands`, or a dashboard `command` message, which also carries `room`).
    ///
    /// - Parameters:
    ///   - object: The JSON object.
    ///   - room: The room from the path; nil to read `room` from the object.
    ///   - configuration: The default and largest `timeout_ms`, and the largest `ttl_ms`.
    /// - Throws: ``ProtocolError`` `invalid_message` naming the field.
    public init(json object: JSONObject, room: String?, configuration: CommandConfiguration) throws(ProtocolError) {
        var roomName = room
        if roomName == nil {
            guard case .string(let text)? = object["room"] else {
                throw .invalidMessage("'room' is required: a room name such as floor:3 or floor:*")
            }
            roomName = text
        }
        guard let roomName, Names.isValidRoom(roomName) else {
            throw .invalidMessage("'room' must match [A-Za-z0-9._:*-]{1,128}")
        }
        guard case .string(let name)? = object["name"] else {
            throw .invalidMessage("'name' is required: the command name, such as setpoint")
        }
        guard Names.isValidName(name) else { throw .invalidMessage("'name' must match [A-Za-z0-9._:-]{1,128}") }
        var args = JSONObject()
        switch object["args"] {
        case nil, .null?: break
        case .object(let members)?: args = members
        default: throw .invalidMessage("'args' must be an object")
        }
        let timeout = try Self.milliseconds(
            object, "timeout_ms", default: configuration.defaultTimeoutMs, range: 1...configuration.maxTimeoutMs)
        let ttl = try Self.milliseconds(object, "ttl_ms", default: 0, range: 0...configuration.maxTTLMs)
        self.init(room: roomName, name: name, args: args, timeoutMs: timeout, ttlMs: ttl)
    }

    private static func milliseconds(
        _ object: JSONObject, _ field: String, default defaultValue: Int64, range: ClosedRange<Int64>
    ) throws(ProtocolError) -> Int64 {
        switch object[field] {
        case nil, .null?:
            return defaultValue
        case .number(let number)?
        where number == number.rounded() && number >= Double(range.lowerBound)
            && number <= Double(range.upperBound):
            return Int64(number)
        default:
            throw .invalidMessage(
                "'\(field)' must be a whole number of milliseconds from \(range.lowerBound) to \(range.upperBound)")
        }
    }
}

/// A command the hub hands to one device through its ``DeviceLink``.
public struct CommandSend: Equatable, Sendable {
    /// The device.
    public var device: String
    /// The delivery id, which the device's `command_result` echoes.
    public var delivery: String
    public var name: String
    public var args: JSONObject

    /// Creates a send.
    public init(device: String, delivery: String, name: String, args: JSONObject) {
        self.device = device
        self.delivery = delivery
        self.name = name
        self.args = args
    }

    /// The `command` message for the device.
    public var message: ServerMessage { .command(id: delivery, name: name, args: .object(args)) }
}
