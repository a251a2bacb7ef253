// Fuzz target: DeviceMessageDecoder.decode(frame:) on arbitrary bytes, with the default limits and with small ones
// (so the limit checks are reached by small inputs).
//
// Properties of every decoded frame:
// - one item per batch element (a batch over the limit or an empty one: one failure), never none;
// - a batch decodes element by element: item i is what decoding element i on its own gives;
// - every accepted message holds what the decoder promises: valid names; at most `maxRooms` distinct rooms without
//   `*`; a `kind` of 1 to 128 bytes without control characters; `meta` within `maxMetaBytes` of JSON; at most 256
//   distinct commands; 1 to `maxSamplesPerMessage` samples with finite values of at most `Sample.maxMagnitude` and
//   timestamps in 0...2^53-1; ids that are strings or finite numbers.
import HubCore

private let decoders = [
    DeviceMessageDecoder(),
    DeviceMessageDecoder(
        limits: DecoderLimits(maxBatchMessages: 3, maxSamplesPerMessage: 4, maxMetaBytes: 32, maxRooms: 2)),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    let document = try? JSONParser.parse(bytes)
    for decoder in decoders {
        let items = decoder.decode(frame: bytes)
        require(!items.isEmpty, "no items")
        require(items.count <= decoder.limits.maxBatchMessages, "\(items.count) items over the batch limit")
        for item in items {
            switch item {
            case .message(let message): check(message, decoder.limits)
            case .failure(let id, let error):
                require(id?.isValid ?? true, "failure with invalid id \(String(describing: id))")
                require(!error.message.isEmpty, "failure without a message")
            }
        }
        guard let document else {
            require(items.count == 1, "unparsable frame gave \(items.count) items")
            if case .failure(nil, let error) = items[0] {
                require(error.code == .invalidJSON, "unparsable frame gave \(error.code)")
            } else {
                require(false, "unparsable frame gave \(items[0])")
            }
            continue
        }
        require(same(decoder.decode(document: document), items), "decode(frame:) and decode(document:) differ")
        if case .array(let elements) = document, !elements.isEmpty, elements.count <= decoder.limits.maxBatchMessages {
            require(items.count == elements.count, "batch of \(elements.count) gave \(items.count) items")
            for (element, item) in zip(elements, items) {
                if case .array = element {
                    // A nested array is not a message.
                    guard case .failure(nil, let error) = item, error.code == .invalidMessage else {
                        require(false, "nested array decoded as \(item)")
                        return 0
                    }
                } else {
                    require(same(decoder.decode(document: element), [item]), "batch element decodes differently alone")
                }
            }
        }
    }
    return 0
}

/// Equality that also holds for NaN (which `meta` and a command's `result` may carry): by description.
private func same(_ a: [DecodedItem], _ b: [DecodedItem]) -> Bool {
    a == b || String(describing: a) == String(describing: b)
}

private func check(_ message: DeviceMessage, _ limits: DecoderLimits) {
    require(message.id?.isValid ?? true, "invalid id \(String(describing: message.id))")
    switch message {
    case .register(let register):
        require(Names.isValidName(register.device), "invalid device '\(register.device)'")
        require(
            !register.kind.isEmpty && register.kind.utf8.count <= Names.maxLength
                && !register.kind.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F },
            "invalid kind '\(register.kind)'")
        for room in register.rooms {
            require(Names.isValidRoom(room) && !room.contains("*"), "invalid room '\(room)'")
        }
        require(Set(register.rooms).count == register.rooms.count, "duplicate rooms \(register.rooms)")
        require(register.rooms.count <= limits.maxRooms, "\(register.rooms.count) rooms over the limit")
        require(
            JSONValue.object(register.meta).jsonBytes.count <= limits.maxMetaBytes,
            "meta over \(limits.maxMetaBytes) bytes")
        require(register.commands.count <= 256, "\(register.commands.count) commands")
        require(Set(register.commands.map(\.name)).count == register.commands.count, "duplicate commands")
    case .telemetry(let telemetry):
        if let device = telemetry.device { require(Names.isValidName(device), "invalid device '\(device)'") }
        require(
            !telemetry.samples.isEmpty && telemetry.samples.count <= limits.maxSamplesPerMessage,
            "\(telemetry.samples.count) samples")
        for sample in telemetry.samples {
            require(Names.isValidName(sample.metric), "invalid metric '\(sample.metric)'")
            require(
                sample.value.isFinite && sample.value.magnitude <= Sample.maxMagnitude,
                "value \(sample.value) accepted")
            if let ts = sample.ts { require(isValidTimestamp(ts), "timestamp \(ts) accepted") }
        }
    case .commandResult(let result):
        require(result.id.isValid, "invalid command id")
    case .ping:
        break
    }
}
