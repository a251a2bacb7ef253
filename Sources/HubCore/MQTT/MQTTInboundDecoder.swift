/// A device message that arrived over MQTT, decoded from its topic and payload.
public enum MQTTDeviceMessage: Equatable, Sendable {
    /// `devices/{id}/telemetry`: samples (the same JSON as WebSocket telemetry, `type` optional).
    case telemetry(device: String, [MetricSample])
    /// `devices/{id}/meta`: who the device is, as a `register` would say it (`kind`, `rooms`, `meta`, `commands`).
    case meta(DeviceMessage.Register)
    /// `devices/{id}/status`: online or offline, with the reason (`last_will` for a bare `offline`, the last will's
    /// payload; `status` for `{"state":…}`).
    case status(device: String, online: Bool, reason: PresenceReason)
    /// `devices/{id}/command_results`: a `command_result` (`type` optional).
    case commandResult(device: String, DeviceMessage.CommandResult)
}

extension MQTTDeviceMessage {
    /// The device the message is from.
    public var device: String {
        switch self {
        case .telemetry(let device, _), .status(let device, _, _), .commandResult(let device, _): device
        case .meta(let register): register.device
        }
    }
}

/// Decodes MQTT messages of the wire protocol: the topic names the device and the channel, the payload is JSON
/// (or a bare `online`/`offline` status). Pure.
public struct MQTTInboundDecoder: Sendable {
    public let topics: MQTTTopics
    private let decoder: DeviceMessageDecoder

    /// Creates a decoder for `topics`, enforcing `limits` as WebSocket messages do.
    public init(topics: MQTTTopics = MQTTTopics(), limits: DecoderLimits = DecoderLimits()) {
        self.topics = topics
        self.decoder = DeviceMessageDecoder(limits: limits)
    }

    /// Decodes one message; nil for what carries nothing (an empty retained payload clearing a topic, or the hub's
    /// own `commands` topic).
    ///
    /// - Throws: ``ProtocolError`` for a topic outside the protocol or a payload that is not what its topic
    ///   carries, naming what is wrong.
    public func decode(topic: String, payload: [UInt8]) throws(ProtocolError) -> MQTTDeviceMessage? {
        guard let (device, channel) = topics.parse(topic) else {
            throw .invalidMessage("topic '\(topic.prefix(200))' is not \(topics.prefix)devices/{id}/{channel}")
        }
        if payload.isEmpty || channel == .commands { return nil }
        if channel == .status, let word = Self.bareStatus(payload) {
            return .status(device: device, online: word == "online", reason: word == "online" ? .status : .lastWill)
        }
        guard case .object(var object) = try JSONParser.parse(payload) else {
            throw .invalidMessage("the payload of \(channel.rawValue) must be a JSON object")
        }
        if let named = object["device"], named != .string(device) {
            throw .invalidMessage(
                "the payload names device \(named.stringValue.map { "'\($0)'" } ?? "\(named)"), the topic '\(device)'")
        }
        switch channel {
        case .telemetry:
            try Self.expectType(object, "telemetry")
            return .telemetry(device: device, try decoder.decodeTelemetry(object, id: nil).samples)
        case .meta:
            object["type"] = .string("register")
            object["device"] = .string(device)
            guard case .register(let register) = try decoder.decodeMessage(object, id: nil) else { return nil }
            return .meta(register)
        case .status:
            guard case .string(let state)? = object["state"], state == "online" || state == "offline" else {
                throw .invalidMessage("status must be online, offline or {\"state\":\"online\"|\"offline\"}")
            }
            return .status(device: device, online: state == "online", reason: .status)
        case .commandResults:
            try Self.expectType(object, "command_result")
            object["type"] = .string("command_result")
            let id = object["id"].flatMap(MessageID.init)
            guard case .commandResult(let result) = try decoder.decodeMessage(object, id: id) else { return nil }
            return .commandResult(device: device, result)
        case .commands:
            return nil
        }
    }

    private static func bareStatus(_ payload: [UInt8]) -> String? {
        let text = String(decoding: payload, as: UTF8.self).trimmingWhitespace
        return text == "online" || text == "offline" ? text : nil
    }

    private static func expectType(_ object: JSONObject, _ type: String) throws(ProtocolError) {
        if let value = object["type"], value != .string(type) {
            throw .invalidMessage("'type' must be '\(type)' when given")
        }
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
