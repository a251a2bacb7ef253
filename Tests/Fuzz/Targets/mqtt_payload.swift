// Fuzz target: MQTTInboundDecoder.decode(topic:payload:). The input's first line (up to the first `\n`) is the topic,
// the rest the payload (no `\n`: the whole input is the topic and the payload is empty).
//
// Properties: decoding never traps; a refusal is `invalid_json`, `invalid_message` or `too_large` (the WebSocket
// limits); a topic outside the protocol is always refused; an accepted message is from the topic's device and holds
// what the WebSocket decoder promises (valid names, 1 to `maxSamplesPerMessage` finite samples of at most
// `Sample.maxMagnitude`, timestamps in 0...2^53-1, rooms without `*`); `commands` topics and empty payloads carry
// nothing.
import HubCore

private let decoder = MQTTInboundDecoder()
private let limits = DecoderLimits()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let (head, tail) = split(fuzzInput(data, size), at: UInt8(ascii: "\n"))
    let topic = String(decoding: head, as: UTF8.self)
    let payload = tail.map(Array.init) ?? []
    let parsedTopic = decoder.topics.parse(topic)
    if let (device, channel) = parsedTopic {
        require(Names.isValidName(device), "topic '\(topic)' parsed to device '\(device)'")
        let again = decoder.topics.parse(decoder.topics.topic(device, channel))
        require(again?.device == device && again?.channel == channel, "topic '\(topic)' does not round-trip")
    }
    let message: MQTTDeviceMessage?
    do {
        message = try decoder.decode(topic: topic, payload: payload)
    } catch {
        require([.invalidJSON, .invalidMessage, .tooLarge].contains(error.code), "refused with \(error.code)")
        return 0
    }
    guard let (device, channel) = parsedTopic else {
        require(false, "topic '\(topic)' outside the protocol was accepted")
        return 0
    }
    if payload.isEmpty || channel == .commands {
        require(
            message == nil,
            "\(channel.rawValue) with payload of \(payload.count) bytes decoded to \(String(describing: message))")
    }
    guard let message else { return 0 }
    require(message.device == device, "message from '\(message.device)' on the topic of '\(device)'")
    switch message {
    case .telemetry(_, let samples):
        require(channel == .telemetry, "telemetry from \(channel.rawValue)")
        require(!samples.isEmpty && samples.count <= limits.maxSamplesPerMessage, "\(samples.count) samples")
        for sample in samples {
            require(Names.isValidName(sample.metric), "invalid metric '\(sample.metric)'")
            require(sample.value.isFinite && sample.value.magnitude <= Sample.maxMagnitude, "value \(sample.value)")
            if let ts = sample.ts { require(isValidTimestamp(ts), "timestamp \(ts) accepted") }
        }
    case .meta(let register):
        require(channel == .meta, "meta from \(channel.rawValue)")
        require(register.id == nil || register.id!.isValid, "invalid id")
        for room in register.rooms {
            require(Names.isValidRoom(room) && !room.contains("*"), "invalid room '\(room)'")
        }
        require(register.rooms.count <= limits.maxRooms, "\(register.rooms.count) rooms over the limit")
        require(!register.kind.isEmpty && register.kind.utf8.count <= Names.maxLength, "kind '\(register.kind)'")
        require(JSONValue.object(register.meta).jsonBytes.count <= limits.maxMetaBytes, "meta too large")
    case .status:
        require(channel == .status, "status from \(channel.rawValue)")
    case .commandResult(_, let result):
        require(channel == .commandResults, "command result from \(channel.rawValue)")
        require(result.id.isValid, "invalid command id")
    }
    return 0
}
