/// Limits the decoder enforces on one frame.
public struct DecoderLimits: Sendable, Equatable {
    /// Most messages in one batch (a JSON array frame).
    public var maxBatchMessages: Int
    /// Most samples in one `telemetry` message.
    public var maxSamplesPerMessage: Int
    /// Largest `meta` object of a `register`, in bytes of JSON.
    public var maxMetaBytes: Int
    /// Most rooms a `register` (or an MQTT `meta`) may declare.
    public var maxRooms: Int

    /// Creates limits; the defaults are 1,000 messages per batch, 10,000 samples per message, 4 KiB of meta and
    /// 64 rooms.
    public init(
        maxBatchMessages: Int = 1_000, maxSamplesPerMessage: Int = 10_000, maxMetaBytes: Int = 4_096,
        maxRooms: Int = 64
    ) {
        self.maxBatchMessages = maxBatchMessages
        self.maxSamplesPerMessage = maxSamplesPerMessage
        self.maxMetaBytes = maxMetaBytes
        self.maxRooms = maxRooms
    }
}

/// Decodes device frames into ``DeviceMessage`` values with precise errors.
///
/// A frame is one JSON object or an array of them (a batch). Each element of a batch is decoded on its own, so one
/// bad message yields one failure and the others still count; a message is accepted or rejected whole.
///
/// ```swift
/// let decoder = DeviceMessageDecoder()
/// for item in decoder.decode(frame: bytes) { ... }
/// ```
public struct DeviceMessageDecoder: Sendable {
    /// The limits enforced.
    public var limits: DecoderLimits

    /// Creates a decoder.
    public init(limits: DecoderLimits = DecoderLimits()) {
        self.limits = limits
    }

    /// Decodes one frame into its messages (or failures), in order.
    public func decode(frame: some Collection<UInt8>) -> [DecodedItem] {
        let document: JSONValue
        do {
            document = try JSONParser.parse(frame)
        } catch {
            return [.failure(id: nil, error)]
        }
        return decode(document: document)
    }

    /// Decodes an already parsed frame.
    public func decode(document: JSONValue) -> [DecodedItem] {
        FrameDecoding.items(
            document: document, maxBatchMessages: limits.maxBatchMessages,
            decode: { object, id throws(ProtocolError) in .message(try decodeMessage(object, id: id)) },
            failure: { id, error in .failure(id: id, error) })
    }

    /// Decodes one message object.
    public func decodeMessage(_ object: JSONObject, id: MessageID?) throws(ProtocolError) -> DeviceMessage {
        guard let typeValue = object["type"] else { throw .invalidMessage("missing field 'type'") }
        guard case .string(let type) = typeValue else { throw .invalidMessage("'type' must be a string") }
        switch type {
        case "register": return .register(try decodeRegister(object, id: id))
        case "telemetry": return .telemetry(try decodeTelemetry(object, id: id))
        case "command_result": return .commandResult(try decodeCommandResult(object, id: id))
        case "ping": return .ping(id: id)
        default: throw .unknownType(type)
        }
    }

    private func decodeRegister(_ object: JSONObject, id: MessageID?) throws(ProtocolError) -> DeviceMessage.Register {
        let device = try requiredName(object, "device")
        var kind = "generic"
        if let value = object["kind"] {
            guard case .string(let text) = value, !text.isEmpty, text.utf8.count <= Names.maxLength,
                !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            else {
                throw .invalidMessage("'kind' must be a string of 1 to 128 bytes without control characters")
            }
            kind = text
        }
        var rooms: [String] = []
        if let value = object["rooms"] {
            guard case .array(let elements) = value else {
                throw .invalidMessage("'rooms' must be an array of strings")
            }
            guard elements.count <= limits.maxRooms else {
                throw .tooLarge("'rooms' lists \(elements.count) rooms; the limit is \(limits.maxRooms)")
            }
            var seen = Set<String>()
            for element in elements {
                guard case .string(let room) = element, Names.isValidRoom(room), !room.contains("*") else {
                    throw .invalidMessage("invalid room name \(Self.describe(element))")
                }
                if seen.insert(room).inserted { rooms.append(room) }
            }
        }
        var meta = JSONObject()
        if let value = object["meta"] {
            guard case .object(let members) = value else { throw .invalidMessage("'meta' must be an object") }
            var writer = JSONWriter()
            writer.value(value)
            guard writer.bytes.count <= limits.maxMetaBytes else {
                throw .tooLarge("'meta' is \(writer.bytes.count) bytes of JSON; the limit is \(limits.maxMetaBytes)")
            }
            meta = members
        }
        var commands: [CommandSpec] = []
        if let value = object["commands"] {
            guard case .array(let elements) = value, elements.count <= 256 else {
                throw .invalidMessage("'commands' must be an array of at most 256 command names or objects")
            }
            for element in elements {
                let spec = try CommandSpec(json: element)
                if !commands.contains(where: { $0.name == spec.name }) { commands.append(spec) }
            }
        }
        return .init(id: id, device: device, kind: kind, rooms: rooms, meta: meta, commands: commands)
    }

