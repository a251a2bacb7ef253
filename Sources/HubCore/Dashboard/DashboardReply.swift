/// A message the hub sends to a dashboard (other than `batch`, which ``DashboardScheduler`` writes itself),
/// encoded to a JSON text frame by ``encoded``.
public enum DashboardReply: Equatable, Sendable {
    /// `ack` for `subscribe`: how many series matched and the rate in force.
    case subscribed(id: MessageID?, sub: String, series: Int, rateMs: Int64)
    /// `ack` for `resume`: whether the missed samples follow (`recovered`) or a fresh snapshot does.
    case resumed(id: MessageID?, sub: String, recovered: Bool, series: Int, rateMs: Int64)
    /// `ack` for `set_rate`.
    case rateSet(id: MessageID?, sub: String, rateMs: Int64)
    /// `ack` for `unsubscribe`.
    case unsubscribed(id: MessageID?, sub: String)
    /// A bare `ack` (e.g. for `unsubscribe_devices`).
    case ack(id: MessageID?)
    /// `snapshot`: per series, the samples of the asked history (or the latest one).
    case snapshot(sub: String, series: [(SeriesKey, [Sample])])
    /// `devices`: every device the hub knows, answering `subscribe_devices`.
    case devices(id: MessageID?, [DeviceRecord])
    /// `device`: one presence change.
    case device(PresenceEvent, kind: String?, rooms: [String]?)
    /// `error` or `pong`, shared with the device protocol.
    case server(ServerMessage)
    /// The answer to `subscribe_alerts`: how many active alerts follow.
    case alertsSubscribed(id: MessageID?, alerts: Int)
    /// The answer to `ack_alert`.
    case alertAcked(id: MessageID?, alert: String)
    /// The answer to `command`: the command and every device's result.
    case commandAnswered(id: MessageID?, CommandRecord)

    public static func == (lhs: DashboardReply, rhs: DashboardReply) -> Bool {
        lhs.encoded == rhs.encoded
    }

    /// The message as UTF-8 JSON.
    public var encoded: [UInt8] {
        var writer = JSONWriter(capacity: 128)
        write(to: &writer)
        return writer.bytes
    }

    /// The message as a JSON string.
    public var text: String { String(decoding: encoded, as: UTF8.self) }

    /// Writes the message into `writer`.
    public func write(to writer: inout JSONWriter) {
        switch self {
        case .subscribed(let id, let sub, let series, let rateMs):
            Self.ack(id, sub: sub, to: &writer)
            writer.raw(",\"series\":")
            writer.int(Int64(series))
            writer.raw(",\"rate_ms\":")
            writer.int(rateMs)
            writer.raw("}")
        case .resumed(let id, let sub, let recovered, let series, let rateMs):
            Self.ack(id, sub: sub, to: &writer)
            writer.raw(",\"recovered\":")
            writer.bool(recovered)
            writer.raw(",\"series\":")
            writer.int(Int64(series))
            writer.raw(",\"rate_ms\":")
            writer.int(rateMs)
            writer.raw("}")
        case .rateSet(let id, let sub, let rateMs):
            Self.ack(id, sub: sub, to: &writer)
            writer.raw(",\"rate_ms\":")
            writer.int(rateMs)
            writer.raw("}")
        case .unsubscribed(let id, let sub):
            Self.ack(id, sub: sub, to: &writer)
            writer.raw("}")
        case .ack(let id):
            writer.raw("{\"type\":\"ack\"")
            Self.writeID(id, to: &writer)
            writer.raw("}")
        case .snapshot(let sub, let series):
            writer.raw("{\"type\":\"snapshot\",\"sub\":")
            writer.string(sub)
            writer.raw(",\"series\":{")
            for (index, (key, samples)) in series.enumerated() {
                if index > 0 { writer.byte(UInt8(ascii: ",")) }
                writer.string(key.description)
                writer.raw(":[")
                for (position, sample) in samples.enumerated() {
                    if position > 0 { writer.byte(UInt8(ascii: ",")) }
                    writer.byte(UInt8(ascii: "["))
                    writer.int(sample.ts)
                    writer.byte(UInt8(ascii: ","))
                    writer.number(sample.value)
                    writer.byte(UInt8(ascii: "]"))
                }
                writer.byte(UInt8(ascii: "]"))
            }
            writer.raw("}}")
        case .devices(let id, let records):
            writer.raw("{\"type\":\"devices\"")
            Self.writeID(id, to: &writer)
            writer.raw(",\"devices\":[")
            for (index, record) in records.enumerated() {
                if index > 0 { writer.byte(UInt8(ascii: ",")) }
                writer.byte(UInt8(ascii: "{"))
                record.writeFields(to: &writer)
                writer.byte(UInt8(ascii: "}"))
            }
            writer.raw("]}")
        case .device(let event, let kind, let rooms):
            writer.raw("{\"type\":\"device\",\"device\":")
            writer.string(event.device)
            writer.raw(",\"state\":")
            writer.string(event.state.rawValue)
            writer.raw(",\"reason\":")
            writer.string(event.reason.rawValue)
            writer.raw(",\"ts\":")
            writer.int(event.ts)
            if let kind {
                writer.raw(",\"kind\":")
                writer.string(kind)
            }
            if let rooms {
                writer.raw(",\"rooms\":")
                writer.value(.array(rooms.map(JSONValue.string)))
            }
            writer.raw("}")
        case .server(let message):
            message.write(to: &writer)
        case .alertsSubscribed(let id, let alerts):
            writer.raw("{\"type\":\"ack\"")
            Self.writeID(id, to: &writer)
            writer.raw(",\"alerts\":")
            writer.int(Int64(alerts))
            writer.raw("}")
        case .alertAcked(let id, let alert):
            writer.raw("{\"type\":\"ack\"")
            Self.writeID(id, to: &writer)
            writer.raw(",\"alert\":")
            writer.string(alert)
            writer.raw("}")
        case .commandAnswered(let id, let record):
            writer.raw("{\"type\":\"ack\"")
            Self.writeID(id, to: &writer)
            writer.raw(",")
            record.writeFields(to: &writer)
            writer.raw("}")
        }
    }

    private static func ack(_ id: MessageID?, sub: String, to writer: inout JSONWriter) {
        writer.raw("{\"type\":\"ack\"")
        writeID(id, to: &writer)
        writer.raw(",\"sub\":")
        writer.string(sub)
    }

    private static func writeID(_ id: MessageID?, to writer: inout JSONWriter) {
        guard let id else { return }
        writer.raw(",\"id\":")
        id.write(to: &writer)
    }
}
