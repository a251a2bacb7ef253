/// A message the hub sends to a device, encoded to a JSON text frame by ``encoded``.
public enum ServerMessage: Equatable, Sendable {
    /// `ack` for `register`: the device id and the heartbeat interval.
    case registered(id: MessageID?, device: String, heartbeatMs: Int64)
    /// `ack` for `telemetry` with an `id`: how many samples were accepted.
    case accepted(id: MessageID, accepted: Int)
    /// `error` with a stable code.
    case error(id: MessageID?, ProtocolError)
    /// `pong` for a `ping`, with the hub's time.
    case pong(id: MessageID?, ts: Int64)
    /// `command` from the hub to the device.
    case command(id: String, name: String, args: JSONValue)

    /// The message as UTF-8 JSON.
    public var encoded: [UInt8] {
        var writer = JSONWriter(capacity: 96)
        write(to: &writer)
        return writer.bytes
    }

    /// The message as a JSON string.
    public var text: String { String(decoding: encoded, as: UTF8.self) }

    /// Writes the message into `writer`.
    public func write(to writer: inout JSONWriter) {
        switch self {
        case .registered(let id, let device, let heartbeatMs):
            writer.raw("{\"type\":\"ack\"")
            Self.writeID(id, to: &writer)
            writer.raw(",\"device\":")
            writer.string(device)
            writer.raw(",\"heartbeat_ms\":")
            writer.int(heartbeatMs)
            writer.raw("}")
        case .accepted(let id, let accepted):
            writer.raw("{\"type\":\"ack\"")
            Self.writeID(id, to: &writer)
            writer.raw(",\"accepted\":")
            writer.int(Int64(accepted))
            writer.raw("}")
        case .error(let id, let error):
            writer.raw("{\"type\":\"error\"")
            Self.writeID(id, to: &writer)
            writer.raw(",\"code\":")
            writer.string(error.code.rawValue)
            writer.raw(",\"message\":")
            writer.string(error.message)
            writer.raw("}")
        case .pong(let id, let ts):
            writer.raw("{\"type\":\"pong\"")
            Self.writeID(id, to: &writer)
            writer.raw(",\"ts\":")
            writer.int(ts)
            writer.raw("}")
        case .command(let id, let name, let args):
            writer.raw("{\"type\":\"command\",\"id\":")
            writer.string(id)
            writer.raw(",\"name\":")
            writer.string(name)
            writer.raw(",\"args\":")
            writer.value(args)
            writer.raw("}")
        }
    }

    private static func writeID(_ id: MessageID?, to writer: inout JSONWriter) {
        guard let id else { return }
        writer.raw(",\"id\":")
        id.write(to: &writer)
    }
}