    /// Decodes the body of a `telemetry` message (also used for HTTP and MQTT payloads, where `type` is optional).
    public func decodeTelemetry(_ object: JSONObject, id: MessageID?) throws(ProtocolError) -> DeviceMessage.Telemetry {
        var device: String?
        if object["device"] != nil { device = try requiredName(object, "device") }
        let defaultTS = try optionalTimestamp(object["ts"], field: "ts")
        var samples: [MetricSample] = []
        let metrics = object["metrics"]
        let list = object["samples"]
        if metrics == nil && list == nil {
            throw .invalidMessage("telemetry needs 'metrics' (an object) or 'samples' (an array)")
        }
        if let metrics {
            guard case .object(let members) = metrics else { throw .invalidMessage("'metrics' must be an object") }
            guard members.count <= limits.maxSamplesPerMessage else {
                throw .tooLarge(
                    "\(members.count) samples exceed the limit of \(limits.maxSamplesPerMessage) per message")
            }
            samples.reserveCapacity(members.count)
            for (name, value) in members.members {
                guard Names.isValidName(name) else { throw .invalidMessage("invalid metric name '\(name)'") }
                samples.append(MetricSample(metric: name, ts: defaultTS, value: try finiteValue(value, metric: name)))
            }
        }
        if let list {
            guard case .array(let elements) = list else { throw .invalidMessage("'samples' must be an array") }
            guard samples.count + elements.count <= limits.maxSamplesPerMessage else {
                throw .tooLarge(
                    "\(samples.count + elements.count) samples exceed the limit of \(limits.maxSamplesPerMessage) per message"
                )
            }
            samples.reserveCapacity(samples.count + elements.count)
            for (index, element) in elements.enumerated() {
                guard case .object(let sample) = element else {
                    throw .invalidMessage("samples[\(index)] must be an object")
                }
                guard let metricValue = sample["metric"] else {
                    throw .invalidMessage("samples[\(index)] is missing field 'metric'")
                }
                guard case .string(let metric) = metricValue, Names.isValidName(metric) else {
                    throw .invalidMessage("samples[\(index)].metric is not a valid metric name")
                }
                guard let value = sample["value"] else {
                    throw .invalidMessage("samples[\(index)] is missing field 'value'")
                }
                let ts = try optionalTimestamp(sample["ts"], field: "samples[\(index)].ts") ?? defaultTS
                samples.append(MetricSample(metric: metric, ts: ts, value: try finiteValue(value, metric: metric)))
            }
        }
        if samples.isEmpty { throw .invalidMessage("telemetry carries no samples") }
        return .init(id: id, device: device, samples: samples)
    }

    private func decodeCommandResult(_ object: JSONObject, id: MessageID?) throws(ProtocolError)
        -> DeviceMessage.CommandResult
    {
        guard let id else { throw .invalidMessage("command_result needs the command's 'id'") }
        guard let okValue = object["ok"] else { throw .invalidMessage("missing field 'ok'") }
        guard case .bool(let ok) = okValue else { throw .invalidMessage("'ok' must be a boolean") }
        var error: String?
        if let value = object["error"] {
            guard case .string(let text) = value else { throw .invalidMessage("'error' must be a string") }
            error = text
        }
        return .init(id: id, ok: ok, result: object["result"], error: error)
    }

    private func requiredName(_ object: JSONObject, _ field: String) throws(ProtocolError) -> String {
        guard let value = object[field] else { throw .invalidMessage("missing field '\(field)'") }
        guard case .string(let text) = value else { throw .invalidMessage("'\(field)' must be a string") }
        guard Names.isValidName(text) else {
            throw .invalidMessage("'\(field)' must match [A-Za-z0-9._:-]{1,128}, got '\(text.prefix(140))'")
        }
        return text
    }

    private func optionalTimestamp(_ value: JSONValue?, field: String) throws(ProtocolError) -> Int64? {
        guard let value else { return nil }
        guard case .number(let number) = value, number.isFinite, number == number.rounded(),
            number >= 0, number < 9_007_199_254_740_992
        else {
            throw .invalidMessage("'\(field)' must be a non-negative integer of Unix milliseconds")
        }
        return Int64(number)
    }

    private func finiteValue(_ value: JSONValue, metric: String) throws(ProtocolError) -> Double {
        guard case .number(let number) = value else {
            throw .invalidMessage("value of '\(metric)' must be a number, got \(value.typeName)")
        }
        guard number.isFinite else { throw .invalidMessage("value of '\(metric)' is not finite") }
        guard number.magnitude <= Sample.maxMagnitude else {
            throw .invalidMessage("value of '\(metric)' is larger in magnitude than 1e300")
        }
        return number
    }

    private static func describe(_ value: JSONValue) -> String {
        if case .string(let text) = value { return "'\(text.prefix(140))'" }
        return value.typeName
    }
}
