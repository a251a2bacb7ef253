@testable import HubCore

/// Parses `text`, returning the error it throws (nil when it parses).
func parseError(_ text: String) -> ProtocolError? {
    do {
        _ = try JSONParser.parse(text)
        return nil
    } catch {
        return error
    }
}

/// Parses JSON that the test knows to be valid.
func json(_ text: String) throws -> JSONValue {
    try JSONParser.parse(text)
}

/// Builds an object value from members in order.
func object(_ members: (String, JSONValue)...) -> JSONValue {
    .object(JSONObject(members.map { (key: $0.0, value: $0.1) }))
}

/// Decodes a frame given as text.
func decode(_ text: String, limits: DecoderLimits = DecoderLimits()) -> [DecodedItem] {
    DeviceMessageDecoder(limits: limits).decode(frame: Array(text.utf8))
}

/// The single failure a frame decodes to, or nil when it is not exactly one failure.
func singleFailure(_ text: String, limits: DecoderLimits = DecoderLimits()) -> (id: MessageID?, error: ProtocolError)? {
    let items = decode(text, limits: limits)
    guard items.count == 1, case .failure(let id, let error) = items[0] else { return nil }
    return (id, error)
}

/// The single message a frame decodes to, or nil when it is not exactly one message.
func singleMessage(_ text: String, limits: DecoderLimits = DecoderLimits()) -> DeviceMessage? {
    let items = decode(text, limits: limits)
    guard items.count == 1, case .message(let message) = items[0] else { return nil }
    return message
}
